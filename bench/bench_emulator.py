"""Benchmark ``wsgate serve`` side by side with serverless-offline, in one run.

Both emulators serve the same echo app (Python here, ``bench/node/handler.js`` there) and are
driven by the same client (python ``websockets``, no compression) over 127.0.0.1:

- round trip: 2,000 sequential echoes through PostToConnection (the handler posts the body back
  through the ``@connections`` API) and through a two-way route (the response body); median and
  p99;
- broadcast: 1,000 connected clients, one message asks the handler to post to all of them; time
  until the last one received it (median of several rounds);
- memory: RSS of the emulator process with 10,000 idle connections.

Each wsgate figure is reported as a ratio against serverless-offline's figure from the same run.

Setup (once): ``cd bench/node && npm install``. Run::

    .venv/bin/python bench/bench_emulator.py            # prints a Markdown table
    .venv/bin/python bench/bench_emulator.py --write    # also updates bench/RESULTS.md

``--flood`` instead measures one client flooding without reading (RSS growth, another
client's echo latency) on this tree's emulator and on the merge base with ``main``, in one run
(see ``emulator_flood.py``)::

    .venv/bin/python bench/bench_emulator.py --flood --write
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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from common import write_section
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
NODE_DIR = ROOT / "bench" / "node"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Emulator (wsgate serve vs serverless-offline)"

PY_APP = """
import json
from wsgate.gateway import ws_broadcast_message, ws_send_message
from wsgate.router import WebSocketApp

app = WebSocketApp()

@app.connect
def connect(event):
    return {"statusCode": 200}

@app.disconnect
def disconnect(event):
    return None

@app.route("echo")
def echo(event):
    ws_send_message(event.connection_id, event.body)

@app.route("echo2", two_way=True)
def echo2(event):
    return {"statusCode": 200, "body": event.body}

@app.route("hello")
def hello(event):
    ws_send_message(event.connection_id, json.dumps({"id": event.connection_id}))

@app.route("broadcast")
def broadcast(event):
    ws_broadcast_message(json.loads(event.body)["ids"], "tick")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants, MiB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total_kb = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        except OSError:
            pass
        stack.extend(children.get(current, []))
    return total_kb / 1024


@dataclass
class Target:
    """One emulator under test."""

    name: str
    ws_url: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    results: dict[str, float] = field(default_factory=dict)


def start_wsgate(workdir: Path) -> Target:
    app = workdir / "bench_echo_app.py"
    app.write_text(PY_APP)
    port = free_port()
    env = dict(os.environ)
    env["WSGATE_REGISTRY"] = f"sqlite:///{workdir / 'registry.db'}"
    env["WSGATE_METRICS"] = "off"  # the handler is timed, not CloudWatch EMF printing
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgate.cli", "serve", str(app), "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Target("wsgate serve", f"ws://127.0.0.1:{port}/local", port, proc)


def start_offline() -> Target:
    binary = NODE_DIR / "node_modules" / ".bin" / "serverless"
    if not binary.exists():
        raise SystemExit(f"{binary} missing: run `npm install` in {NODE_DIR}")
    port = free_port()
    env = dict(os.environ)
    env.update(
        SLS_WS_PORT=str(port),
        SLS_HTTP_PORT=str(free_port()),
        SLS_LAMBDA_PORT=str(free_port()),
        SLS_TELEMETRY_DISABLED="1",
        SLS_NOTIFICATIONS_MODE="off",
        SLS_DEPRECATION_DISABLE="*",
    )
    proc = subprocess.Popen(
        [str(binary), "offline", "start"],
        cwd=NODE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return Target("serverless-offline", f"ws://127.0.0.1:{port}", port, proc)


async def wait_ready(target: Target, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            async with connect(target.ws_url, compression=None, open_timeout=2) as ws:
                await ws.send(json.dumps({"action": "echo2", "warm": True}))
                await asyncio.wait_for(ws.recv(), 5)
                return
        except (OSError, TimeoutError, Exception):
            await asyncio.sleep(0.3)
    raise SystemExit(f"{target.name} did not start on {target.ws_url}")


async def measure_rtt(target: Target, action: str, count: int) -> tuple[float, float]:
    """Median and p99 round trip in ms over ``count`` sequential echoes (after a warm-up)."""
    async with connect(target.ws_url, compression=None) as ws:
        for n in range(50):
            await ws.send(json.dumps({"action": action, "n": n}))
            await ws.recv()
        samples = []
        for n in range(count):
            message = json.dumps({"action": action, "n": n, "pad": "x" * 64})
            started = time.perf_counter()
            await ws.send(message)
            reply = await ws.recv()
            samples.append((time.perf_counter() - started) * 1000)
            if reply != message:
                raise SystemExit(f"{target.name}: wrong echo {reply!r}")
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def open_clients(url: str, count: int) -> list[ClientConnection]:
    gate = asyncio.Semaphore(100)

    async def one() -> ClientConnection:
        async with gate:
            return await connect(url, compression=None, open_timeout=60, ping_interval=None)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def measure_broadcast(target: Target, count: int, rounds: int, limit: float) -> float:
    """Median ms from the broadcast request until the last of ``count`` clients has it.

    A round that has not reached every client after ``limit`` seconds counts as ``inf``.
    """
    clients = await open_clients(target.ws_url, count)
    try:
        ids = []
        for ws in clients:
            await ws.send(json.dumps({"action": "hello"}))
            ids.append(json.loads(await asyncio.wait_for(ws.recv(), 30))["id"])
        times = []
        for _ in range(rounds):
            waits = [asyncio.ensure_future(ws.recv()) for ws in clients]
            started = time.perf_counter()
            await clients[0].send(json.dumps({"action": "broadcast", "ids": ids}))
            try:
                got = await asyncio.wait_for(asyncio.gather(*waits), limit)
            except TimeoutError:
                times.append(float("inf"))
                break  # the rest of the messages would arrive during the next round
            times.append((time.perf_counter() - started) * 1000)
            if any(g != "tick" for g in got):
                raise SystemExit(f"{target.name}: broadcast delivered something else")
            await asyncio.sleep(0.2)
        return statistics.median(times)
    finally:
        await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)


async def measure_idle_memory(target: Target, count: int, limit: float) -> tuple[float, float, int]:
    """Emulator RSS (MiB) before and with ``count`` idle raw-socket connections, and how many
    handshakes succeeded within ``limit`` seconds each."""
    assert target.proc is not None
    await asyncio.sleep(1.0)
    before = rss_mb(target.proc.pid)
    path = "/local" if target.name == "wsgate serve" else "/"
    handshake = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{target.port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    gate = asyncio.Semaphore(200)
    writers: list[asyncio.StreamWriter] = []

    async def one() -> None:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
            writers.append(writer)
            writer.write(handshake)
            status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), limit)
            if not status.startswith(b"HTTP/1.1 101"):
                raise ConnectionError(f"handshake failed: {status[:40]!r}")

    outcomes = await asyncio.gather(*(one() for _ in range(count)), return_exceptions=True)
    opened = sum(1 for o in outcomes if o is None)
    await asyncio.sleep(2.0)
    with_idle = rss_mb(target.proc.pid)
    for writer in writers:
        writer.transport.abort()
    return before, with_idle, opened


