"""Cold ``$connect`` on a fresh interpreter, and warm registry calls: wsgate vs boto3.

Cold: each contender runs in a fresh ``python`` process against one dynalite on 127.0.0.1
(a table made for the run), timing (1) its imports and set-up and (2) its first call:

- ``wsgate``: ``from wsgate.router import WebSocketApp`` + ``wsgate.gateway``, an app whose
  ``$connect`` handler calls ``ws_store_connection`` (the registry's default, stdlib client);
  then the app handles the golden CONNECT event (``tests/events/connect_query.json``).
- ``wsgate-boto3``: the same app with ``WSGATE_DYNAMODB_CLIENT=boto3`` (the registry's client
  before this change: boto3, built lazily on the first call).
- ``boto3`` (baseline): a plain handler, ``import boto3`` + ``boto3.client("dynamodb")`` at
  module level, then one ``PutItem`` of the same item shape.

Contenders alternate round by round; medians are reported. wsgate is imported from a copy
of ``src/`` compiled to ``.pyc`` first, as ``pip install`` leaves a deployed package (boto3's
``.pyc`` files are in site-packages already). Warm: one process, the same
table, ``store`` / ``get`` / ``room_members`` (10 members) on the registry with the stdlib
client vs the registry with a boto3 client (today's boto3 path), alternating rounds; wall
time per call and the process's own CPU time per call (dynalite runs in another process).

Usage: ``python bench/bench_coldstart.py [--rounds 7] [--warm-calls 300] [--write]``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
EVENT = ROOT / "tests" / "events" / "connect_query.json"

WSGATE_HANDLER = """
import time
t0 = time.perf_counter()
from wsgate.router import WebSocketApp
from wsgate.gateway import ws_store_connection

app = WebSocketApp()

@app.connect
def on_connect(event):
    ws_store_connection(event.connection_id, user_id="ada")
    return {"statusCode": 200}

t1 = time.perf_counter()
import json, sys
event = json.load(open(sys.argv[1]))
event["requestContext"]["connectionId"] = sys.argv[2]
answer = app(event, None)
t2 = time.perf_counter()
assert answer["statusCode"] == 200, answer
print(json.dumps({"import": t1 - t0, "first": t2 - t1,
                  "boto3": "boto3" in sys.modules, "botocore": "botocore" in sys.modules}))
"""

BOTO3_HANDLER = """
import time
t0 = time.perf_counter()
import os
import boto3

client = boto3.client("dynamodb")
TABLE = os.environ["WSGATE_TABLE"]

def handler(event, context):
    cid = event["requestContext"]["connectionId"]
    now = int(time.time())
    client.put_item(TableName=TABLE, Item={
        "connectionId": {"S": cid}, "sk": {"S": "connection"}, "userId": {"S": "ada"},
        "connectedAt": {"N": str(now)}, "lastActivity": {"N": str(now)},
        "expiresAt": {"N": str(now + 7200)}})
    return {"statusCode": 200}

t1 = time.perf_counter()
import json, sys
event = json.load(open(sys.argv[1]))
event["requestContext"]["connectionId"] = sys.argv[2]
answer = handler(event, None)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "first": t2 - t1,
                  "boto3": "boto3" in sys.modules, "botocore": "botocore" in sys.modules}))
