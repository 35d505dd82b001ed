"""Benchmark ``wsgate serve --template``: functions in their own processes, in one run.

The app is ``bench/template/`` (a serverless.yml with plain boto3 handlers). Figures, each a
ratio against a baseline measured in the same run:

- warm round trip (sequential, median and p99) through separate-process functions (``wsgate
  serve --template``) vs the same handlers in-process (``wsgate serve dispatch.py
  --template``, today's emulator), and vs serverless-offline running the same serverless.yml
  when ``bench/node`` has its packages (``cd bench/node && npm ci``), two ways: a two-way
  ``echo`` route (the function's return value is the reply) and a ``post`` route whose function
  replies with boto3's ``post_to_connection`` (how real apps answer: to the emulator's
  Management API, over TLS for a template function that builds ``https://{domainName}/{stage}``);
- with ``--ref REV``: the template row again with wsgate's code at git revision ``REV`` (e.g.
  ``main`` before a change), in the same run;
- cold start of a Python function that imports boto3 (a fresh ``FunctionPool``'s first
  invocation, process start included) vs a bare ``python -c 'import boto3'``;
- broadcast: 1,000 clients joined (their ids in the local DynamoDB), one message makes the
  ``broadcast`` function post to all of them through boto3; time until the last one has it,
  template app vs the in-process baseline.

Run (never in CI)::

    .venv/bin/python bench/bench_template.py            # prints a Markdown table
    .venv/bin/python bench/bench_template.py --write    # also updates bench/RESULTS.md
    .venv/bin/python bench/bench_template.py --ref main --write   # with a before/after row
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import write_section
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = ROOT / "bench" / "template"
NODE_DIR = ROOT / "bench" / "node"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Template apps (wsgate serve --template)"
TABLE = "wsgate-bench-template-members"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Target:
    """One server under test."""

    name: str
    ws_url: str
    proc: subprocess.Popen[bytes]
    results: dict[str, float] = field(default_factory=dict)


def _env(workdir: Path, services: str, src: Path = ROOT / "src") -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(src)
    env["WSGATE_REGISTRY"] = f"sqlite:///{workdir / 'registry.db'}"
    env["WSGATE_METRICS"] = "off"
    env["AWS_ENDPOINT_URL_DYNAMODB"] = services
    env.setdefault("AWS_ACCESS_KEY_ID", "bench")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    return env


def start_template(
    workdir: Path,
    services: str,
    src: Path = ROOT / "src",
    name: str = "template, function processes",
) -> Target:
    port = free_port()
    command = [sys.executable, "-m", "wsgate.cli", "serve", "--template"]
    command += [str(workdir / "serverless.yml"), "--port", str(port), "--aws-endpoint", services]
    proc = subprocess.Popen(
        command,
        cwd=workdir,
        env=_env(workdir, services, src),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Target(name, f"ws://127.0.0.1:{port}/local", proc)


def ref_source(rev: str) -> Path:
    """wsgate's ``src`` at git revision ``rev``, in a temporary folder."""
    folder = Path(tempfile.mkdtemp(prefix="wsgate-bench-ref-"))
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder / "src"


