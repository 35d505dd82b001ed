"""Benchmark of the sans-I/O core: import time and cost of one dispatch.

Each figure is a ratio against a baseline measured in the same run:

- import time of ``wsgate`` in fresh interpreters, beside ``import boto3`` and an empty
  interpreter (``python -c pass``), wall clock, median of N runs each (interleaved);
- microseconds per ``app.dispatch`` of the golden MESSAGE event on a custom route, beside a
  bare dict lookup and a bare function call in the same process.

Run: ``.venv/bin/python bench/bench_core.py [--runs 15] [--write]``; ``--write`` replaces the
``## Core`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import timeit
from pathlib import Path
from typing import Any

from common import write_section

ROOT = Path(__file__).resolve().parent.parent
EVENT = ROOT / "tests" / "events" / "message_custom.json"
RESULTS = ROOT / "bench" / "RESULTS.md"


def _interpreter_ms(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return (time.perf_counter() - start) * 1000


def _self_import_ms(module: str) -> float:
    """Cumulative import time of ``module`` from ``-X importtime`` (µs → ms)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        capture_output=True,
        text=True,
    )
    for line in reversed(proc.stderr.splitlines()):
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1]) / 1000
    raise RuntimeError(f"no importtime line for {module}")


def bench_import(runs: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {"pass": [], "wsgate": [], "boto3": []}
    importtime: dict[str, list[float]] = {"wsgate": [], "boto3": []}
    for _ in range(runs):  # interleaved, so load changes hit all three alike
        samples["pass"].append(_interpreter_ms("pass"))
        samples["wsgate"].append(_interpreter_ms("import wsgate"))
        samples["boto3"].append(_interpreter_ms("import boto3"))
        for module in importtime:
            importtime[module].append(_self_import_ms(module))
    out = {f"wall_{k}_ms": statistics.median(v) for k, v in samples.items()}
    out.update({f"importtime_{k}_ms": statistics.median(v) for k, v in importtime.items()})
    return out


def bench_dispatch(number: int, repeat: int) -> dict[str, float]:
    from wsgate import MessageEvent, WebSocketApp

    raw: dict[str, Any] = json.loads(EVENT.read_text())

    def build(**kwargs: Any) -> WebSocketApp:
        app = WebSocketApp(**kwargs)

        @app.route("sendmessage")
        def send(event: MessageEvent) -> None:
            return None

        @app.default
        def default(event: MessageEvent) -> None:
            return None

        return app

    core = build(observe=False)
    assert core.dispatch(raw) == {"statusCode": 200}
    table = {"sendmessage": len, "$default": len}

    def bare_call(event: Any) -> None:
        return None

    def best_us(stmt: Any) -> float:
        return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e6

    dict_lookup = best_us(lambda: table[raw["requestContext"]["routeKey"]])
    func_call = best_us(lambda: bare_call(raw))
    dispatch = best_us(lambda: core.dispatch(raw))
    # The $default route with local routing: the body is parsed and the expression evaluated.
    default_raw = json.loads(json.dumps(raw))
    default_raw["requestContext"]["routeKey"] = "$default"
    local = best_us(lambda: core.dispatch(default_raw))
    # The default app adds the observe middleware (logging + EMF); metrics off so that
    # nothing is printed, logging below WARNING is not emitted.
    os.environ["WSGATE_METRICS"] = "off"
    observed = build()
    observed_us = best_us(lambda: observed.dispatch(raw))
    return {
        "dispatch_observed_us": observed_us,
        "dict_lookup_us": dict_lookup,
        "func_call_us": func_call,
        "dispatch_us": dispatch,
        "dispatch_local_routing_us": local,
    }


def render(imp: dict[str, float], disp: dict[str, float], runs: int, command: str) -> str:
    wsgate_net = imp["wall_wsgate_ms"] - imp["wall_pass_ms"]
    boto3_net = imp["wall_boto3_ms"] - imp["wall_pass_ms"]
    lines = [
        "## Core",
        "",
        f"Command: `{command}` ({platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs shared with other work; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).",
        "",
        f"Import time, fresh interpreters, median of {runs} interleaved runs each:",
        "",
        "| measure | wsgate | boto3 (baseline) | ratio wsgate/boto3 |",
        "|---|---|---|---|",
        f"| wall time minus empty interpreter ({imp['wall_pass_ms']:.1f} ms) "
        f"| {wsgate_net:.1f} ms | {boto3_net:.1f} ms | {wsgate_net / boto3_net:.2f} |",
        f"| `-X importtime` cumulative | {imp['importtime_wsgate_ms']:.1f} ms "
        f"| {imp['importtime_boto3_ms']:.1f} ms "
        f"| {imp['importtime_wsgate_ms'] / imp['importtime_boto3_ms']:.2f} |",
        "",
        "One dispatch of the golden MESSAGE event (`tests/events/message_custom.json`), "
        "`WebSocketApp(observe=False)`, best of the repeats:",
        "",
        "| measure | µs | ratio to dict lookup | ratio to function call |",
        "|---|---|---|---|",
    ]
    base_d, base_f = disp["dict_lookup_us"], disp["func_call_us"]
    for label, key in [
        ("bare dict lookup of the route key (baseline)", "dict_lookup_us"),
        ("bare function call (baseline)", "func_call_us"),
        ("`app.dispatch` on custom route", "dispatch_us"),
        ("`app.dispatch` on `$default`, routed locally by body", "dispatch_local_routing_us"),
        (
            "default `WebSocketApp()` (observe middleware, WSGATE_METRICS=off)",
            "dispatch_observed_us",
        ),
    ]:
        value = disp[key]
        lines.append(f"| {label} | {value:.3f} | {value / base_d:.1f} | {value / base_f:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="fresh interpreters per import case")
    parser.add_argument("--number", type=int, default=20000, help="dispatches per timing")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    command = "python bench/bench_core.py " + " ".join(sys.argv[1:])
    imp = bench_import(args.runs)
    disp = bench_dispatch(args.number, args.repeat)
    section = render(imp, disp, args.runs, command.strip())
    print(section)
    if args.write:
        write_section("## Core", section)


if __name__ == "__main__":
    main()
