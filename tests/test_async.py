"""``async def`` handlers, middleware and exception handlers run inside the invocation."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wsgate import (
    ConnectEvent,
    LambdaContext,
    MessageEvent,
    Response,
    WebSocketApp,
    WebSocketEvent,
    current_event,
    reject,
)
from wsgate.router import CallNext

EVENTS = Path(__file__).parent / "events"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def message(body: dict[str, Any]) -> dict[str, Any]:
    raw = load("message_custom.json")
    raw["body"] = json.dumps({"action": "sendmessage", **body})
    return raw


def test_async_handler_runs_to_completion_inside_the_invocation() -> None:
    app = WebSocketApp()
    steps: list[str] = []

    @app.route("sendmessage", two_way=True)
    async def send(event: MessageEvent, context: Any) -> dict[str, Any]:
        steps.append("start")
        await asyncio.sleep(0.01)
        steps.append("after sleep")
        task = asyncio.ensure_future(asyncio.sleep(0, result="task done"))
        steps.append(await task)
        current = current_event()
        assert current is not None
        return {"echo": event.json["n"], "me": current.connection_id, "ctx": context.function_name}

    out = app(message({"n": 3}), LambdaContext("fn"))
    assert out == {
        "statusCode": 200,
        "body": '{"echo":3,"me":"R1kmxc2VNjMCFIA=","ctx":"fn"}',
    }
    assert steps == ["start", "after sleep", "task done"]


def test_one_loop_reused_across_warm_invocations() -> None:
    app = WebSocketApp()
    loops: list[asyncio.AbstractEventLoop] = []

    @app.route("sendmessage")
    async def send(event: MessageEvent) -> None:
        loops.append(asyncio.get_running_loop())

    for _ in range(3):
        assert app(message({}))["statusCode"] == 200
    assert len(loops) == 3 and loops[0] is loops[1] is loops[2]
    assert not loops[0].is_closed() and not loops[0].is_running()


def test_an_async_crash_is_a_lambda_error() -> None:
    app = WebSocketApp()

    @app.route("sendmessage")
    async def send(event: MessageEvent) -> None:
        await asyncio.sleep(0)
        raise LookupError("async bug")

    with pytest.raises(LookupError, match="async bug"):
        app(message({}))


def test_async_connect_can_reject() -> None:
    app = WebSocketApp()

    @app.connect
    async def on_connect(event: ConnectEvent) -> Response | None:
        await asyncio.sleep(0)
        return reject(401) if "token" not in event.query_params else None

    assert app(load("connect_no_query.json")) == {"statusCode": 401}
    assert app(load("connect_query.json")) == {"statusCode": 200}


def test_async_middleware_wraps_sync_and_async_layers_in_order() -> None:
    app = WebSocketApp()
    order: list[str] = []

    @app.middleware
    async def outer(event: WebSocketEvent, call_next: Any) -> Response:
        order.append("outer in")
        await asyncio.sleep(0)
        response: Response = await call_next(event)
        order.append("outer out")
        response.headers["x-outer"] = "1"
        return response

    @app.middleware
    def middle(event: WebSocketEvent, call_next: CallNext) -> Response:
        order.append("middle in")
        response = call_next(event)
        order.append("middle out")
        return response

    @app.middleware
    async def inner(event: WebSocketEvent, call_next: Any) -> Any:
        order.append("inner in")
        if event.json.get("early"):
            return {"statusCode": 200, "body": "early"}
        response = await call_next(event)
        order.append("inner out")
        return response

    @app.route("sendmessage", two_way=True)
    async def send(event: MessageEvent) -> str:
        order.append("handler")
        return "done"

    out = app(message({}))
    assert out == {"statusCode": 200, "headers": {"x-outer": "1"}, "body": "done"}
    assert order == [
        "outer in",
        "middle in",
        "inner in",
        "handler",
        "inner out",
        "middle out",
        "outer out",
    ]
    order.clear()
    assert app(message({"early": True}))["body"] == "early"
    assert order == ["outer in", "middle in", "inner in", "middle out", "outer out"]


def test_async_middleware_sees_the_handlers_exception() -> None:
    app = WebSocketApp()
    seen: list[str] = []

    @app.middleware
    async def watch(event: WebSocketEvent, call_next: Any) -> Any:
        try:
            return await call_next(event)
        except KeyError as exc:
            seen.append(repr(exc))
            raise

    app.route("sendmessage")(lambda e: {}["missing"])
    with pytest.raises(KeyError):
        app(message({}))
    assert seen == ["KeyError('missing')"]


def test_async_exception_handler() -> None:
    app = WebSocketApp()

    @app.exception_handler(ValueError)
    async def bad_value(event: WebSocketEvent, exc: ValueError) -> Response:
        await asyncio.sleep(0)
        return Response(400, str(exc))

    @app.route("sendmessage")
    async def send(event: MessageEvent) -> None:
        raise ValueError("no good")

    assert app(message({})) == {"statusCode": 400, "body": "no good"}


def test_dispatch_from_inside_a_running_loop() -> None:
    app = WebSocketApp()

    @app.route("sendmessage", two_way=True)
    async def send(event: MessageEvent) -> str:
        await asyncio.sleep(0)
        assert current_event() is not None
        return "ok"

    async def caller() -> dict[str, Any]:
        return app(message({}))  # e.g. an async test calling the sync Lambda entry point

    assert asyncio.run(caller())["body"] == "ok"


def test_threads_each_get_a_working_loop() -> None:
    app = WebSocketApp()

    @app.route("sendmessage", two_way=True)
    async def send(event: MessageEvent) -> str:
        await asyncio.sleep(0.01)
        return str(event.json["n"])

    results: dict[int, str] = {}

    def run(n: int) -> None:
        for _ in range(3):
            results[n] = app(message({"n": n}))["body"]

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {n: str(n) for n in range(4)}


def test_sync_dispatch_still_loads_no_asyncio_and_async_loads_it_lazily() -> None:
    script = """
import json, sys
import wsgate
from wsgate.gateway import ws_send_message_async
app = wsgate.WebSocketApp()

@app.route("sync")
def sync_route(event):
    return None

@app.route("sendmessage", two_way=True)
async def send(event):
    return "async"

raw = json.load(open(sys.argv[1]))
raw["body"] = '{"action": "sync"}'
raw["requestContext"]["routeKey"] = "sync"
app(raw)
before = "asyncio" in sys.modules
raw["body"] = '{"action": "sendmessage"}'
raw["requestContext"]["routeKey"] = "sendmessage"
out = app(raw)
print(json.dumps({"before": before, "after": "asyncio" in sys.modules, "out": out}))
"""
    src = Path(__file__).resolve().parents[1] / "src"  # this checkout's wsgate, not another
    proc = subprocess.run(
        [sys.executable, "-c", script, str(EVENTS / "message_custom.json")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(src), "WSGATE_METRICS": "off"},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result == {
        "before": False,
        "after": True,
        "out": {"statusCode": 200, "body": "async"},
    }


@dataclass
class Shout:
    text: str


def test_async_handler_with_a_typed_body() -> None:
    app = WebSocketApp(observe=False)

    @app.route("sendmessage", two_way=True)
    async def send(event: MessageEvent, body: Shout) -> str:
        await asyncio.sleep(0)
        return body.text.upper()

    assert app(message({"text": "hi"})) == {"statusCode": 200, "body": "HI"}
    refused = app(message({"text": 3}))  # refused before the handler: not a crash
    assert refused["statusCode"] == 400
