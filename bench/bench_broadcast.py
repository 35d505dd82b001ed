"""Broadcast throughput and CPU cost: wsgate's sender against boto3, in one run.

Every contender runs in its own fresh subprocess against the same local ``@connections``
stub (another subprocess, answering every request after ``--delay`` ms, like the Management
API's ~20 ms), and reports wall time plus its own process CPU time (``getrusage``, all
threads) for the sends alone. Contenders:

* ``wsgate``        — ``Sender.broadcast`` (stdlib transport, 256 in flight), the first
  broadcast of a fresh process (it opens the connections);
* ``wsgate-warm``   — the same, timing the second broadcast of a process (a warm container);
* ``wsgate-boto3``  — ``Sender(transport="boto3").broadcast`` (64 threads);
* ``boto3-threads`` — the usual fix: a boto3 client shared by 64 threads (the baseline);
* ``boto3-loop``    — the seed's anti-pattern, one send after the other (a sample of
  ``--loop-sample`` sends; its rate is what matters).

wsgate and boto3-threads alternate for ``--rounds`` rounds (default 5); every figure in the
table is the median over the rounds of that figure (the ratios: median of the per-round
ratios), and every round's ratios are listed.

The stub answers what API Gateway answers (``200 OK``, ``Content-Length: 0`` and its six
other headers), so response parsing costs what it costs against AWS.

Import cost of the send path (``import wsgate.sender`` + first ``Sender``) against ``import
boto3`` + first client, median of fresh interpreters; for scale, ``import asyncio`` alone (the
floor of any asyncio send path, which wsgate's no longer is) and the one-time TLS set-up of the
first https connection (``import ssl`` + ``ssl.create_default_context()``, which every client,
boto3 included, pays on its first request). Run::

    .venv/bin/python bench/bench_broadcast.py            # N = 10,000, 20 ms
    .venv/bin/python bench/bench_broadcast.py --write    # and record in bench/RESULTS.md
    .venv/bin/python bench/bench_broadcast.py --tls      # the same over TLS (own section)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from pathlib import Path

from common import write_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENV = {
    **os.environ,
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "PYTHONPATH": str(ROOT / "src"),
}
ENV.pop("WSGATE_ENDPOINT", None)
# Measure packages as installed: pip compiles bytecode on install (boto3's is in site-packages);
# a source checkout run with PYTHONDONTWRITEBYTECODE would recompile wsgate at every start.
ENV.pop("PYTHONDONTWRITEBYTECODE", None)
ENV["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "wsgate-bench-pycache")

# What API Gateway answers to PostToConnection (header set as AWS sends it).
_OK = (
    b"HTTP/1.1 200 OK\r\nDate: Wed, 25 Nov 2026 19:40:00 GMT\r\n"
    b"Content-Type: application/json\r\nContent-Length: 0\r\nConnection: keep-alive\r\n"
    b"x-amzn-RequestId: 4f1c0c2e-2b7e-4f0a-9d7b-0c4a3e1f2a11\r\n"
    b"x-amz-apigw-id: AbCdEfGhIjKlMnO=\r\n"
    b"X-Amzn-Trace-Id: Root=1-6565e2a0-1234567890abcdef12345678\r\n\r\n"
)


# --- the stub ---------------------------------------------------------------------------------


class _Answers:
    """Due answers in arrival order, written by one timer (a timer per request would make
    the stub, not the client under test, the bottleneck on a 2-CPU machine). The delay is
    constant, so arrival order is due order; answers go out up to 0.5 ms late."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.loop = asyncio.get_running_loop()
        self.due: deque[tuple[float, asyncio.Transport]] = deque()
        self.handle: asyncio.TimerHandle | None = None

    def add(self, transport: asyncio.Transport) -> None:
        at = self.loop.time() + self.delay
        self.due.append((at, transport))
        if self.handle is None:
            self.handle = self.loop.call_at(at, self.flush)

    def flush(self) -> None:
        now = self.loop.time()
        due = self.due
        while due and due[0][0] <= now:
            transport = due.popleft()[1]
            if not transport.is_closing():
                transport.write(_OK)
        self.handle = self.loop.call_at(max(due[0][0], now + 0.0005), self.flush) if due else None


