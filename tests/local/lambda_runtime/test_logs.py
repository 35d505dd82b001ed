"""Function output: bounded lines, a bounded backlog, and a function that prints forever."""

from __future__ import annotations

import threading
from collections.abc import Callable

from support import wait_until
from wsgate.local.lambda_runtime import FunctionPool
from wsgate.local.lambda_runtime.logs import LineSplitter, LogPump

from .conftest import LogLines


def test_splitter_joins_chunks_and_cuts_long_lines() -> None:
    splitter = LineSplitter(max_line=10)
    assert splitter.feed(b"hel") == []
    assert splitter.feed(b"lo\r\nwor") == ["hello"]
    assert splitter.feed(b"ld\n" + b"y" * 25 + b"\nz") == [
        "world",
        "y" * 10 + " …[15 more bytes cut]",
    ]
    assert splitter.feed(b"\xff\n") == ["z\ufffd"]
    assert splitter.flush() == []
    splitter.feed(b"tail")
    assert splitter.flush() == ["tail"]


def test_pump_drops_beyond_its_backlog_and_says_so() -> None:
    release = threading.Event()
    got: list[str] = []

    def slow(name: str, line: str) -> None:
        release.wait(10)
        got.append(line)

    pump = LogPump(max_backlog=100)
    try:
        for n in range(1000):
            pump.put(slow, "F", f"line {n:04d}")  # 9 chars each
        assert pump._size <= 100
        release.set()
        wait_until(lambda: any("dropped" in line for line in got), 10, "the dropped notice")
    finally:
        pump.close()
    assert len(got) < 30
    assert any(line.startswith("[wsgate] ") and "dropped" in line for line in got)


def test_a_function_printing_forever_stays_bounded(
    make_pool: Callable[..., FunctionPool], logs: LogLines
) -> None:
    gate = threading.Event()

    def stuck(name: str, line: str) -> None:  # a terminal that stopped reading
        gate.wait(20)
        logs(name, line)

    pool = make_pool(
        {
            "app.py": """
                import sys
                def handler(event, context):
                    for n in range(200_000):
                        print("spam" * 20, n)
                    print("x" * 100_000)
                    return "done"
            """
        },
        log=stuck,
        timeout=60,
    )
    try:
        result = pool.invoke({})
        assert result.error is None and result.payload == "done"
        pump = pool._service.logs  # type: ignore[union-attr]
        assert pump._size <= pump.max_backlog
    finally:
        gate.set()
    wait_until(lambda: any("dropped" in line for line in logs.of("Fn")), 20, "dropped notice")
    assert all(len(line.encode()) < 17 * 1024 for line in logs.of("Fn"))
