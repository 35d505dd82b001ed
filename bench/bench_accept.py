"""The emulator's accept path (one port for TLS and plain) against asyncio's own, in one run.

``wsgate.local.listener.Listener`` peeks each new connection's first byte and hands the socket
to asyncio with or without TLS. The baseline is what the emulator used before:
``loop.create_server`` (plain) and ``loop.create_server(ssl=...)`` (TLS on a port of its own).
Each server runs in its own subprocess with the same tiny protocol (answer one HTTP request,
close); one client process measures wall time, and each server reports its own CPU time:

- sequential: connect, send a request, read the answer to EOF, one connection after the other
  (connection set-up latency; plain and TLS);
- burst: that many connections at once (the accept loop under a connection storm).

Rounds alternate baseline and Listener; figures are medians over the rounds, ratios
Listener / baseline. Run::

    .venv/bin/python bench/bench_accept.py            # prints a Markdown table
    .venv/bin/python bench/bench_accept.py --write    # also updates bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "RESULTS.md"
SECTION = "## Emulator accept path (one port for TLS and plain)"

SERVER = r"""
import asyncio, resource, ssl, sys
from pathlib import Path
from wsgate.local.listener import Listener
from wsgate.local.tls import LocalCA

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"

class Answer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        self.transport.write(ANSWER)
        self.transport.close()

async def main(kind, tls, ca_dir):
    context = LocalCA.load_or_create(Path(ca_dir)).server_context() if tls == "tls" else None
    loop = asyncio.get_running_loop()
    if kind == "asyncio":
        server = await loop.create_server(Answer, "127.0.0.1", 0, backlog=4096, ssl=context)
    else:
        server = Listener(Answer, tls=context)
        await server.start("127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    while await loop.run_in_executor(None, sys.stdin.readline):  # each line: report CPU so far
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(usage.ru_utime + usage.ru_stime, flush=True)

asyncio.run(main(*sys.argv[1:]))
"""


def start_server(kind: str, tls: str, ca_dir: str) -> tuple[subprocess.Popen[str], int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER, kind, tls, ca_dir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def server_cpu(proc: subprocess.Popen[str]) -> float:
    """The server process's CPU seconds so far (user + system)."""
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("cpu\n")
    proc.stdin.flush()
    return float(proc.stdout.readline())


def stop_server(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    proc.wait(30)
    proc.stdout.close()


async def one(port: int, context: ssl.SSLContext | None) -> None:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=context, server_hostname="localhost" if context else None
    )
    writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    answer = await reader.read()
    assert answer.endswith(b"ok"), answer
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        await writer.wait_closed()


async def sequential(port: int, context: ssl.SSLContext | None, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        await one(port, context)
    return (time.perf_counter() - start) / count * 1e6  # µs per connection


async def burst(port: int, count: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(one(port, None) for _ in range(count)))
    return (time.perf_counter() - start) * 1e3  # ms for all


def measure(kind: str, ca_dir: str, args: argparse.Namespace) -> dict[str, float]:
    figures: dict[str, float] = {}
    proc, port = start_server(kind, "plain", ca_dir)
    try:
        cpu = server_cpu(proc)
        figures["plain"] = asyncio.run(sequential(port, None, args.sequential))
        figures["plain_cpu"] = (server_cpu(proc) - cpu) / args.sequential * 1e6
        figures["burst"] = asyncio.run(burst(port, args.burst))
    finally:
        stop_server(proc)
    proc, port = start_server(kind, "tls", ca_dir)
    try:
        context = ssl.create_default_context(cafile=str(Path(ca_dir) / "ca.pem"))
        cpu = server_cpu(proc)
        figures["tls"] = asyncio.run(sequential(port, context, args.tls))
        figures["tls_cpu"] = (server_cpu(proc) - cpu) / args.tls * 1e6
    finally:
        stop_server(proc)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequential", type=int, default=2000)
    parser.add_argument("--tls", type=int, default=500)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args(argv)
    rows: dict[str, dict[str, list[float]]] = {"asyncio": {}, "listener": {}}
    with tempfile.TemporaryDirectory(prefix="wsgate-bench-ca-") as ca_dir:
        for _ in range(args.rounds):
            for kind in ("asyncio", "listener"):
                for name, value in measure(kind, ca_dir, args).items():
                    rows[kind].setdefault(name, []).append(value)
    labels = {
        "plain": f"plain HTTP connection, sequential x{args.sequential} (µs each)",
        "plain_cpu": "server CPU per plain connection (µs, user+sys)",
        "tls": f"TLS connection incl. handshake, sequential x{args.tls} (µs each)",
        "tls_cpu": "server CPU per TLS connection (µs, user+sys)",
        "burst": f"{args.burst} plain connections at once (ms for all)",
    }
    lines = [
        SECTION,
        "",
        f"Command: `.venv/bin/python bench/bench_accept.py{' --write' if args.write else ''}` "
        f"(run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} shared "
        f"cores, Python {sys.version.split()[0]}, {ssl.OPENSSL_VERSION}). Server and client in "
        f"separate processes; medians of {args.rounds} alternating rounds. Baseline: "
        "`loop.create_server` (TLS on a port of its own); Listener: the emulator's one port "
        "(first byte peeked, then `connect_accepted_socket` with or without TLS). Wall times "
        "move with the machine's load; the server's own CPU time per connection much less.",
        "",
        "| figure | asyncio create_server | Listener | Listener / baseline |",
        "|---|---:|---:|---:|",
    ]
    for name, label in labels.items():
        base = statistics.median(rows["asyncio"][name])
        ours = statistics.median(rows["listener"][name])
        lines.append(f"| {label} | {base:.1f} | {ours:.1f} | {ours / base:.2f}x |")
    load = os.getloadavg()
    lines += ["", f"Load average at the end: {load[0]:.1f} on {os.cpu_count()} CPUs."]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