class _StubProtocol(asyncio.Protocol):
    """Answers each request 200 after a fixed delay (requests on a connection are serial)."""

    def __init__(self, answers: _Answers, counter: list[int]) -> None:
        self.answers = answers
        self.counter = counter
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(buf) < end + 4 + length:
                break
            buf = buf[end + 4 + length :]
            self.counter[0] += 1
            assert self.transport is not None
            self.answers.add(self.transport)
        self.buf = buf


async def _serve(delay: float, certdir: str | None) -> None:
    counter = [0]
    answers = _Answers(delay)
    loop = asyncio.get_running_loop()
    context = None
    if certdir:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(f"{certdir}/cert.pem", f"{certdir}/key.pem")
    server = await loop.create_server(
        lambda: _StubProtocol(answers, counter), "127.0.0.1", 0, backlog=4096, ssl=context
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until parent closes
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"requests": counter[0], "cpu": usage.ru_utime + usage.ru_stime}), flush=True)


# --- contenders (each in its own process) -----------------------------------------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _contender(name: str, endpoint: str, n: int) -> dict[str, float]:
    ids = [f"Bench{i:06d}Id=" for i in range(n)]
    data = b'{"type":"tick","payload":"' + b"x" * 200 + b'"}'
    cafile = os.environ.get("BENCH_CAFILE")  # --tls: the stub's self-signed certificate
    if name in ("wsgate", "wsgate-warm", "wsgate-boto3", "wsgate-ref"):
        from wsgate.sender import Sender

        if cafile:
            import ssl

            context = ssl.create_default_context(cafile=cafile)
            sender = Sender(endpoint, ssl_context=context)
        else:
            sender = Sender(endpoint, transport="boto3" if name == "wsgate-boto3" else None)
        if name == "wsgate-warm":  # a warm container: loop, connections and templates exist
            sender.broadcast(ids, data)
        cpu0, t0 = _cpu(), time.perf_counter()
        result = sender.broadcast(ids, data)
        wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
        ok = len(result.sent)
    else:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=endpoint,
            config=Config(max_pool_connections=64),
            verify=cafile or True,
        )
        if name == "boto3-threads":
            from concurrent.futures import ThreadPoolExecutor

            def post(cid: str) -> None:
                client.post_to_connection(ConnectionId=cid, Data=data)

            cpu0, t0 = _cpu(), time.perf_counter()
            with ThreadPoolExecutor(64) as pool:
                list(pool.map(post, ids))
            wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
        else:
            cpu0, t0 = _cpu(), time.perf_counter()
            for cid in ids:
                client.post_to_connection(ConnectionId=cid, Data=data)
            wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
        ok = n
    return {"n": n, "ok": ok, "wall": wall, "cpu": cpu}


_IMPORT_WSGATE = (
    "import time; t=time.perf_counter(); import wsgate.sender as s;"
    "s.Sender('https://abc.execute-api.eu-west-1.amazonaws.com/prod');"
    "print(time.perf_counter()-t)"
)
_IMPORT_BOTO3 = (
    "import time; t=time.perf_counter(); import boto3;"
    "boto3.client('apigatewaymanagementapi',"
    " endpoint_url='https://abc.execute-api.eu-west-1.amazonaws.com/prod');"
    "print(time.perf_counter()-t)"
)


_IMPORT_ASYNCIO = "import time; t=time.perf_counter(); import asyncio; print(time.perf_counter()-t)"
_IMPORT_TLS = (
    "import time; t=time.perf_counter(); import ssl; ssl.create_default_context();"
    "print(time.perf_counter()-t)"
)


