"""``$connect``/``$disconnect`` run beside the message handlers, not behind them.

On AWS every invocation gets its own execution environment: one client flooding messages
does not make another client's handshake wait. The emulator's message handlers share a
bounded pool, so the connection lifecycle gets a lane of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from websockets.sync.client import connect

from support import ThreadedEmulator, wait_until
from wsgate.local.invoke import AppSpec

from .conftest import Recorder


def test_a_message_flood_does_not_hold_up_another_clients_connect(
    start_emulator: Callable[..., ThreadedEmulator], recorder: Recorder
) -> None:
    release = threading.Event()
    finished: list[int] = []

    def slow_message(event: dict[str, Any], context: Any) -> Any:
        release.wait(20)  # every message worker stays busy until the test says so
        finished.append(1)
        return {"statusCode": 200}

    recorder.on["MESSAGE"] = slow_message
    running = start_emulator(AppSpec.from_object(recorder), max_workers=4)
    try:
        with connect(running.ws_url) as flooder:
            for n in range(40):
                flooder.send(f"m{n}")
            wait_until(lambda: len(recorder.of("MESSAGE")) >= 4, message="4 busy workers")
            # 36 messages now wait for a worker; a second client connects and leaves anyway.
            with connect(running.ws_url, open_timeout=10):
                late_id = recorder.of("CONNECT")[-1]["requestContext"]["connectionId"]
            wait_until(
                lambda: any(
                    e["requestContext"]["connectionId"] == late_id
                    for e in recorder.of("DISCONNECT")
                ),
                message="the late client's $disconnect",
            )
            assert finished == []  # the flood is still held: the lifecycle went beside it
            release.set()
            wait_until(lambda: len(finished) == 40, message="the whole flood handled")
    finally:
        release.set()


def test_a_stop_drops_queued_messages_but_never_connection_lifecycle_calls() -> None:
    import asyncio

    from wsgate.local.invoke import Invoker, Outcome

    release = threading.Event()
    running: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        running.append(event["kind"])
        release.wait(20)
        return event["kind"]

    app = AppSpec.from_object(handler)
    invoker = Invoker(max_workers=4)  # 4 message workers, 4 lifecycle workers

    async def main() -> list[Outcome]:
        outcomes: list[Outcome] = []
        for n in range(10):  # 4 run, 6 wait for a worker
            invoker.submit(app, {"kind": "message"}, f"m{n}", 30, outcomes.append)
        lifecycle = [
            asyncio.ensure_future(
                invoker.invoke(app, {"kind": "disconnect"}, f"d{n}", 30, control=True)
            )
            for n in range(5)  # 4 run, 1 waits for a lifecycle worker
        ]
        for _ in range(1000):  # until every worker of both lanes holds a call
            if len(running) == 8:
                break
            await asyncio.sleep(0.01)
        assert sorted(running) == ["disconnect"] * 4 + ["message"] * 4
        assert invoker.cancel_queued() == 6  # only the waiting messages
        release.set()
        done = await asyncio.gather(*lifecycle)
        while len(outcomes) < 10:
            await asyncio.sleep(0.01)
        return [*done, *outcomes]

    try:
        results = asyncio.run(main())
    finally:
        release.set()
        invoker.shutdown()
    kinds = sorted((o.kind, o.result) for o in results)
    assert kinds.count(("ok", "disconnect")) == 5  # every lifecycle call ran
    assert kinds.count(("ok", "message")) == 4
    assert sum(1 for kind, _ in kinds if kind == "error") == 6
