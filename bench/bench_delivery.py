"""DynamoDB requests (and time) per delivery operation, against dynalite, beside baselines.

    python bench/bench_delivery.py [--members 1 10 100] [--repeat 20] [--write]

Every DynamoDB request is counted with a botocore ``before-call.dynamodb.*`` hook, for the
delivery store (its own table) and the registry (the connection table) separately. Baselines
measured in the same run: the untracked room broadcast (what ``Sender.broadcast_to_room`` costs
in DynamoDB: the registry's member lookup) and one raw ``PutItem``. With ``--write`` the
results replace the ``## Delivery`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import NullSender, RequestCounter, write_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
sys.path.insert(0, str(ROOT / "src"))


def measure(
    counter: RequestCounter, action: Callable[[], Any], repeat: int
) -> tuple[float, dict[str, float], float]:
    counter.take()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    calls = counter.take()
    per_op = {name: n / repeat for name, n in sorted(calls.items())}
    return sum(per_op.values()), per_op, statistics.median(times) * 1000


def dispatch_overhead(rounds: int) -> list[str]:
    """µs per dispatch of one MESSAGE without an ackId, and with one, with delivery enabled
    (memory store), beside the same app without delivery — all in this process."""
    import timeit

    from wsgate.delivery import Delivery, MemoryDeliveryStore, enable
    from wsgate.registry.memory import MemoryRegistry
    from wsgate.router import WebSocketApp
    from wsgate.testing.factories import message_event

    def build(with_delivery: bool) -> Any:
        app = WebSocketApp(observe=False)

        @app.route("say")
        def say(event: Any) -> None:
            pass

        if with_delivery:
            registry = MemoryRegistry()
            registry.store("c1")
            enable(app, Delivery(MemoryDeliveryStore(), registry=registry, sender=NullSender()))
        return app

    plain, tracked = build(False), build(True)
    event = message_event({"action": "say", "text": "hi"}, app=plain, connection_id="c1")
    counter = iter(range(10**9))

    def acked() -> None:
        body = {"action": "say", "text": "hi", "ackId": f"a-{next(counter)}"}
        tracked.dispatch(message_event(body, app=tracked, connection_id="c1"), None)

    def plain_with_event_build() -> None:
        plain.dispatch(
            message_event({"action": "say", "text": "hi"}, app=plain, connection_id="c1"), None
        )

    def best(fn: Callable[[], Any]) -> float:
        return min(timeit.repeat(fn, number=rounds, repeat=5)) / rounds * 1e6

    base = best(lambda: plain.dispatch(event, None))
    with_delivery = best(lambda: tracked.dispatch(event, None))
    base_built = best(plain_with_event_build)
    with_ack = best(acked)
    return [
        "",
        "In-process dispatch cost (`WebSocketApp(observe=False)`, memory store, "
        f"best of 5 rounds of {rounds}):",
        "",
        "| dispatch of one MESSAGE | µs | ratio to the app without delivery |",
        "|---|---|---|",
        f"| app without delivery (baseline) | {base:.1f} | 1.0 |",
        f"| app with `enable()`, no `ackId` | {with_delivery:.1f} | {with_delivery / base:.1f} |",
        f"| app without delivery, event built per call (baseline) | {base_built:.1f} | 1.0 |",
        f"| app with `enable()`, new `ackId` each call (claim, answer, ack frame) "
        f"| {with_ack:.1f} | {with_ack / base_built:.1f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--rounds", type=int, default=2000, help="dispatches per timing round")
    args = parser.parse_args()

    import boto3

    from wsgate.delivery import Delivery
    from wsgate.delivery.store_dynamodb import DynamoDBDeliveryStore
    from wsgate.registry.dynamodb import DynamoDBRegistry
    from wsgate.testing.servers import start_dynalite

    server = start_dynalite()
    try:
        store_client = boto3.client("dynamodb", **server.boto_kwargs)
        registry_client = boto3.client("dynamodb", **server.boto_kwargs)
        store_calls, registry_calls = RequestCounter(store_client), RequestCounter(registry_client)
        suffix = uuid.uuid4().hex[:6]
        registry = DynamoDBRegistry(f"bench-conn-{suffix}", client=registry_client)
        registry.create_table()
        store = DynamoDBDeliveryStore(f"bench-delivery-{suffix}", client=store_client)
        store.create_table()
        sender = NullSender()
        delivery = Delivery(store, registry=registry, sender=sender, ack_timeout=0.0001)
        rows: list[tuple[str, float, float, str, float]] = []

        raw_key = iter(range(10**9))
        raw_total, _, raw_ms = measure(
            store_calls,
            lambda: store_client.put_item(
                TableName=store.table_name,
                Item={"pk": {"S": "raw"}, "sk": {"S": str(next(raw_key))}, "v": {"S": "x"}},
            ),
            args.repeat,
        )

        for members in args.members:
            room = f"room-{members}"
            for i in range(members):
                cid = f"c{members}-{i}"
                registry.store(cid)
                registry.join(cid, room)
            registry_calls.take()
            base_total, _, base_ms = measure(
                registry_calls,
                lambda room=room: sender.broadcast(registry.room_members(room), "x"),
                args.repeat,
            )
            store_calls.take()
            registry_calls.take()
            total, per_op, ms = measure(
                store_calls,
                lambda room=room: delivery.send_to_room(room, {"text": "hi"}),
                args.repeat,
            )
            reg_total = sum(registry_calls.take().values()) / args.repeat
            detail = ", ".join(f"{n} {k}" for k, n in per_op.items())
            rows.append((f"tracked send, room of {members}", total, reg_total, detail, ms))
            rows.append(
                (
                    f"baseline: untracked broadcast, room of {members}",
                    0.0,
                    base_total,
                    "registry lookup only",
                    base_ms,
                )
            )

        cid = f"c{args.members[0]}-0"
        stream = f"room:room-{args.members[0]}"
        latest = store.latest(stream)
        seqs = iter(range(1, latest + 1))
        total, per_op, ms = measure(
            store_calls,
            lambda: delivery.handle_ack(cid, {"acks": {stream: next(seqs)}}),
            min(args.repeat, latest),
        )
        rows.append(
            ("ack of one message", total, 0.0, ", ".join(f"{n} {k}" for k, n in per_op.items()), ms)
        )
        for _ in range(10):
            delivery.send_to_room(f"room-{args.members[0]}", {"text": "more"})
        latest = store.latest(stream)
        total, per_op, ms = measure(
            store_calls, lambda: delivery.handle_ack(cid, {"acks": {stream: latest}}), 1
        )
        rows.append(
            (
                "cumulative ack of 10 messages",
                total,
                0.0,
                ", ".join(f"{n} {k}" for k, n in per_op.items()),
                ms,
            )
        )
        total, per_op, ms = measure(
            store_calls, lambda: delivery.handle_ack(cid, {"acks": {stream: latest}}), args.repeat
        )
        rows.append(
            (
                "ack with nothing pending",
                total,
                0.0,
                ", ".join(f"{n} {k}" for k, n in per_op.items()),
                ms,
            )
        )
        registry_calls.take()
        total, per_op, ms = measure(
            store_calls, lambda: delivery.handle_resume(cid, {"streams": {stream: latest - 10}}), 1
        )
        reg_total = sum(registry_calls.take().values())
        rows.append(
            (
                "resume replaying 10 messages",
                total,
                reg_total,
                ", ".join(f"{n} {k}" for k, n in per_op.items()),
                ms,
            )
        )
        for entry in store.due(time.time() + 10**6, 100_000):  # nothing left pending anywhere
            store.remove_pending(entry.connection_id, entry.stream, entry.seq)
        total, per_op, ms = measure(store_calls, lambda: delivery.pump(limit=100), args.repeat)
        rows.append(
            (
                "sweep (pump) with nothing due",
                total,
                0.0,
                ", ".join(f"{n} {k}" for k, n in per_op.items()),
                ms,
            )
        )
        delivery.send_to_room(f"room-{args.members[0]}", {"text": "late"})
        total, per_op, ms = measure(
            store_calls, lambda: delivery.pump(limit=100, now=time.time() + 1), 1
        )
        rows.append(
            (
                "sweep redelivering 1 message",
                total,
                0.0,
                ", ".join(f"{n} {k}" for k, n in per_op.items()),
                ms,
            )
        )
    finally:
        server.stop()

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/bench_delivery.py " + " ".join(sys.argv[1:])
    lines = [
        "## Delivery",
        "",
        f"Command: `{command.strip()}` (CPython {platform.python_version()}, dynalite on "
        f"127.0.0.1, 2 CPUs shared with other work; {stamp}). DynamoDB requests counted with "
        "botocore `before-call.dynamodb.*` hooks, per operation (mean of the repeats); time is "
        "the median wall time per operation against dynalite.",
        "",
        f"Baseline in the same run: one raw `PutItem` = {raw_total:.0f} request, {raw_ms:.2f} ms.",
        "",
        "| operation | delivery-table requests | registry requests | delivery requests | ms "
        "| ms / raw PutItem |",
        "|---|---|---|---|---|---|",
    ]
    for name, total, reg, detail, ms in rows:
        lines.append(f"| {name} | {total:g} | {reg:g} | {detail} | {ms:.2f} | {ms / raw_ms:.1f} |")
    lines += [
        "",
        "Reading: a tracked send adds 2 requests (the sequence counter's UpdateItem and the "
        "buffered message's PutItem) plus one BatchWriteItem per 25 recipients (their pending "
        "acks) to what the untracked broadcast already costs. An ack is one Query plus one "
        "BatchWriteItem when something was pending (one Query when nothing was). The sweep "
        "costs one Query per due-shard (4) when nothing is due, plus a GetItem (the buffered "
        "message, cached per sweep) and a conditional UpdateItem (the claim) per redelivery.",
        "",
    ]
    lines += dispatch_overhead(args.rounds)
    lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section("## Delivery", text)


if __name__ == "__main__":
    main()
