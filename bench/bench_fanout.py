"""Broadcast at any room size: paged ids-only lookups and the SQS hand-off, in one run.

On dynalite (started here on a free loopback port), for rooms of ``--sizes`` members:

* **lookup**: DynamoDB requests and consumed read capacity of one broadcast lookup, today's
  ``room_members`` (Query on ``byGroup`` + consistent BatchGetItem per 100 members, the path
  ``ws_broadcast_to_room`` used) against the new ``group_pages`` (Query only, 1 MB pages);
  capacity is what dynalite reports with ``ReturnConsumedCapacity=TOTAL``.
* **time to first send**: a real broadcast through ``Sender`` to the Management API stub
  (``tests/sender/apistub.py``): from the call to the first ``PostToConnection`` batch, and the
  whole broadcast, ``broadcast(room_members(...))`` against ``broadcast_pages(group_pages(...))``.
* **hand-off**: the handler's ``Fanout.broadcast_to_room`` (one Query of at most threshold + 1
  ids, one SendMessageBatch to a FIFO queue on moto_server) against the direct broadcast.
* **delivery with 1, 2 and 4 local workers**: the plan and its chunks polled from the queue
  (``QueuePoller``, threads of this process) and posted to the stub; total time from the hand-off
  to the last chunk, and the peak traced memory of the worker code (``tracemalloc``, in a
  separate 1-worker run) against the room size.

    .venv/bin/python bench/bench_fanout.py --sizes 10000 100000 --write
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from common import write_section

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from sender.apistub import ApiStub
from wsgate.fanout import Fanout, FanoutQueue, FanoutWorker
from wsgate.fanout.local import QueuePoller
from wsgate.registry.dynamodb import DynamoDBRegistry
from wsgate.sender import Sender, StaticCredentials
from wsgate.testing.servers import start_dynalite, start_moto_server

SECTION = "## Fan-out"
ROOM = "big"


class Meter:
    """Counts requests and consumed read capacity of a boto3 DynamoDB client."""

    def __init__(self, client: Any) -> None:
        self.requests: dict[str, int] = {}
        self.capacity = 0.0
        client.meta.events.register("provide-client-params.dynamodb.*", self._ask)
        client.meta.events.register("after-call.dynamodb.*", self._count)

    @staticmethod
    def _ask(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in ("Query", "BatchGetItem", "GetItem", "Scan"):
            params["ReturnConsumedCapacity"] = "TOTAL"

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self.requests[model.name] = self.requests.get(model.name, 0) + 1
        used = parsed.get("ConsumedCapacity")
        for entry in used if isinstance(used, list) else [used] if used else []:
            self.capacity += float(entry.get("CapacityUnits", 0.0))

    def reset(self) -> None:
        self.requests, self.capacity = {}, 0.0


def load_room(client: Any, table: str, endpoint: str, size: int) -> list[str]:
    """Write ``size`` connection items and their memberships with BatchWriteItem (4 threads)."""
    expires = str(int(time.time()) + 7200)
    ids = [f"conn{n:07d}=" for n in range(size)]

    def put(batch: list[str]) -> None:
        items = []
        for cid in batch:
            items.append(
                {
                    "connectionId": {"S": cid},
                    "sk": {"S": "connection"},
                    "connectedAt": {"N": "1"},
                    "lastActivity": {"N": "1"},
                    "metadata": {"M": {"client": {"S": "bench"}}},
                    "expiresAt": {"N": expires},
                    "endpoint": {"S": endpoint},
                    "rooms": {"SS": [ROOM]},
                }
            )
            items.append(
                {
                    "connectionId": {"S": cid},
                    "sk": {"S": f"room#{ROOM}"},
                    "groupKey": {"S": f"room#{ROOM}"},
                    "expiresAt": {"N": expires},
                    "endpoint": {"S": endpoint},
                }
            )
        for start in range(0, len(items), 25):
            pending = {table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
            while pending:
                pending = client.batch_write_item(RequestItems=pending).get("UnprocessedItems")

    batches = [ids[i : i + 250] for i in range(0, size, 250)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, batches))
    return ids


def first_send_timer(sender: Sender) -> dict[str, float]:
    """Wrap the sender's engine to note when the first batch of posts starts."""
    marks: dict[str, float] = {}
    post = sender._engine.post_many

    def timed(*args: Any) -> None:
        marks.setdefault("first", time.perf_counter())
        post(*args)

    sender._engine.post_many = timed  # type: ignore[method-assign]
    return marks