async def run_target(target: Target, args: argparse.Namespace) -> None:
    await wait_ready(target)
    r = target.results
    r["rtt_post_median"], r["rtt_post_p99"] = await measure_rtt(target, "echo", args.echoes)
    r["rtt_twoway_median"], r["rtt_twoway_p99"] = await measure_rtt(target, "echo2", args.echoes)
    r["broadcast_ms"] = await measure_broadcast(target, args.broadcast, args.rounds, args.limit)
    r["rss_before_mb"], r["rss_idle_mb"], opened = await measure_idle_memory(
        target, args.idle, args.limit
    )
    r["idle_opened"] = float(opened)


def stop(target: Target) -> None:
    if target.proc is not None and target.proc.poll() is None:
        target.proc.terminate()
        try:
            target.proc.wait(15)
        except subprocess.TimeoutExpired:
            target.proc.kill()


def table(ours: Target, theirs: Target | None, args: argparse.Namespace) -> str:
    rows = [
        ("round trip via PostToConnection, median (ms)", "rtt_post_median"),
        ("round trip via PostToConnection, p99 (ms)", "rtt_post_p99"),
        ("round trip via two-way route, median (ms)", "rtt_twoway_median"),
        ("round trip via two-way route, p99 (ms)", "rtt_twoway_p99"),
        (f"broadcast to {args.broadcast} clients, median of {args.rounds} (ms)", "broadcast_ms"),
        ("RSS before connections (MiB)", "rss_before_mb"),
        (f"RSS with {args.idle} idle connections (MiB)", "rss_idle_mb"),
        (f"idle connections actually opened (of {args.idle})", "idle_opened"),
    ]
    lines = [
        "| figure | wsgate serve | serverless-offline | wsgate / offline |",
        "|---|---:|---:|---:|",
    ]
    for label, key in rows:
        mine = ours.results[key]
        other = theirs.results.get(key) if theirs else None
        ratio = f"{mine / other:.3f}" if other and other != float("inf") else "n/a"
        if other is None:
            other_text = "n/a"
        elif other == float("inf"):
            other_text = f"not done in {args.limit:.0f} s"
        else:
            other_text = f"{other:.2f}"
        lines.append(f"| {label} | {mine:.2f} | {other_text} | {ratio} |")
    return "\n".join(lines)


