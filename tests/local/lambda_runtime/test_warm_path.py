"""The warm path without a worker thread (``invoke_nowait``, a lent loop) and other runtime
clients against the same Runtime API (AWS's ``awslambdaric``)."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wsgate.local.lambda_runtime import FunctionPool
from wsgate.local.lambda_runtime.launch import Launch

from .conftest import APP, PYTHON, LogLines, Spec, write_tree

FnFactory = Callable[..., FunctionPool]


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A running loop in a thread of its own, as the emulator's is."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    loop.close()


def on(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on the loop's thread and return what it returned."""

    async def call() -> Any:
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), loop).result(30)


def test_nowait_needs_a_warm_instance_then_uses_it(make_pool: FnFactory) -> None:
    pool = make_pool(APP)
    assert pool.invoke_nowait({"n": 0}) is None  # a cold start blocks: not done here
    assert pool.instances == 0
    first = pool.invoke({"n": 1})
    started = pool.invoke_nowait({"n": 2})
    assert started is not None
    second = started.result(30)
    assert second.error is None and second.payload["event"] == {"n": 2}
    assert second.cold is False and second.payload["pid"] == first.payload["pid"]
    assert second.request_id != first.request_id


def test_nowait_while_the_only_instance_is_busy_is_none(make_pool: FnFactory) -> None:
    pool = make_pool(APP, max_instances=1)
    pool.invoke({"n": 1})
    busy = pool.invoke_nowait({"sleep": 1})
    assert busy is not None
    assert pool.invoke_nowait({"n": 2}) is None
    assert busy.result(30).error is None
    assert pool.instances == 1


def test_nowait_timeout_then_a_new_instance(make_pool: FnFactory) -> None:
    pool = make_pool(APP, timeout=1)
    first = pool.invoke({"n": 1})
    started = pool.invoke_nowait({"sleep": 5})
    assert started is not None
    timed_out = started.result(30)
    assert timed_out.timed_out and timed_out.error is not None
    assert timed_out.error["errorType"] == "Sandbox.Timedout"
    after = pool.invoke({"n": 2})
    assert after.cold and after.payload["pid"] != first.payload["pid"]


def test_nowait_on_a_crashed_warm_instance_retries_on_a_new_one(make_pool: FnFactory) -> None:
    pool = make_pool(APP)
    first = pool.invoke({"n": 1})
    crashed = pool.invoke({"exit": True})
    assert crashed.error is not None and crashed.error["errorType"] == "Runtime.ExitError"
    pool.invoke({"n": 2})  # a new instance, now warm
    started = pool.invoke_nowait({"n": 3})
    assert started is not None
    result = started.result(30)
    assert result.error is None and result.payload["pid"] != first.payload["pid"]


def test_a_lent_loop_serves_the_runtime_api(
    make_pool: FnFactory, loop: asyncio.AbstractEventLoop
) -> None:
    pool = make_pool(APP, loop=loop)
    first = pool.invoke({"n": 1})  # the cold start: from a thread, as the emulator's workers
    started = on(loop, lambda: pool.invoke_nowait({"n": 2}))  # on the loop: no hand-off
    assert started is not None
    second = started.result(30)
    assert second.error is None and second.payload["pid"] == first.payload["pid"]
    on(loop, pool.restart)  # --reload runs on the emulator's loop: it must not wait for itself
    third = pool.invoke({"n": 3})
    assert third.cold and third.payload["pid"] != first.payload["pid"]
    pool.close()
    assert pool.instances == 0


def test_a_blocking_call_on_the_lent_loop_fails_instead_of_hanging(
    make_pool: FnFactory, loop: asyncio.AbstractEventLoop
) -> None:
    pool = make_pool(APP, loop=loop)
    result = on(loop, lambda: pool.invoke({"n": 1}))
    assert result.error is not None and "own loop" in result.error["errorMessage"]


class RicPool(FunctionPool):
    """The same pool with AWS's runtime interface client as the process's runtime."""

    def _launch(self, address: str) -> Launch:
        launch = super()._launch(address)
        argv = (sys.executable, "-m", "awslambdaric", self.spec.handler)
        return Launch(argv, launch.cwd, launch.env)


@pytest.mark.skipif(
    importlib.util.find_spec("awslambdaric") is None, reason="awslambdaric (dev extra)"
)
def test_awslambdaric_speaks_to_the_runtime_api(tmp_path: Path, logs: LogLines) -> None:
    files = {
        "app.py": """
            import os

            def handler(event, context):
                if event.get("fail"):
                    raise ValueError("bad " + event["fail"])
                return {"pid": os.getpid(), "event": event, "id": context.aws_request_id}
        """
    }
    root = write_tree(tmp_path / "ric", files)
    pool = RicPool(Spec("Ric", "Ric", PYTHON, "app.handler", root, {}, 10.0), log=logs)
    try:
        _ric_calls(pool)
    finally:
        pool.close()


def _ric_calls(pool: FunctionPool) -> None:
    first = pool.invoke({"n": 1})
    assert first.error is None, first.error
    assert first.payload["event"] == {"n": 1} and first.payload["id"] == first.request_id
    started = pool.invoke_nowait({"n": 2})
    assert started is not None
    second = started.result(30)
    assert second.error is None and second.payload["pid"] == first.payload["pid"]
    failed = pool.invoke({"fail": "input"})
    assert failed.error is not None
    assert failed.error["errorType"] == "ValueError"
    assert failed.error["errorMessage"] == "bad input"