def start_in_process(workdir: Path, services: str) -> Target:
    port = free_port()
    command = [sys.executable, "-m", "wsgate.cli", "serve", str(workdir / "dispatch.py:dispatch")]
    command += ["--template", str(workdir / "serverless.yml"), "--port", str(port)]
    env = _env(workdir, services)
    env["TABLE_NAME"] = TABLE
    proc = subprocess.Popen(
        command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return Target("in-process handler (baseline)", f"ws://127.0.0.1:{port}/local", proc)


def start_offline(workdir: Path) -> Target | None:
    binary = NODE_DIR / "node_modules" / ".bin" / "serverless"
    if not binary.exists():
        return None
    (workdir / "node_modules").symlink_to(NODE_DIR / "node_modules")
    port = free_port()
    env = dict(os.environ)
    env.update(
        SLS_WS_PORT=str(port),
        SLS_MANAGEMENT_ENDPOINT=f"http://127.0.0.1:{port}",
        SLS_HTTP_PORT=str(free_port()),
        SLS_LAMBDA_PORT=str(free_port()),
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
        SLS_DEPRECATION_DISABLE="*",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
    )
    proc = subprocess.Popen(
        [str(binary), "offline", "start"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Target("serverless-offline 13", f"ws://127.0.0.1:{port}", proc)


async def wait_ready(target: Target, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with connect(target.ws_url, compression=None, open_timeout=5) as ws:
                await ws.send(json.dumps({"action": "echo", "n": -1}))
                await asyncio.wait_for(ws.recv(), 30)
                return
        except Exception:
            await asyncio.sleep(0.5)
    raise SystemExit(f"{target.name} did not start on {target.ws_url}")


async def measure_rtt(target: Target, count: int, action: str = "echo") -> None:
    """Sequential round trips on one connection; ``echo`` (two-way) or ``post`` (the function
    calls ``post_to_connection``): results ``{action}_median`` and ``{action}_p99`` in ms."""
    async with connect(target.ws_url, compression=None) as ws:
        for n in range(30):  # warm: every instance started, the SDK client made
            await ws.send(json.dumps({"action": action, "n": n}))
            await asyncio.wait_for(ws.recv(), 60)
        samples = []
        for n in range(count):
            message = json.dumps({"action": action, "n": n})
            began = time.perf_counter()
            await ws.send(message)
            reply = await asyncio.wait_for(ws.recv(), 60)
            samples.append((time.perf_counter() - began) * 1000)
            if reply != message:
                raise SystemExit(f"{target.name}: {action} answered {reply!r}")
    samples.sort()
    target.results[f"{action}_median"] = statistics.median(samples)
    target.results[f"{action}_p99"] = samples[int(len(samples) * 0.99) - 1]


async def measure_broadcast(target: Target, clients: int, rounds: int, limit: float) -> None:
    semaphore = asyncio.Semaphore(50)

    async def join() -> ClientConnection:
        async with semaphore:
            ws = await connect(target.ws_url, compression=None, max_queue=None)
            await ws.send(json.dumps({"action": "join"}))
            await asyncio.wait_for(ws.recv(), 60)
            return ws

    sockets = await asyncio.gather(*(join() for _ in range(clients)))
    times = []
    try:
        for warm in (True, *([False] * rounds)):  # the first round starts the function
            began = time.perf_counter()
            await sockets[0].send(json.dumps({"action": "broadcast"}))
            await asyncio.wait_for(asyncio.gather(*(ws.recv() for ws in sockets)), limit)
            if not warm:
                times.append((time.perf_counter() - began) * 1000)
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    target.results["broadcast_ms"] = statistics.median(times)


def measure_cold_start(rounds: int) -> tuple[float, float]:
    """Median ms: a fresh function's first call vs ``python -c 'import boto3'``."""
    from wsgate.local.apptemplate import FunctionSpec
    from wsgate.local.lambda_runtime import FunctionPool

    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    spec = FunctionSpec("Cold", "Cold", version, "cold.handler", APP_DIR, {}, 30.0)
    cold, bare = [], []
    for _ in range(rounds):  # interleaved, so load changes hit both alike
        pool = FunctionPool(spec, python=sys.executable, log=lambda name, line: None)
        try:
            result = pool.invoke({})
            assert result.cold and result.error is None, result
            cold.append(result.duration_ms)
        finally:
            pool.close()
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import boto3"], check=True)
        bare.append((time.perf_counter() - began) * 1000)
    return statistics.median(cold), statistics.median(bare)


def prepare_table(services: str) -> None:
    import boto3

    client = boto3.client(
        "dynamodb",
        endpoint_url=services,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    if TABLE not in client.list_tables()["TableNames"]:
        client.create_table(
            TableName=TABLE,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        )
    table = boto3.resource(
        "dynamodb",
        endpoint_url=services,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    ).Table(TABLE)
    with table.batch_writer() as batch:  # each broadcast run starts from an empty table
        for item in table.scan(ProjectionExpression="connectionId")["Items"]:
            batch.delete_item(Key=item)


def stop(target: Target) -> None:
    target.proc.terminate()
    try:
        target.proc.wait(30)
    except subprocess.TimeoutExpired:
        target.proc.kill()
        target.proc.wait()


async def run(args: argparse.Namespace) -> str:
    from wsgate.local.services import LocalServices

    workdir = Path(tempfile.mkdtemp(prefix="wsgate-bench-template-"))
    for name in ("serverless.yml", "handler.py", "dispatch.py"):
        shutil.copy(APP_DIR / name, workdir / name)
    services = LocalServices()
    services.start()
    rows: list[Target] = []
    starts = [start_in_process, start_template]
    if args.ref:
        src = ref_source(args.ref)
        name = f"template, function processes, wsgate at `{args.ref}` (before)"
        starts.append(lambda workdir, endpoint: start_template(workdir, endpoint, src, name))
    try:
        for start in starts:
            prepare_table(services.endpoint)
            target = start(workdir, services.endpoint)
            rows.append(target)
            try:
                await wait_ready(target)
                await measure_rtt(target, args.count, "echo")
                await measure_rtt(target, args.count, "post")
                await measure_broadcast(target, args.clients, args.rounds, args.limit)
            finally:
                stop(target)
        offline = start_offline(workdir) if not args.no_offline else None
        if offline is not None:
            rows.append(offline)
            try:
                await wait_ready(offline)
                await measure_rtt(offline, args.count, "echo")
                await measure_rtt(offline, args.count, "post")
            finally:
                stop(offline)
        cold, bare = measure_cold_start(args.cold_rounds)
    finally:
        services.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return report(rows, cold, bare, args)


def _offline(rows: list[Target]) -> Target | None:
    return next((t for t in rows if t.name.startswith("serverless-offline")), None)


def _ref(rows: list[Target]) -> Target | None:
    return next((t for t in rows if t.name.endswith("(before)")), None)


def report(rows: list[Target], cold: float, bare: float, args: argparse.Namespace) -> str:
    base = rows[0].results
    command = "python bench/bench_template.py" + (f" --ref {args.ref}" if args.ref else "")
    command += " --write" if args.write else ""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        SECTION,
        "",
        f"Command: `{command}` (CPython {sys.version.split()[0]}, {os.cpu_count()} CPUs shared "
        f"with other work; {when}). App: `bench/template/` (serverless.yml, plain boto3 "
        "handlers). Local DynamoDB: moto_server.",
        "",
        f"Warm round trips, {args.count} sequential messages each: `echo` is a two-way route "
        "(the function's return value is the reply); `post` is a one-way route whose function "
        "answers with boto3's `post_to_connection` to its own connection, as real apps do (the "
        "in-process baseline to `WSGATE_ENDPOINT` over plain HTTP, a template function to "
        "`https://{domainName}/{stage}` over TLS, serverless-offline to its plain-HTTP "
        "`@connections` endpoint):",
        "",
        "| server | echo median ms | echo p99 ms | echo vs in-process "
        "| post median ms | post p99 ms | post vs in-process |",
        "|---|---|---|---|---|---|---|",
    ]
    for target in rows:
        r = target.results
        lines.append(
            f"| {target.name} | {r['echo_median']:.2f} | {r['echo_p99']:.2f} | "
            f"{r['echo_median'] / base['echo_median']:.2f} | {r['post_median']:.2f} | "
            f"{r['post_p99']:.2f} | {r['post_median'] / base['post_median']:.2f} |"
        )
    lines += [
        "",
        f"Broadcast to {args.clients} clients (the function scans the table and calls "
        "`post_to_connection` once per client; time until the last client has the message, "
        f"median of {args.rounds} after one warm-up round):",
        "",
        "| server | ms | ratio to in-process |",
        "|---|---|---|",
    ]
    for target in rows:
        if "broadcast_ms" in target.results:
            ms = target.results["broadcast_ms"]
            lines.append(f"| {target.name} | {ms:.0f} | {ms / base['broadcast_ms']:.2f} |")
    lines += [
        "",
        f"Cold start, median of {args.cold_rounds} interleaved rounds:",
        "",
        "| measure | ms | ratio |",
        "|---|---|---|",
        f"| `python -c 'import boto3'` (baseline) | {bare:.0f} | 1.00 |",
        f"| a new Python function's first invocation (imports boto3) | {cold:.0f} | "
        f"{cold / bare:.2f} |",
        "",
    ]
    lines += verdicts(rows, cold / bare)
    return "\n".join(lines)


def verdicts(rows: list[Target], cold_ratio: float) -> list[str]:
    """Issue 14's goals against this run's ratios."""

    def met(ok: bool) -> str:
        return "met" if ok else "**not met**"

    base, template = rows[0].results, rows[1].results
    text = ["Against issue 14's goals (same run):"]
    for action, label in (("echo", "two-way `echo`"), ("post", "`post_to_connection`")):
        rtt = template[f"{action}_median"] / base[f"{action}_median"]
        part = (
            f" warm {label} round trip through a function process {rtt:.2f}x the in-process "
            f"handler (goal <= 2x: {met(rtt <= 2)})"
        )
        offline = _offline(rows)
        if offline is not None:
            theirs = offline.results[f"{action}_median"]
            ratio = template[f"{action}_median"] / theirs
            part += f", {ratio:.2f}x serverless-offline's (goal <= 1/3: {met(ratio <= 1 / 3)}"
            if theirs / 3 < base[f"{action}_median"]:
                part += (
                    f"; out of reach of any out-of-process design: a third of serverless-offline's "
                    f"{theirs:.2f} ms is {theirs / 3:.2f} ms, below the in-process handler's "
                    f"{base[f'{action}_median']:.2f} ms, which does the same work without a "
                    "process boundary"
                )
            part += ")"
        text.append(part + ";")
    ref = _ref(rows)
    if ref is not None:
        text.append(
            " before/after (the same template app, wsgate's code then and now): `echo` "
            f"{ref.results['echo_median']:.2f} -> {template['echo_median']:.2f} ms, `post` "
            f"{ref.results['post_median']:.2f} -> {template['post_median']:.2f} ms;"
        )
    broadcast = template["broadcast_ms"] / base["broadcast_ms"]
    text.append(
        f" cold start {cold_ratio:.2f}x a bare `import boto3` (goal <= 1.5x: "
        f"{met(cold_ratio <= 1.5)}); broadcast to the clients {broadcast:.2f}x the in-process "
        "handler."
    )
    return ["".join(text), ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="round trips per server")
    parser.add_argument("--clients", type=int, default=1000, help="broadcast clients")
    parser.add_argument("--rounds", type=int, default=3, help="broadcast rounds")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds per broadcast")
    parser.add_argument("--cold-rounds", type=int, default=7, help="cold start rounds")
    parser.add_argument("--no-offline", action="store_true", help="skip serverless-offline")
    parser.add_argument("--ref", help="also run the template app with wsgate at this git revision")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * args.clients)), hard))
    text = asyncio.run(run(args))
    print(text)
    if args.write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