def verdicts(ours: Target, theirs: Target | None, args: argparse.Namespace) -> str:
    """The acceptance targets, each checked against this run's figures."""
    r = ours.results
    lines = []
    if theirs is not None:
        ratio = r["rtt_post_median"] / theirs.results["rtt_post_median"]
        two_way = r["rtt_twoway_median"] / theirs.results["rtt_twoway_median"]
        lines.append(
            f"median round trip via PostToConnection {ratio:.3f}x serverless-offline's "
            f"(target <= 0.333x: {'met' if ratio <= 1 / 3 else 'NOT met'}); via a two-way "
            f"route {two_way:.3f}x ({'met' if two_way <= 1 / 3 else 'NOT met'})"
        )
    if args.broadcast == 1000:
        ms = r["broadcast_ms"]
        lines.append(
            f"broadcast to 1,000 clients {ms:.0f} ms (target < 250 ms: "
            f"{'met' if ms < 250 else 'NOT met'})"
        )
    if args.idle == 10000:
        mb = r["rss_idle_mb"] * 1.048576  # MiB -> MB
        lines.append(
            f"10,000 idle connections {mb:.0f} MB RSS (target < 300 MB: "
            f"{'met' if mb < 300 and r['idle_opened'] == args.idle else 'NOT met'})"
        )
    return "Targets: " + "; ".join(lines) + "." if lines else ""


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


async def run(args: argparse.Namespace) -> str:
    workdir = Path(tempfile.mkdtemp(prefix="wsgate-bench-"))
    targets: list[tuple[Callable[[], Target], bool]] = [
        (lambda: start_wsgate(workdir), True),
        (start_offline, not args.skip_offline),
    ]
    done: list[Target] = []
    try:
        for factory, enabled in targets:
            if not enabled:
                continue
            target = factory()
            try:
                await run_target(target, args)
            finally:
                stop(target)
            done.append(target)
            print(f"{target.name}: {json.dumps(target.results)}", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ours, theirs = done[0], (done[1] if len(done) > 1 else None)
    command = "python bench/bench_emulator.py" + (" --write" if args.write else "")
    defaults = {"echoes": 2000, "broadcast": 1000, "idle": 10000, "rounds": 5, "limit": 120.0}
    for name, default in defaults.items():
        if getattr(args, name) != default:
            command += f" --{name} {getattr(args, name):g}"
    if args.skip_offline:
        command += " --skip-offline"
    notes = [
        SECTION,
        "",
        f"Command: `.venv/bin/{command}` (run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())},"
        f" {os.cpu_count()} shared cores, Python {sys.version.split()[0]}, serverless@3 +"
        " serverless-offline@13 on Node "
        + (subprocess.run(["node", "-v"], capture_output=True, text=True).stdout.strip() or "?")
        + ").",
        "Same echo app and the same client (python `websockets`, no compression) for both;"
        " wsgate's handler uses `wsgate.gateway` (`ws_send_message`, `ws_broadcast_message`),"
        " serverless-offline's uses plain `fetch` to its `@connections` URL. Targets: median"
        " round trip <= 1/3 of serverless-offline's, broadcast to 1,000 clients < 250 ms,"
        " 10,000 idle connections < 300 MB.",
        "",
        table(ours, theirs, args),
        "",
        verdicts(ours, theirs, args),
        f"Load average at the end of the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        " (the machine is shared: absolute figures move with load, the ratios much less).",
    ]
    return "\n".join(notes) + "\n"


async def run_flood(args: argparse.Namespace) -> str:
    """This tree against ``--baseline`` (default: the merge base with main) under a flood."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import emulator_flood as flood

    ref = args.baseline or flood.merge_base()
    with tempfile.TemporaryDirectory(prefix="wsgate-flood-old-") as tmp:
        old_src = flood.export_tree(ref, Path(tmp))
        new_src = ROOT / "src"
        old = await flood.flood_one(
            "before", old_src, free_port(), args.flood_messages, args.flood_seconds
        )
        print(f"before: {json.dumps(old.figures())}", file=sys.stderr)
        new = await flood.flood_one(
            "after", new_src, free_port(), args.flood_messages, args.flood_seconds
        )
        print(f"after: {json.dumps(new.figures())}", file=sys.stderr)
    command = "python bench/bench_emulator.py --flood" + (" --write" if args.write else "")
    if args.flood_messages != 100_000:
        command += f" --flood-messages {args.flood_messages}"
    if args.flood_seconds != 30.0:
        command += f" --flood-seconds {args.flood_seconds:g}"
    if args.baseline:
        command += f" --baseline {args.baseline}"
    return flood.report(
        old,
        new,
        ref=ref,
        command=command,
        messages=args.flood_messages,
        seconds=args.flood_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--echoes", type=int, default=2000)
    parser.add_argument("--broadcast", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--idle", type=int, default=10000)
    parser.add_argument(
        "--limit", type=float, default=120.0, help="seconds before a broadcast round gives up"
    )
    parser.add_argument("--skip-offline", action="store_true")
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument(
        "--flood", action="store_true", help="the flood comparison (this tree vs --baseline)"
    )
    parser.add_argument("--flood-messages", type=int, default=100_000)
    parser.add_argument("--flood-seconds", type=float, default=30.0)
    parser.add_argument("--baseline", help="git ref of the older emulator (merge base with main)")
    args = parser.parse_args(argv)
    if args.flood:
        text = asyncio.run(run_flood(args))
        print(text)
        if args.write:
            from emulator_flood import SECTION as FLOOD_SECTION

            write_section(FLOOD_SECTION, text)
        return 0
    raise_fd_limit(args.idle + args.broadcast + 1000)
    text = asyncio.run(run(args))
    print(text)
    if args.write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
