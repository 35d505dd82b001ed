"""The seed's anti-pattern 3 measured: a loop of ``ws_send_message`` against one
``ws_broadcast_message``, and what the gateway layer costs over ``Sender.broadcast``.

A local ``@connections`` stub (asyncio, HTTP/1.1 keep-alive, in its own process) answers each
POST after ``--latency-ms``, standing in for API Gateway. All three contenders run in this
process, one after the other, against the same stub and the same in-memory registry:

* the seed's sequential loop (``for c in connections: ws_send_message(...)``), on a sample;
* ``ws_broadcast_message(connection_ids, data)`` (the seed's "DO");
* ``Sender.broadcast`` directly (the baseline the gateway layer wraps).

Usage: ``python bench/bench_gateway.py [--n 2000] [--sample 200] [--latency-ms 10] [--write]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from common import write_section

RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## Gateway"


# --- the stub (runs in a child process) --------------------------------------------------------


async def _serve(latency: float) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                match = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if match:
                    await reader.readexactly(int(match.group(1)))
                await asyncio.sleep(latency)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def _start_stub(latency_ms: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--stub", str(latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


# --- the measurement ----------------------------------------------------------------------------


def measure(n: int, sample: int, latency_ms: float) -> dict[str, float]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_REGION", "us-east-1")
    os.environ.setdefault("WSGATE_METRICS", "off")  # no EMF lines on stdout while timing
    from wsgate import config
    from wsgate.gateway import ws_broadcast_message, ws_get_all_connections, ws_send_message
    from wsgate.registry import open_registry

    proc, port = _start_stub(latency_ms)
    try:
        registry = open_registry("memory://")
        endpoint = f"http://127.0.0.1:{port}/bench"
        config.configure(registry=registry, endpoint=endpoint)
        for i in range(n):
            registry.store(f"conn-{i:06d}=", endpoint=endpoint)
        connections = ws_get_all_connections()
        ids = [c["connectionId"] for c in connections]
        data = {"type": "notification", "message": "x" * 100}
        ws_broadcast_message(ids[:50], data)  # warm up: pool, loop thread, signer

        started = time.perf_counter()
        for connection in connections[:sample]:  # anti-pattern 3, as the seed prints it
            ws_send_message(connection["connectionId"], data)
        sequential = sample / (time.perf_counter() - started)

        started = time.perf_counter()
        results = ws_broadcast_message(connection_ids=ids, data=data)
        gateway = n / (time.perf_counter() - started)
        assert all(results.values()) and len(results) == n

        sender = config.get_sender()
        started = time.perf_counter()
        direct = sender.broadcast(ids, data)
        baseline = n / (time.perf_counter() - started)
        assert len(direct.sent) == n
    finally:
        config.reset()
        proc.terminate()
        proc.wait(10)
    return {"sequential": sequential, "gateway": gateway, "sender": baseline}


def report(args: argparse.Namespace, rates: dict[str, float]) -> str:
    command = "python bench/bench_gateway.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in (("n", args.n), ("sample", args.sample))
    )
    command += f" --latency-ms {args.latency_ms:g} --write"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("seed anti-pattern 3: `ws_send_message` loop", rates["sequential"], args.sample),
        ("`ws_broadcast_message` (the seed's DO)", rates["gateway"], args.n),
        ("`Sender.broadcast` directly (baseline)", rates["sender"], args.n),
    ]
    lines = [
        SECTION,
        "",
        f"Command: `{command}` (CPython {platform.python_version()}, 2 CPUs shared with other "
        f"work; {when}). Local `@connections` stub in its own process answering each POST "
        f"after {args.latency_ms:g} ms; in-memory registry.",
        "",
        "| contender | sends | sends/s | ratio to the seed's loop | ratio to `Sender.broadcast` |",
        "|---|---|---|---|---|",
    ]
    for name, rate, count in rows:
        lines.append(
            f"| {name} | {count} | {rate:,.0f} | {rate / rates['sequential']:.1f} | "
            f"{rate / rates['sender']:.2f} |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--stub":
        asyncio.run(_serve(float(sys.argv[2]) / 1000))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="broadcast recipients")
    parser.add_argument("--sample", type=int, default=200, help="sends in the sequential loop")
    parser.add_argument("--latency-ms", type=float, default=10.0, help="stub answer delay")
    parser.add_argument("--write", action="store_true", help=f"update {RESULTS.name}")
    args = parser.parse_args()
    section = report(args, measure(args.n, args.sample, args.latency_ms))
    print(section)
    if args.write:
        write_section(SECTION, section)


if __name__ == "__main__":
    main()