def _import_times(codes: list[str], runs: int) -> list[float]:
    """Median seconds per snippet, fresh interpreters, the snippets interleaved run by run
    (so a burst of load on the shared machine hits every contender alike)."""
    samples: list[list[float]] = [[] for _ in codes]
    for code in codes:  # warm-up: writes the bytecode cache, not counted
        subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, check=True)
    for _ in range(runs):
        for i, code in enumerate(codes):
            out = subprocess.run(
                [sys.executable, "-c", code], env=ENV, capture_output=True, text=True, check=True
            )
            samples[i].append(float(out.stdout))
    return [statistics.median(s) for s in samples]


def _cpu_speed() -> float:
    """Seconds for a fixed Python loop: how fast this (shared) machine is right now."""
    t0 = time.perf_counter()
    x = 0
    for i in range(1_000_000):
        x += i
    return time.perf_counter() - t0


# --- driver -----------------------------------------------------------------------------------


def _self_signed(directory: Path) -> None:
    """A certificate for 127.0.0.1 (and its key) in ``directory``, for ``--tls``."""
    import ipaddress

    from cryptography import x509

    sys.path.insert(0, str(ROOT / "tests"))
    from support.tls import self_signed  # the tests' helper

    self_signed(directory, x509.IPAddress(ipaddress.ip_address("127.0.0.1")), hours=6)


