"""Benchmark of the testing toolkit: how long one in-process test of the chat example takes.

Runs the very test functions of ``tests/testing/test_chat.py`` (join, message to the room,
leave, close, two-way, server push, server-side disconnect), each with a fresh
``WebSocketTestClient`` and in-memory registry as the ``wsgate_client`` fixture builds them
(setup + test body + teardown timed together). The baseline, measured in the same run, is the
same test body against ``wsgate serve examples/chat/app.py`` over real sockets (the server
started once beforehand, so its start-up is not counted).

Run: ``.venv/bin/python bench/bench_testing.py [--repeat 50] [--remote-repeat 3] [--write]``;
``--write`` replaces the ``## Testing`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import write_section

ROOT = Path(__file__).resolve().parent.parent
CHAT_APP = ROOT / "examples" / "chat" / "app.py"
CHAT_TESTS = ROOT / "tests" / "testing" / "test_chat.py"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Testing"


def chat_tests() -> dict[str, Callable[[Any], None]]:
    """The ``test_*(chat)`` functions of tests/testing/test_chat.py (run on both transports)."""
    spec = importlib.util.spec_from_file_location("bench_chat_tests", CHAT_TESTS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {
        name: func
        for name, func in inspect.getmembers(module, inspect.isfunction)
        if name.startswith("test_") and list(inspect.signature(func).parameters) == ["chat"]
    }


def time_in_process(app: Any, test: Callable[[Any], None]) -> float:
    """Milliseconds for fixture setup + test + teardown, as ``wsgate_client`` runs them."""
    from wsgate.registry import open_registry
    from wsgate.testing import WebSocketTestClient

    start = time.perf_counter()
    registry = open_registry("memory://")
    with WebSocketTestClient(app, registry=registry) as client:
        test(client)
    registry.close()
    return (time.perf_counter() - start) * 1000


def time_remote(client: Any, test: Callable[[Any], None]) -> float:
    start = time.perf_counter()
    test(client)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="in-process runs per test")
    parser.add_argument("--remote-repeat", type=int, default=3, help="runs per test over TCP")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    os.environ["WSGATE_METRICS"] = "off"  # EMF lines on stdout would only add noise
    load_before = os.getloadavg()[0]

    from wsgate.local.invoke import load_app
    from wsgate.testing import RemoteTestClient

    app = load_app(str(CHAT_APP)).handler.__self__  # type: ignore[attr-defined]
    tests = chat_tests()
    for test in tests.values():  # warm-up: imports, the sender's loop thread
        time_in_process(app, test)

    local: dict[str, list[float]] = {name: [] for name in tests}
    for _ in range(args.repeat):  # interleaved, so machine load spreads over every test
        for name, test in tests.items():
            local[name].append(time_in_process(app, test))

    remote: dict[str, list[float]] = {name: [] for name in tests}
    with RemoteTestClient.start(str(CHAT_APP)) as client:
        for name, test in tests.items():
            time_remote(client, test)  # warm-up (boto3 import on first server push)
            for _ in range(args.remote_repeat):
                remote[name].append(time_remote(client, test))

    rows = []
    for name in tests:
        median = statistics.median(local[name])
        worst = max(local[name])
        p95 = sorted(local[name])[int(0.95 * (len(local[name]) - 1))]
        base = statistics.median(remote[name])
        rows.append(
            f"| `{name}` | {median:.1f} | {p95:.1f} | {worst:.1f} | {base:.1f} "
            f"| {median / base:.3f} |"
        )
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "python bench/bench_testing.py"
    command += f" --repeat {args.repeat} --remote-repeat {args.remote_repeat} --write"
    section = "\n".join(
        [
            SECTION,
            "",
            f"Command: `{command}` (CPython {platform.python_version()}, "
            f"{os.cpu_count()} CPUs shared with other work; {stamp}; load average "
            f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after).",
            "",
            "Each test of `tests/testing/test_chat.py` (the chat example: join, message to the "
            "room, leave, ...), in process: a fresh `WebSocketTestClient` and in-memory "
            "registry per run, setup + body + teardown timed together, "
            f"{args.repeat} interleaved runs. Baseline: the same test body against "
            f"`wsgate serve examples/chat/app.py` over real sockets (median of "
            f"{args.remote_repeat}, server already running). Target: every in-process test "
            "under 50 ms.",
            "",
            "| test | in-process median ms | p95 ms | max ms | over `wsgate serve` ms "
            "(baseline) | ratio in-process / serve |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            "Cross-check with pytest's own timing (setup, call and teardown each listed):",
            "`pytest tests/testing/test_chat.py -k inprocess --durations=0 -q`.",
            "",
        ]
    )
    print(section)
    if args.write:
        write_section(SECTION, section)


if __name__ == "__main__":
    sys.exit(main())
