"""Benchmark the local Lambda runtime (``wsgate.local.lambda_runtime``), each figure a ratio.

- cold start: one call to a fresh instance of a Python function that imports boto3 (process
  start, Runtime API, init, one invocation), against ``python -c 'import boto3'`` run in the same
  loop (the issue's goal: at most 1.5x); the same with AWS's ``awslambdaric`` as the runtime
  client instead of wsgate's stdlib bootstrap (why the bootstrap is wsgate's own);
- warm round trip: ``FunctionPool.invoke`` on a warm instance against calling the same handler
  in-process, directly and through a thread pool (as the in-process emulator runs handlers);
- Node.js: cold start of a function against ``node -e 0``, and its warm round trip.

Runs are interleaved (baseline, contender, baseline, ...) and medians compared. Run::

    .venv/bin/python bench/bench_lambda_runtime.py            # prints a Markdown table
    .venv/bin/python bench/bench_lambda_runtime.py --write    # also updates bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import write_section

from wsgate.local.lambda_runtime import FunctionPool
from wsgate.local.lambda_runtime.launch import Launch

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Lambda runtime (functions in their own processes)"
PYTHON = f"python{sys.version_info[0]}.{sys.version_info[1]}"
APP = """
import boto3

def handler(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""
NODE_APP = "exports.handler = async (event) => ({ statusCode: 200, body: event.body });\n"
NOTES = [
    "A cold start is timed from `invoke` until its response arrives (process start, Runtime"
    " API endpoint, init with `import boto3`, one invocation; the instance then stays warm);"
    " the baseline is timed until its process has exited. The issue's goal"
    " for the cold start is a ratio of at most 1.5. The warm round trip is one invocation over"
    " the Runtime API (two HTTP exchanges on loopback and two thread hand-offs); the issue's"
    " 2x goal for it is measured end to end through the emulator (a WebSocket message to a"
    " function and back), where this cost sits beside the WebSocket round trip.",
]
EVENT = {"requestContext": {"routeKey": "$default", "connectionId": "abc="}, "body": "x" * 200}


@dataclass(frozen=True)
class Spec:
    logical_id: str
    name: str
    runtime: str
    handler: str
    code_root: Path
    environment: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    memory_mb: int = 128
    arn: str = ""


class RicPool(FunctionPool):
    """The same pool, with AWS's runtime interface client in the process instead."""

    def _launch(self, address: str) -> Launch:
        launch = super()._launch(address)
        return Launch((sys.executable, "-m", "awslambdaric", "app.handler"), launch.cwd, launch.env)


def quiet(name: str, line: str) -> None:
    pass


def timed(fn: Any) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def cold_starts(pool: FunctionPool, runs: int, baseline: list[str]) -> tuple[float, float]:
    cold, bare = [], []
    for _ in range(runs):
        pool.restart()
        result_ms = timed(lambda: _check(pool.invoke(EVENT), cold=True))
        cold.append(result_ms)
        bare.append(timed(lambda: subprocess.run(baseline, check=True)))
    return statistics.median(cold), statistics.median(bare)


def _check(result: Any, *, cold: bool | None = None) -> None:
    assert result.error is None, result.error
    assert cold is None or result.cold is cold


def warm(pool: FunctionPool, calls: int) -> float:
    _check(pool.invoke(EVENT))
    samples = [timed(lambda: _check(pool.invoke(EVENT), cold=False)) for _ in range(calls)]
    return statistics.median(samples)


def in_process(root: Path, calls: int) -> tuple[float, float]:
    spec = importlib.util.spec_from_file_location("bench_app", root / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler = module.handler
    direct = statistics.median(timed(lambda: handler(EVENT, None)) for _ in range(calls))
    with ThreadPoolExecutor(4) as pool:
        threaded = statistics.median(
            timed(lambda: pool.submit(handler, EVENT, None).result()) for _ in range(calls)
        )
    return direct, threaded


def run(args: argparse.Namespace) -> str:
    work = Path(tempfile.mkdtemp(prefix="wsgate-bench-runtime-"))
    (work / "py").mkdir()
    (work / "py" / "app.py").write_text(APP)
    (work / "node").mkdir()
    (work / "node" / "index.js").write_text(NODE_APP)
    py = Spec("Py", "Py", PYTHON, "app.handler", work / "py")
    rows: list[str] = []
    try:
        pool = FunctionPool(py, log=quiet)
        try:
            cold, bare = cold_starts(pool, args.runs, [sys.executable, "-c", "import boto3"])
            warm_ms = warm(pool, args.calls)
        finally:
            pool.close()
        rows.append(
            f"| cold start, Python function importing boto3 (wsgate bootstrap) | {cold:.1f} ms "
            f"| `python -c 'import boto3'` {bare:.1f} ms | {cold / bare:.2f} |"
        )
        if importlib.util.find_spec("awslambdaric") is not None:
            ric = RicPool(py, log=quiet)
            try:
                ric_cold, ric_bare = cold_starts(
                    ric, args.runs, [sys.executable, "-c", "import boto3"]
                )
            finally:
                ric.close()
            rows.append(
                f"| cold start, same function under `awslambdaric` | {ric_cold:.1f} ms "
                f"| `python -c 'import boto3'` {ric_bare:.1f} ms | {ric_cold / ric_bare:.2f} |"
            )
        direct, threaded = in_process(work / "py", args.calls)
        rows.append(
            f"| warm invoke round trip, Python | {warm_ms * 1000:.0f} µs "
            f"| direct in-process call {direct * 1000:.1f} µs | {warm_ms / direct:.0f} |"
        )
        rows.append(
            f"| warm invoke round trip, Python | {warm_ms * 1000:.0f} µs "
            f"| in-process call through a thread pool {threaded * 1000:.0f} µs "
            f"| {warm_ms / threaded:.1f} |"
        )
        if shutil.which("node"):
            node = FunctionPool(
                Spec("Node", "Node", "nodejs20.x", "index.handler", work / "node"), log=quiet
            )
            try:
                node_cold, node_bare = cold_starts(node, args.runs, ["node", "-e", "0"])
                node_warm = warm(node, args.calls)
            finally:
                node.close()
            rows.append(
                f"| cold start, Node.js function | {node_cold:.1f} ms "
                f"| `node -e 0` {node_bare:.1f} ms | {node_cold / node_bare:.2f} |"
            )
            rows.append(
                f"| warm invoke round trip, Node.js | {node_warm * 1000:.0f} µs "
                f"| Python warm round trip {warm_ms * 1000:.0f} µs | {node_warm / warm_ms:.2f} |"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = f"python bench/bench_lambda_runtime.py --runs {args.runs} --calls {args.calls}"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return "\n".join(
        [
            SECTION,
            "",
            f"Command: `{command} --write` (CPython {platform.python_version()}, "
            f"{_cpus()} CPUs shared with other work; {stamp}). Medians; cold starts interleaved "
            "with their baseline, one fresh instance per run (`restart()` then `invoke`).",
            "",
            "| measure | value | baseline (same run) | ratio |",
            "|---|---|---|---|",
            *rows,
            "",
            *NOTES,
        ]
    )


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="cold starts per contender")
    parser.add_argument("--calls", type=int, default=500, help="warm calls per contender")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    text = run(args)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