def measure_size(size: int, dynalite: Any, moto: Any, workers: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"size": size}
    client = boto3.client(
        "dynamodb", config=Config(retries={"mode": "standard"}), **dynalite.boto_kwargs
    )
    meter = Meter(client)
    registry = DynamoDBRegistry(f"bench-{uuid.uuid4().hex[:8]}", client=client)
    registry.create_table()
    sqs = boto3.client("sqs", **moto.boto_kwargs)
    queue_url = sqs.create_queue(
        QueueName=f"bench-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "VisibilityTimeout": "300"},
    )["QueueUrl"]
    with ApiStub(record=False) as stub:
        started = time.perf_counter()
        ids = load_room(client, registry.table_name, stub.endpoint, size)
        out["load_s"] = time.perf_counter() - started
        stub.connect(*ids)
        meter.reset()
        started = time.perf_counter()
        records = registry.room_members(ROOM)
        out["today_lookup_s"] = time.perf_counter() - started
        out["today_requests"], out["today_rcu"] = dict(meter.requests), meter.capacity
        assert len(records) == size, len(records)
        del records
        meter.reset()
        started = time.perf_counter()
        pages = list(registry.group_pages("room", ROOM))
        out["new_lookup_s"] = time.perf_counter() - started
        out["new_requests"], out["new_rcu"] = dict(meter.requests), meter.capacity
        out["pages"] = len(pages)
        assert sum(len(p) for p in pages) == size
        del pages
        creds = StaticCredentials("AK", "SK")
        for label, run in (
            ("today", lambda s: s.broadcast(registry.room_members(ROOM), "m")),
            ("new", lambda s: s.broadcast_pages(registry.group_pages("room", ROOM), "m")),
        ):
            sender = Sender(registry=registry, credentials=creds, region="us-east-1")
            marks = first_send_timer(sender)
            started = time.perf_counter()
            result = run(sender)
            out[f"{label}_first_send_s"] = marks["first"] - started
            out[f"{label}_broadcast_s"] = time.perf_counter() - started
            assert len(result.sent) == size, result
            sender.shutdown()
        # The hand-off: the handler's time, then the delivery by N local workers.
        sender = Sender(registry=registry, credentials=creds, region="us-east-1")
        queue = FanoutQueue(queue_url, client=sqs)
        fanout = Fanout(queue, registry=registry, sender=sender, threshold=2000)
        handler_times = []
        for _ in range(5):
            started = time.perf_counter()
            done = fanout.broadcast_to_room(ROOM, "m")
            handler_times.append(time.perf_counter() - started)
            assert done.handed_off
        out["handler_ms"] = statistics.median(handler_times) * 1000
        asked = []
        for _ in range(5):
            started = time.perf_counter()
            fanout.broadcast_to_room(ROOM, "m", handoff=True)
            asked.append(time.perf_counter() - started)
        out["handler_asked_ms"] = statistics.median(asked) * 1000
        sqs.purge_queue(QueueUrl=queue_url)
        for count in workers:
            fanout.broadcast_to_room(ROOM, "w")
            took = deliver(sqs, queue_url, registry, sender, count, stub, size)
            out[f"workers_{count}_s"] = took
        fanout.broadcast_to_room(ROOM, "mem")
        peaks = measure_memory(lambda: deliver(sqs, queue_url, registry, sender, 1, stub, size))
        out["plan_peak_mb"], out["chunk_peak_mb"] = peaks["plan"], peaks["chunk"]
        sender.shutdown()
    registry.delete_table()
    return out


def measure_memory(run: Any) -> dict[str, float]:
    """The most memory one task adds while it runs (plan, chunk), in MB (``tracemalloc``).

    Each task's peak is measured from what was allocated when it started, so what earlier
    tasks left behind (the stub in this process keeps every message it received) is not
    counted: this is what one worker invocation needs.
    """
    peaks = {"plan": 0.0, "chunk": 0.0}
    original = FanoutWorker.process

    def measured(self: FanoutWorker, body: str) -> None:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        original(self, body)
        kind = "plan" if '"task":"plan"' in body else "chunk"
        grown = (tracemalloc.get_traced_memory()[1] - base) / 1e6
        peaks[kind] = max(peaks[kind], grown)

    FanoutWorker.process = measured  # type: ignore[method-assign]
    tracemalloc.start()
    try:
        run()
    finally:
        tracemalloc.stop()
        FanoutWorker.process = original  # type: ignore[method-assign]
    return peaks