def _run_contender(name: str, endpoint: str, n: int, src: str | None = None) -> dict[str, float]:
    env = ENV if src is None else {**ENV, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, __file__, "_client", name, endpoint, str(n)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="recipients per broadcast")
    parser.add_argument("--delay", type=float, default=20.0, help="stub answer delay, ms")
    parser.add_argument("--loop-sample", type=int, default=500, help="sends for boto3-loop")
    parser.add_argument("--import-runs", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=5, help="wsgate/boto3-threads pairs")
    parser.add_argument("--write", action="store_true", help="record in bench/RESULTS.md")
    parser.add_argument(
        "--ref",
        help="also run wsgate at this git revision each round (wsgate-ref), e.g. before a change",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="stub and contenders over TLS (a self-signed certificate made for the run)",
    )
    args = parser.parse_args()

    certdir = ""
    if args.tls:
        certdir = tempfile.mkdtemp(prefix="wsgate-bench-tls-")
        _self_signed(Path(certdir))
        ENV["BENCH_CAFILE"] = f"{certdir}/cert.pem"
    speed_before, load_before = _cpu_speed(), os.getloadavg()[0]
    stub = subprocess.Popen(
        [sys.executable, __file__, "_stub", str(args.delay / 1000), certdir],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    assert stub.stdout is not None and stub.stdin is not None
    scheme = "https" if args.tls else "http"
    endpoint = f"{scheme}://127.0.0.1:{stub.stdout.readline().strip()}/bench"
    runs: dict[str, list[dict[str, float]]] = {}
    # wsgate and the boto3-threads baseline alternate, round by round, so a burst of load on
    # the shared machine hits both; each figure is tabulated as its median over the rounds.
    plan = [("wsgate", args.n), ("boto3-threads", args.n), ("wsgate-warm", args.n)]
    ref_src = None
    if args.ref:
        ref_dir = Path(tempfile.mkdtemp(prefix="wsgate-ref-"))
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.ref, "src"], capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(ref_dir)], input=archive.stdout, check=True)
        ref_src = str(ref_dir / "src")
        plan.append(("wsgate-ref", args.n))
    plan = plan * args.rounds + [("boto3-loop", args.loop_sample)]
    if not args.tls:  # (Boto3Transport has no CA-file setting for the self-signed stub)
        plan.insert(-1, ("wsgate-boto3", args.n))
    try:
        for name, n in plan:
            r = _run_contender(name, endpoint, n, ref_src if name == "wsgate-ref" else None)
            runs.setdefault(name, []).append(r)
            print(
                f"{name:14s} n={int(r['n']):6d} ok={int(r['ok']):6d} "
                f"{r['n'] / r['wall']:9.0f} sends/s {r['cpu'] / r['n'] * 1e6:7.1f} µs CPU/send",
                flush=True,
            )
    finally:
        stub.stdin.close()
        stats = json.loads(stub.stdout.readline() or "{}")
        stub.wait(10)
    imp_wsgate, imp_boto3, imp_asyncio, imp_tls = _import_times(
        [_IMPORT_WSGATE, _IMPORT_BOTO3, _IMPORT_ASYNCIO, _IMPORT_TLS], args.import_runs
    )
    speed_after, load_after = _cpu_speed(), os.getloadavg()[0]
    pairs = list(zip(runs["wsgate"], runs["boto3-threads"], strict=True))
    speed_ratios = [(w["n"] / w["wall"]) / (b["n"] / b["wall"]) for w, b in pairs]
    cpu_ratios = [(w["cpu"] / w["n"]) / (b["cpu"] / b["n"]) for w, b in pairs]
    med = statistics.median

    def figures(rs: list[dict[str, float]]) -> tuple[float, float]:
        """Median sends/s and median CPU seconds per send over the rounds."""
        return med(r["n"] / r["wall"] for r in rs), med(r["cpu"] / r["n"] for r in rs)

    base_rate, base_cpu = figures(runs["boto3-threads"])
    table = [
        "| contender | sends | rounds | sends/s | CPU µs/send (user+sys) "
        "| sends/s vs boto3-threads | CPU vs boto3-threads |",
        "|---|---|---|---|---|---|---|",
    ]
    names = ("wsgate", "wsgate-warm", "wsgate-ref", "boto3-threads", "wsgate-boto3", "boto3-loop")
    for name in names:
        if name not in runs:
            continue
        rs = runs[name]
        rate, cpu = figures(rs)
        if name == "wsgate":  # the ratios measured side by side, round by round
            rate_x, cpu_x = med(speed_ratios), med(cpu_ratios)
        else:
            rate_x, cpu_x = rate / base_rate, cpu / base_cpu
        label = {
            "wsgate-ref": f"wsgate at `{args.ref}` (before; first broadcast of a process)",
            "wsgate": "wsgate (first broadcast of a process: opens its connections)",
            "wsgate-warm": "wsgate-warm (second broadcast of a process: a warm container)",
        }.get(name, name)
        table.append(
            f"| {label} | {int(rs[0]['n']):,} | {len(rs)} | {rate:,.0f} | {cpu * 1e6:,.1f} | "
            f"{rate_x:.2f}x | {cpu_x:.3f}x |"
        )
    table += [
        "",
        "| send path import + first client (median of fresh interpreters) | ms | ratio |",
        "|---|---|---|",
        f"| `import wsgate.sender` + `Sender(...)` | {imp_wsgate * 1000:.1f} | "
        f"{imp_wsgate / imp_boto3:.2f}x |",
        f"| `import boto3` + `boto3.client('apigatewaymanagementapi')` (baseline) | "
        f"{imp_boto3 * 1000:.1f} | 1.00x |",
        f"| for scale: `import asyncio` alone (the floor of any asyncio send path) | "
        f"{imp_asyncio * 1000:.1f} | {imp_asyncio / imp_boto3:.2f}x |",
        f"| for scale: first https connection's TLS set-up, `import ssl` + "
        f"`ssl.create_default_context()` (any client pays it once) | {imp_tls * 1000:.1f} | "
        f"{imp_tls / imp_boto3:.2f}x |",
    ]
    rate, cpu_s = figures(runs["wsgate"])
    cpu_us = cpu_s * 1e6
    warm_rate, warm_cpu = figures(runs["wsgate-warm"])
    speedup = med(speed_ratios)

    def verdict(ok: bool, miss: str) -> str:
        return "met" if ok else f"missed by {miss}"

    table += [
        "",
        "Rounds (wsgate vs boto3-threads, alternating): wsgate sends/s "
        + ", ".join(f"{r['n'] / r['wall']:,.0f}" for r in runs["wsgate"])
        + "; wsgate CPU µs/send "
        + ", ".join(f"{r['cpu'] / r['n'] * 1e6:.1f}" for r in runs["wsgate"])
        + "; sends/s ratio "
        + ", ".join(f"{x:.1f}x" for x in speed_ratios)
        + "; CPU ratio "
        + ", ".join(f"{x:.3f}x" for x in cpu_ratios)
        + ".",
    ]
    if "wsgate-ref" in runs:
        ref_pairs = list(zip(runs["wsgate"], runs["wsgate-ref"], strict=True))
        ref_cpu = [(w["cpu"] / w["n"]) / (r["cpu"] / r["n"]) for w, r in ref_pairs]
        ref_rate = [(w["n"] / w["wall"]) / (r["n"] / r["wall"]) for w, r in ref_pairs]
        table += [
            "",
            f"wsgate now vs wsgate at `{args.ref}`, round by round: CPU per send "
            + ", ".join(f"{x:.2f}x" for x in ref_cpu)
            + f" (median {med(ref_cpu):.2f}x); sends/s "
            + ", ".join(f"{x:.2f}x" for x in ref_rate)
            + f" (median {med(ref_rate):.2f}x).",
        ]
    table += [
        "",
        ("Over TLS (the issue's targets are for plain HTTP; for reference), " if args.tls else "")
        + "Targets (issue 4), medians over the rounds: "
        f"≥ 10,000 sends/s: {rate:,.0f} — {verdict(rate >= 10_000, f'{1 - rate / 10_000:.0%}')}; "
        f"≤ 60 µs CPU/send: {cpu_us:.1f} — {verdict(cpu_us <= 60, f'{cpu_us / 60 - 1:.0%}')} "
        f"(warm container: {warm_rate:,.0f} sends/s at {warm_cpu * 1e6:.1f} µs CPU/send); "
        f"≥ 7x boto3-threads: {speedup:.1f}x — {verdict(speedup >= 7, f'{1 - speedup / 7:.0%}')}; "
        f"≤ 50 ms import: {imp_wsgate * 1000:.0f} ms — "
        f"{verdict(imp_wsgate <= 0.05, f'{imp_wsgate / 0.05 - 1:.0%}')} "
        f"({imp_wsgate / imp_boto3:.2f}x boto3's; asyncio alone: {imp_asyncio * 1000:.0f} ms).",
    ]
    stub_line = (
        f"Stub: {stats.get('requests', 0):,} requests answered after {args.delay:g} ms, "
        f"{stats.get('cpu', 0.0) / max(1, stats.get('requests', 1)) * 1e6:.1f} µs CPU each."
    )
    stub_line += (
        f" Machine during the run: load average {load_before:.1f} → {load_after:.1f} on "
        f"{os.cpu_count()} CPUs; a 10⁶-iteration Python loop took {speed_before * 1000:.0f} → "
        f"{speed_after * 1000:.0f} ms (time the same loop on an idle machine to scale the "
        "absolute figures); the ratios are measured side by side."
    )
    print("\n".join(table))
    print(stub_line)
    if args.write:
        _write(table, stub_line, args)