"""


def _cold(name: str, env: dict[str, str]) -> dict[str, Any]:
    code = BOTO3_HANDLER if name == "boto3" else WSGATE_HANDLER
    run_env = dict(env)
    if name == "wsgate-boto3":
        run_env["WSGATE_DYNAMODB_CLIENT"] = "boto3"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-c", code, str(EVENT), f"cold-{uuid.uuid4().hex[:10]}="],
        capture_output=True,
        text=True,
        env=run_env,
        timeout=120,
        check=False,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    # The whole process's CPU (interpreter start-up included): less sensitive than wall time
    # to other work on a shared machine.
    result["cpu"] = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return result


def _warm(endpoint: str, table: str, calls: int, rounds: int) -> dict[str, dict[str, float]]:
    import boto3

    from wsgate.registry.dynamodb import DynamoDBRegistry

    boto = boto3.client("dynamodb", endpoint_url=endpoint)
    registries = {
        "wsgate (stdlib client)": DynamoDBRegistry(table, client="stdlib", endpoint_url=endpoint),
        "wsgate on boto3 (baseline)": DynamoDBRegistry(table, client=boto),
    }
    room = f"room-{uuid.uuid4().hex[:6]}"
    for registry in registries.values():
        registry.store("warm-up")
    members = [f"member-{i}" for i in range(10)]
    first = next(iter(registries.values()))
    for cid in members:
        first.store(cid)
        first.join(cid, room)

    def store(reg: Any, i: int) -> None:
        reg.store(f"w-{i % 50}", user_id="ada")

    def get(reg: Any, i: int) -> None:
        assert reg.get(members[i % 10]) is not None

    def room_lookup(reg: Any, i: int) -> None:
        assert len(reg.room_members(room)) == 10

    operations = {"store": store, "get": get, "room_members": room_lookup}
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for _ in range(rounds):
        for op, fn in operations.items():
            for name, registry in registries.items():
                fn(registry, 0)  # connections, templates, signing key: warm
                cpu0, t0 = time.process_time(), time.perf_counter()
                for i in range(calls):
                    fn(registry, i)
                wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                samples.setdefault(op, {}).setdefault(name, []).append((wall / calls, cpu / calls))
    for registry in registries.values():
        registry.close()
    out: dict[str, dict[str, float]] = {}
    for op, by_name in samples.items():
        for name, values in by_name.items():
            out[f"{op}|{name}"] = {
                "wall": statistics.median(v[0] for v in values),
                "cpu": statistics.median(v[1] for v in values),
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="cold runs per contender")
    parser.add_argument("--warm-calls", type=int, default=300, help="calls per warm sample")
    parser.add_argument("--warm-rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write into bench/RESULTS.md")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "src"))
    from wsgate.registry.dynamodb import DynamoDBRegistry
    from wsgate.testing.servers import TEST_CREDENTIALS, start_dynalite

    server = start_dynalite()
    load_before = os.getloadavg()[0]
    try:
        table = f"coldstart-{uuid.uuid4().hex[:8]}"
        os.environ["AWS_ACCESS_KEY_ID"] = TEST_CREDENTIALS["aws_access_key_id"]
        os.environ["AWS_SECRET_ACCESS_KEY"] = TEST_CREDENTIALS["aws_secret_access_key"]
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = TEST_CREDENTIALS[
            "region_name"
        ]
        setup = DynamoDBRegistry(table, client="stdlib", endpoint_url=server.endpoint_url)
        setup.create_table()
        # As deployed: `pip install` writes each module's .pyc next to it (boto3's are in
        # site-packages already); this checkout may run with PYTHONDONTWRITEBYTECODE, so the
        # contenders import a compiled copy of src/.
        deployed = Path(tempfile.mkdtemp(prefix="wsgate-coldstart-")) / "src"
        shutil.copytree(ROOT / "src", deployed)
        compileall.compile_dir(str(deployed), quiet=1)
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("AWS_", "WSGATE_")) and k != "PYTHONDONTWRITEBYTECODE"
            },
            "PYTHONPATH": str(deployed),
            "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS["aws_secret_access_key"],
            "AWS_REGION": TEST_CREDENTIALS["region_name"],
            "AWS_DEFAULT_REGION": TEST_CREDENTIALS["region_name"],
            "AWS_ENDPOINT_URL_DYNAMODB": server.endpoint_url,
            "WSGATE_TABLE": table,
            "WSGATE_METRICS": "off",
        }
        names = ("wsgate", "wsgate-boto3", "boto3")
        cold: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        for _ in range(args.rounds):
            for name in names:
                result = _cold(name, env)
                cold[name].append(result)
                print(
                    f"{name:13} import {result['import'] * 1000:7.1f} ms  first call "
                    f"{result['first'] * 1000:7.1f} ms  boto3 loaded: {result['boto3']}",
                    flush=True,
                )
        warm = _warm(server.endpoint_url, table, args.warm_calls, args.warm_rounds)
        setup.delete_table()
        setup.close()
        shutil.rmtree(deployed.parent, ignore_errors=True)
    finally:
        server.stop()
    load_after = os.getloadavg()[0]

    def med(name: str, key: str) -> float:
        return statistics.median(r[key] for r in cold[name])

    def total(name: str) -> float:
        return statistics.median(r["import"] + r["first"] for r in cold[name])

    base = total("boto3")
    lines = [
        "| contender (fresh interpreter) | import + set-up ms | first call ms | total ms "
        "| total vs boto3 | process CPU ms | CPU vs boto3 | boto3 imported |",
        "|---|---|---|---|---|---|---|---|",
    ]
    labels = {
        "wsgate": "wsgate app, `ws_store_connection` in `$connect` (stdlib client, default)",
        "wsgate-boto3": "the same app, `WSGATE_DYNAMODB_CLIENT=boto3` (before this change)",
        "boto3": "plain boto3 handler, one `PutItem` (baseline)",
    }
    for name in names:
        lines.append(
            f"| {labels[name]} | {med(name, 'import') * 1000:.1f} | "
            f"{med(name, 'first') * 1000:.1f} | {total(name) * 1000:.1f} | "
            f"{total(name) / base:.2f}x | {med(name, 'cpu') * 1000:.1f} | "
            f"{med(name, 'cpu') / med('boto3', 'cpu'):.2f}x | {cold[name][0]['boto3']} |"
        )
    ratio = total("wsgate") / base
    verdict = "met" if ratio <= 0.25 else "NOT met"
    lines += [
        "",
        f"Goal: cold `$connect` ≤ 0.25x the boto3 handler: {ratio:.2f}x — {verdict}. "
        f"Rounds ({args.rounds}, alternating) total ms, wsgate: "
        + ", ".join(f"{(r['import'] + r['first']) * 1000:.0f}" for r in cold["wsgate"])
        + "; boto3: "
        + ", ".join(f"{(r['import'] + r['first']) * 1000:.0f}" for r in cold["boto3"])
        + ". Process CPU includes the interpreter's own start-up (the same for every "
        "contender).",
        "",
        "| warm operation | stdlib client µs/call | its CPU µs/call | boto3 client µs/call "
        "(baseline) | its CPU µs/call | time ratio | CPU ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for op in ("store", "get", "room_members"):
        ours = warm[f"{op}|wsgate (stdlib client)"]
        theirs = warm[f"{op}|wsgate on boto3 (baseline)"]
        lines.append(
            f"| `{op}` | {ours['wall'] * 1e6:.0f} | {ours['cpu'] * 1e6:.0f} | "
            f"{theirs['wall'] * 1e6:.0f} | {theirs['cpu'] * 1e6:.0f} | "
            f"{ours['wall'] / theirs['wall']:.2f}x | {ours['cpu'] / theirs['cpu']:.2f}x |"
        )
    note = (
        f"Warm: median of {args.warm_rounds} alternating rounds of {args.warm_calls} calls; "
        "CPU is this process's own (user + system) time per call, dynalite's excluded; "
        f"`room_members` is one Query + one BatchGetItem of 10. Load average {load_before:.1f}"
        f" → {load_after:.1f} on {os.cpu_count()} CPUs."
    )
    print("\n".join(lines))
    print(note)
    if args.write:
        _write(lines, note, args)


def _write(lines: list[str], note: str, args: argparse.Namespace) -> None:
    cmd = ".venv/bin/python bench/bench_coldstart.py"
    if args.rounds != 7:
        cmd += f" --rounds {args.rounds}"
    if args.warm_calls != 300:
        cmd += f" --warm-calls {args.warm_calls}"
    if args.warm_rounds != 5:
        cmd += f" --warm-rounds {args.warm_rounds}"
    heading = "## Cold start"
    section = "\n".join(
        [
            heading,
            "",
            f"Command: `{cmd} --write` (CPython {sys.version.split()[0]}, dynalite on "
            f"127.0.0.1, {os.cpu_count()} CPUs shared with other work; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). Cold: each contender in a "
            "fresh interpreter, medians over alternating rounds; the golden CONNECT event "
            "(`tests/events/connect_query.json`).",
            "",
            *lines,
            "",
            note,
            "",
        ]
    )
    write_section(heading, section)


if __name__ == "__main__":
    main()