def deliver(
    sqs: Any, url: str, registry: Any, sender: Sender, count: int, stub: ApiStub, expect: int
) -> float:
    """Run ``count`` pollers until the stub has ``expect`` more messages; seconds taken."""
    before = sum(len(v) for v in stub.state.messages.values())
    worker = FanoutWorker(FanoutQueue(url, client=sqs), registry=registry, sender=sender)
    pollers = [QueuePoller(sqs, url, worker, visibility_timeout=300) for _ in range(count)]
    started = time.perf_counter()
    for poller in pollers:
        poller.start(wait=1)
    deadline = started + 600
    while sum(len(v) for v in stub.state.messages.values()) - before < expect:
        if time.perf_counter() > deadline:
            raise RuntimeError("delivery did not finish within 600 s")
        time.sleep(0.005)
    took = time.perf_counter() - started
    for poller in pollers:
        poller.stop()
    return took


def report(results: list[dict[str, Any]], command: str) -> str:
    lines = [
        SECTION,
        "",
        f"Command: `{command}` (CPython {platform.python_version()}, dynalite and moto_server on"
        f" loopback, 2 CPUs shared with other work; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC).",
        "",
        "One broadcast lookup of a room (dynalite, `ReturnConsumedCapacity=TOTAL`):",
        "",
        "| members | today: requests | today: read units | new: requests | new: read units |"
        " requests today/new | read units today/new |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        today_n = sum(r["today_requests"].values())
        new_n = sum(r["new_requests"].values())
        detail = ", ".join(f"{v} {k}" for k, v in sorted(r["today_requests"].items()))
        lines.append(
            f"| {r['size']:,} | {today_n:,} ({detail}) | {r['today_rcu']:,.1f} |"
            f" {new_n} Query ({r['pages']} pages) | {r['new_rcu']:,.1f} |"
            f" {today_n / new_n:.0f}x | {r['today_rcu'] / max(r['new_rcu'], 1e-9):.0f}x |"
        )
    lines += [
        "",
        "Time (seconds) against the Management API stub; *first send* is from the call to the"
        " first batch of posts:",
        "",
        "| members | lookup today | lookup new | first send today | first send new |"
        " first send today/new | whole broadcast today | whole broadcast new |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['size']:,} | {r['today_lookup_s']:.2f} | {r['new_lookup_s']:.2f} |"
            f" {r['today_first_send_s']:.3f} | {r['new_first_send_s']:.3f} |"
            f" {r['today_first_send_s'] / r['new_first_send_s']:.0f}x |"
            f" {r['today_broadcast_s']:.2f} | {r['new_broadcast_s']:.2f} |"
        )
    workers = sorted(int(k.split("_")[1]) for k in results[0] if k.startswith("workers_"))
    head = " | ".join(f"{n} worker{'s' if n > 1 else ''}" for n in workers)
    lines += [
        "",
        "Hand-off (threshold 2,000, chunks of 500): the handler's `Fanout.broadcast_to_room`"
        " (median of 5) against the direct streamed broadcast; delivery by N local workers"
        " (poller threads in this process, seconds from the hand-off to the last chunk) and"
        " the most memory one task adds while a worker runs it (`tracemalloc`, 1 worker):",
        "",
        f"| members | handler ms (size check) | handler ms (`handoff=True`) | direct broadcast ms"
        f" | handler/direct | {head} |"
        " 1 worker / N | plan task MB | chunk task MB |",
        "|---|---|---|---|---|" + "---|" * len(workers) + "---|---|---|",
    ]
    for r in results:
        times = [r[f"workers_{n}_s"] for n in workers]
        ratios = ", ".join(f"{times[0] / t:.2f}" for t in times)
        lines.append(
            f"| {r['size']:,} | {r['handler_ms']:.1f} | {r['handler_asked_ms']:.1f} |"
            f" {r['new_broadcast_s'] * 1000:.0f} |"
            f" {r['handler_ms'] / (r['new_broadcast_s'] * 1000):.3f} |"
            + "".join(f" {t:.2f} |" for t in times)
            + f" {ratios} | {r['plan_peak_mb']:.1f} | {r['chunk_peak_mb']:.2f} |"
        )
    lines += [
        "",
        "Load times (BatchWriteItem, 4 threads): "
        + ", ".join(f"{r['size']:,} members {r['load_s']:.0f} s" for r in results)
        + ".",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    from wsgate.observe.metrics import Metrics, set_metrics

    set_metrics(Metrics(enabled=False))
    dynalite, moto = start_dynalite(), start_moto_server()
    try:
        results = []
        for size in args.sizes:
            results.append(measure_size(size, dynalite, moto, args.workers))
            print(json.dumps(results[-1]), flush=True)
    finally:
        dynalite.stop()
        moto.stop()
    command = "python bench/bench_fanout.py " + " ".join(sys.argv[1:])
    text = report(results, command)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