def _write(table: list[str], stub_line: str, args: argparse.Namespace) -> None:
    cmd = ".venv/bin/python bench/bench_broadcast.py"
    if args.n != 10_000 or args.delay != 20.0:
        cmd += f" -n {args.n} --delay {args.delay:g}"
    if args.rounds != 5:
        cmd += f" --rounds {args.rounds}"
    if args.ref:
        cmd += f" --ref {args.ref}"
    heading = "## Sender and broadcast"
    if args.tls:
        cmd += " --tls"
        heading += " over TLS"
    section = "\n".join(
        [
            heading,
            "",
            f"Command: `{cmd} --write` (CPython {sys.version.split()[0]}, "
            f"{os.cpu_count()} CPUs shared with other work; "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}). One run: every contender in "
            f"its own process against one local `@connections` stub process"
            + (
                " over TLS (a self-signed certificate for 127.0.0.1, made for the run)"
                if args.tls
                else ""
            )
            + "; CPU is the contender's own process CPU time (user + system, all threads) for the "
            "sends alone.",
            "",
            *table,
            "",
            stub_line,
            "",
        ]
    )
    write_section(heading, section)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_stub":
        asyncio.run(_serve(float(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None))
    elif len(sys.argv) > 1 and sys.argv[1] == "_client":
        print(json.dumps(_contender(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        main()
