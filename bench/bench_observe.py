"""What observability costs per invocation: dispatch with and without metrics, log formatting.

Every figure is a ratio against a baseline measured in the same process, in the same run:

* dispatch of the golden MESSAGE event through ``WebSocketApp(observe=False)`` (baseline), the
  default app with ``WSGATE_METRICS=off``, and the default app with metrics on, writing its EMF
  line per invocation to ``os.devnull`` (what stdout costs in Lambda is a pipe write on top);
* formatting one log record with the stdlib ``logging.Formatter`` (baseline) and with
  :class:`wsgate.observe.JsonFormatter` inside a handler (event ids on the record).

Run: ``python bench/bench_observe.py [--number N] [--repeat R] [--write]``; ``--write`` puts
the table in the ``## Observe`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
import timeit
from pathlib import Path
from typing import Any

from common import write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from wsgate import WebSocketApp  # noqa: E402
from wsgate.context import LambdaContext  # noqa: E402
from wsgate.observe import EventContextFilter, JsonFormatter  # noqa: E402
from wsgate.observe.metrics import EMFSink, Metrics, set_metrics  # noqa: E402

EVENT: dict[str, Any] = json.loads((ROOT / "tests" / "events" / "message_custom.json").read_text())


def _app(observe: bool) -> WebSocketApp:
    app = WebSocketApp(observe=observe)

    @app.route(EVENT["requestContext"]["routeKey"])
    def handler(event: Any) -> None:
        return None

    return app


def best_us(stmt: Any, number: int, repeat: int) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=repeat)) / number * 1e6


def measure(number: int, repeat: int) -> list[tuple[str, float]]:
    context = LambdaContext(function_name="bench")
    rows: list[tuple[str, float]] = []
    baseline_app = _app(observe=False)
    rows.append(
        (
            "dispatch, `observe=False` (baseline)",
            best_us(lambda: baseline_app.dispatch(EVENT, context), number, repeat),
        )
    )
    observed = _app(observe=True)
    set_metrics(Metrics(enabled=False))
    rows.append(
        (
            "dispatch, observe middleware, metrics off",
            best_us(lambda: observed.dispatch(EVENT, context), number, repeat),
        )
    )
    with open(os.devnull, "w") as devnull:
        set_metrics(Metrics(sink=EMFSink("bench", stream=devnull), enabled=True))
        rows.append(
            (
                "dispatch, observe middleware, metrics on (one EMF line per dispatch)",
                best_us(lambda: observed.dispatch(EVENT, context), number, repeat),
            )
        )
    set_metrics(None)

    record = logging.LogRecord("wsgate.bench", logging.INFO, __file__, 1, "hello %s", ("x",), None)
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    rows.append(
        (
            "format a log record, stdlib Formatter (baseline)",
            best_us(lambda: plain.format(record), number, repeat),
        )
    )
    json_formatter = JsonFormatter()
    context_filter = EventContextFilter()
    timings: list[float] = []
    log_app = WebSocketApp(observe=False)

    @log_app.route(EVENT["requestContext"]["routeKey"])
    def log_handler(event: Any) -> None:
        def one() -> None:
            fresh = logging.LogRecord(
                "wsgate.bench", logging.INFO, __file__, 1, "hello %s", ("x",), None
            )
            context_filter.filter(fresh)
            json_formatter.format(fresh)

        timings.append(best_us(one, number, repeat))

    log_app.dispatch(EVENT, context)
    rows.append(("new record + event ids + JsonFormatter, inside a handler", timings[0]))
    return rows


def table(rows: list[tuple[str, float]]) -> str:
    dispatch_base = rows[0][1]
    format_base = rows[3][1]
    lines = ["| measure | µs | ratio to its baseline |", "|---|---|---|"]
    for index, (name, value) in enumerate(rows):
        base = dispatch_base if index < 3 else format_base
        lines.append(f"| {name} | {value:.2f} | {value / base:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    rows = measure(args.number, args.repeat)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "python bench/bench_observe.py"
    if args.number != 2000 or args.repeat != 7:
        command += f" --number {args.number} --repeat {args.repeat}"
    text = (
        f"Command: `{command} --write` (CPython {platform.python_version()}, "
        f"{os.cpu_count()} CPUs shared with other work; {when}). Best of {args.repeat} "
        f"repeats of {args.number} calls; the golden MESSAGE event "
        "(`tests/events/message_custom.json`).\n\n" + table(rows) + "\n"
    )
    print(text)
    if args.write:
        write_section("## Observe", "## Observe\n\n" + text.strip())


if __name__ == "__main__":
    main()
