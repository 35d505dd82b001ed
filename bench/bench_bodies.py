"""Benchmark of typed message bodies (``wsgate.bodies``).

Each figure is a ratio against a baseline measured in the same run:

- microseconds per ``app.dispatch`` of one MESSAGE whose handler gets a validated body (a
  dataclass, a TypedDict, a Pydantic model), beside the same handler reading ``event.json``
  (the baseline), ``WebSocketApp(observe=False)``, best of the repeats;
- the import-and-first-dispatch time of an app that declares no models, on this tree and on
  the git ref ``--ref`` (the code before typed bodies), in fresh interpreters, interleaved,
  median of N runs; plus the modules each run loads.

Run: ``.venv/bin/python bench/bench_bodies.py [--ref main] [--runs 15] [--write]``; ``--write``
replaces the ``## Bodies`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import pydantic
from common import write_section

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
sys.path.insert(0, str(ROOT / "src"))

from wsgate import WebSocketApp  # noqa: E402
from wsgate.testing.factories import message_event  # noqa: E402

BODY = {"action": "send", "room": "lobby", "text": "hello there", "tags": ["a", "b"], "n": 2}


@dataclass
class SendDC:
    room: str
    text: str
    tags: list[str]
    n: int


class SendTD(TypedDict):
    room: str
    text: str
    tags: list[str]
    n: int


class SendPM(pydantic.BaseModel):
    room: str
    text: str
    tags: list[str]
    n: int


def _apps() -> dict[str, WebSocketApp]:
    plain = WebSocketApp(observe=False)

    @plain.route("send")
    def send_plain(event: Any) -> None:
        body = event.json
        _ = (body["room"], body["text"], body["tags"], body["n"])

    apps = {"handler reads event.json (baseline)": plain}
    for label, model in (("dataclass", SendDC), ("TypedDict", SendTD), ("Pydantic v2", SendPM)):
        app = WebSocketApp(observe=False)

        def send_typed(event: Any, body: Any) -> None:
            _ = body

        app.route("send", body=model)(send_typed)
        apps[f"validated {label} body"] = app
    return apps


def dispatch_figures(number: int, repeat: int) -> list[tuple[str, float]]:
    raw = message_event(json.dumps(BODY), route_key="send")
    out = []
    for label, app in _apps().items():
        assert app.dispatch(raw)["statusCode"] == 200
        best = min(timeit.repeat(lambda a=app: a.dispatch(raw), number=number, repeat=repeat))
        out.append((label, best / number * 1e6))
    return out


PLAIN_APP = """
import json, sys, time
t = time.perf_counter()
import wsgate
app = wsgate.WebSocketApp()
@app.route("send")
def send(event, context):
    return {"n": event.json["n"]}
@app.route("other")
def other(event: wsgate.MessageEvent) -> None: ...
from wsgate.testing.factories import message_event
"""
RUN = """
raw = message_event(json.dumps({"action": "send", "n": 1}), route_key="send")
assert app(raw, None)["statusCode"] == 200
print(json.dumps({"ms": (time.perf_counter() - t) * 1000, "modules": len(sys.modules),
      "pydantic": "pydantic" in sys.modules, "bodies": "wsgate.bodies" in sys.modules}))
"""


def _run(src: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", PLAIN_APP + RUN],
        check=True,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(src), "WSGATE_METRICS": "off"},
    )
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def import_figures(ref: str, runs: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        old, new = Path(tmp) / "src", ROOT / "src"
        samples: dict[str, list[dict[str, Any]]] = {"ref": [], "tree": []}
        for _ in range(runs):
            samples["ref"].append(_run(old))
            samples["tree"].append(_run(new))
    return {
        key: {
            "ms": statistics.median(s["ms"] for s in rows),
            "modules": rows[-1]["modules"],
            "pydantic": any(s["pydantic"] for s in rows),
            "bodies": any(s["bodies"] for s in rows),
        }
        for key, rows in samples.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--ref", default="main")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    dispatch = dispatch_figures(args.number, args.repeat)
    imports = import_figures(args.ref, args.runs)
    base = dispatch[0][1]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = (
        f"python bench/bench_bodies.py --number {args.number} --repeat {args.repeat} "
        f"--runs {args.runs} --ref {args.ref} --write"
    )
    lines = [
        "## Bodies",
        "",
        f"Command: `{command}` (CPython {platform.python_version()}, pydantic "
        f"{pydantic.VERSION}, 2 CPUs shared with other work; {stamp}).",
        "",
        f"One `app.dispatch` of a MESSAGE with a 4-field body (`{json.dumps(BODY)}`), "
        f"`WebSocketApp(observe=False)`, best of {args.repeat} repeats of {args.number}:",
        "",
        "| handler | µs per dispatch | ratio to the baseline |",
        "|---|---|---|",
    ]
    lines += [f"| {label} | {us:.2f} | {us / base:.2f} |" for label, us in dispatch]
    ref, tree = imports["ref"], imports["tree"]
    lines += [
        "",
        f"Import `wsgate`, register two routes without models (one annotated) and dispatch one "
        f"event, fresh interpreters, median of {args.runs} interleaved runs:",
        "",
        "| code | ms | modules loaded | pydantic loaded | wsgate.bodies loaded |",
        "|---|---|---|---|---|",
        f"| `{args.ref}` (before typed bodies, baseline) | {ref['ms']:.1f} | {ref['modules']} "
        f"| {ref['pydantic']} | {ref['bodies']} |",
        f"| this tree | {tree['ms']:.1f} | {tree['modules']} | {tree['pydantic']} "
        f"| {tree['bodies']} |",
        f"| ratio tree / baseline | {tree['ms'] / ref['ms']:.2f} | "
        f"{tree['modules'] - ref['modules']:+d} modules | | |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("## Bodies", text)


if __name__ == "__main__":
    main()
