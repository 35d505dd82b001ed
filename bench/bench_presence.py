"""DynamoDB requests (and time) per presence operation, and the time to deliver a big state.

    python bench/bench_presence.py [--members 10000] [--state-room 1000] [--write]

Part 1, against dynalite on a free loopback port, every request counted with a botocore
``before-call.dynamodb.*`` hook (posts go to a null sender: what is measured is DynamoDB):

- heartbeats, one a second for 120 s of simulated time at the default 30 s interval, beside a
  naive heartbeat that writes ``lastActivity`` every time (``touch(min_interval=0)``);
- ``enter`` and ``leave`` in rooms of 10 and 100, beside a bare registry ``join``/``leave``;
- the sweep over ``--members`` present connections (100 rooms), with none stale and with 100
  stale, beside one raw ``PutItem``.

Part 2, through ``wsgate serve``'s emulator (SQLite registry) with real WebSocket clients: the
time from a client's ``presence.enter`` until it holds the whole ``presence.state`` of a room
of ``--state-room`` members, beside the same client's two-way round trip. With ``--write`` the
results replace the ``## Presence`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import NullSender, RequestCounter, write_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Presence"
sys.path.insert(0, str(ROOT / "src"))


def _detail(calls: collections.Counter[str], per: float = 1.0) -> str:
    return ", ".join(f"{n / per:g} {k}" for k, n in sorted(calls.items())) or "none"


def populate(registry: Any, cids: list[str], room: str, now: float) -> None:
    """Make ``cids`` present in ``room`` straight through the registry (no announcements)."""
    from wsgate.presence import protocol

    def one(cid: str) -> None:
        entry = {"data": {"name": cid}, "since": now, "at": now, "entered": now}
        registry.store(cid, user_id=cid, metadata={protocol.METADATA_KEY: {room: entry}})
        registry.join(cid, protocol.group_of(room))
        registry.join(cid, protocol.SWEEP_GROUP)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, cids))


def part_dynamodb(members: int) -> tuple[list[tuple[str, str, str, float]], float]:
    import boto3
    from botocore.config import Config

    from wsgate.presence import Presence
    from wsgate.registry.dynamodb import DynamoDBRegistry
    from wsgate.testing.servers import start_dynalite

    rows: list[tuple[str, str, str, float]] = []
    server = start_dynalite()
    try:
        client = boto3.client(
            "dynamodb", config=Config(max_pool_connections=16), **server.boto_kwargs
        )
        counter = RequestCounter(client)
        registry = DynamoDBRegistry(f"bench-presence-{uuid.uuid4().hex[:6]}", client=client)
        registry.create_table()
        presence = Presence(registry=registry, sender=NullSender())
        raw = iter(range(10**9))
        started = time.perf_counter()
        for _ in range(20):
            client.put_item(
                TableName=registry.table_name,
                Item={"connectionId": {"S": f"raw{next(raw)}"}, "sk": {"S": "raw"}},
            )
        raw_ms = (time.perf_counter() - started) / 20 * 1000
        counter.take()

        # The 100 connections the last sweep finds stale enter first, before everything else.
        stale = [f"s{i}" for i in range(100)]
        populate(registry, stale, "r0", time.time())
        cutoff = time.time()
        time.sleep(1.0)  # everything after this is at least 0.5 s inside the last sweep's window
        counter.take()

        # Heartbeats: 120 one second apart, 30 s interval.
        registry.store("hb")
        registry.store("naive")
        base = time.time()
        counter.take()
        for second in range(120):
            presence.alive("hb", base + 1 + second)
        calls = counter.take()
        rows.append(
            (
                "120 heartbeats, 1 s apart (30 s interval)",
                f"{sum(calls.values())} ({sum(calls.values()) / 120:.3f} per heartbeat)",
                _detail(calls),
                0.0,
            )
        )
        for second in range(120):
            registry.touch("naive", base + 1 + second, min_interval=0)
        calls = counter.take()
        rows.append(
            (
                "baseline: 120 naive heartbeats (write every time)",
                f"{sum(calls.values())} (1 per heartbeat)",
                _detail(calls),
                0.0,
            )
        )
        presence.alive("hb", base + 200)  # a boundary: this one writes
        counter.take()
        between = 0
        for second in range(1, 30):  # every heartbeat inside the interval that follows
            presence.alive("hb", base + 200 + second)
            between += sum(counter.take().values())
        rows.append(("29 heartbeats between two interval boundaries", str(between), "none", 0.0))

        for size in (10, 100):
            room = f"room{size}"
            populate(registry, [f"{room}-m{i}" for i in range(size)], room, time.time())
            for kind, action, baseline in (
                ("enter", lambda r=room: presence.enter("joiner", r), None),
                ("leave", lambda r=room: presence.leave("joiner", r), None),
                ("baseline: registry join", None, lambda r=room: registry.join("plain", r)),
                ("baseline: registry leave", None, lambda r=room: registry.leave("plain", r)),
            ):
                registry.store("joiner", user_id="joiner")
                registry.store("plain")
                counter.take()
                started = time.perf_counter()
                (action or baseline)()  # type: ignore[misc]
                ms = (time.perf_counter() - started) * 1000
                calls = counter.take()
                rows.append(
                    (f"{kind}, room of {size}", str(sum(calls.values())), _detail(calls), ms)
                )

        # The sweep over `members` present connections in 100 rooms, 100 of them stale.
        from wsgate.presence import protocol

        already = len(registry.room_members(protocol.SWEEP_GROUP))  # rooms of 10, 100; stale
        fresh = [f"f{i}" for i in range(members - already)]
        for n in range(100):
            populate(registry, fresh[n::100], f"r{n}", time.time())
        counter.take()
        started = time.perf_counter()
        quiet = Presence(registry=registry, sender=NullSender(), heartbeat=1.0, timeout=3600)
        summary = quiet.sweep()
        ms = (time.perf_counter() - started) * 1000
        calls = counter.take()
        assert summary["removed"] == 0 and summary["examined"] == members, summary
        rows.append(
            (
                f"sweep, {members:,} present, none stale",
                str(sum(calls.values())),
                _detail(calls),
                ms,
            )
        )
        started = time.perf_counter()
        at = time.time()
        window = at - cutoff - 0.5  # the first 100 are past it, the rest inside
        sweeper = Presence(registry=registry, sender=NullSender(), heartbeat=1.0, timeout=window)
        summary = sweeper.sweep(now=at)
        ms = (time.perf_counter() - started) * 1000
        calls = counter.take()
        assert summary["removed"] == len(stale), summary
        rows.append(
            (
                f"sweep, {members:,} present, 100 stale",
                str(sum(calls.values())),
                _detail(calls),
                ms,
            )
        )
        return rows, raw_ms
    finally:
        server.stop()


READING = (
    "Reading: between two interval boundaries a heartbeat makes no request at all; over 120 s"
    " it wrote 3 times (each 30 s) plus one conditional UpdateItem that the table refused "
    "(the first heartbeat in this process came within 30 s of the connection's own `$connect`"
    " write), against 120 writes for a heartbeat that writes every time. `enter` costs 4 "
    "GetItem (the record, then one in each of the 2 membership joins and in the metadata "
    "merge) and 5 writes, then the room read (1 Query + 1 BatchGetItem per 100, itself "
    "included); `leave` 1 GetItem and the 2 memberships' 4 writes, then the room read. The "
    "room is read after the writes so that two changes at the same moment never miss each "
    "other. The sweep reads one registry room for all rooms: 1 Query + 1 BatchGetItem per 100"
    " present connections, never a Scan, and 4 writes per connection it removes; its wall "
    "time here is dynalite's (about 0.02 s per 100-item BatchGetItem on this machine)."
)


BENCH_APP = """
import json
from wsgate.gateway import ws_store_connection
from wsgate.presence import Presence, enable
from wsgate.router import WebSocketApp

app = WebSocketApp(route_selection_expression="$request.body.action")
presence = enable(app, Presence())

@app.connect
def connect(event):
    ws_store_connection(event.connection_id, user_id=event.query_params.get("user"))

@app.route("ping", two_way=True)
def ping(event):
    return {"statusCode": 200, "body": "pong"}
"""


async def part_state(size: int, repeat: int) -> tuple[float, float, int]:
    """Median ms until a client holds the whole state of a room of ``size``; baseline ms."""
    from websockets.asyncio.client import connect

    from wsgate.local import EmulatorConfig
    from wsgate.local.server import Emulator
    from wsgate.presence import protocol
    from wsgate.registry import open_registry

    folder = Path(tempfile.mkdtemp(prefix="bench-presence-"))
    (folder / "app.py").write_text(BENCH_APP)
    os.environ["WSGATE_REGISTRY"] = f"sqlite:///{folder / 'registry.db'}"
    os.environ["WSGATE_METRICS"] = "off"  # no EMF lines in the report
    emulator = Emulator(str(folder / "app.py"), EmulatorConfig(port=0, dashboard=False))
    await emulator.start()
    try:
        idle = []
        for i in range(size):
            idle.append(await connect(f"{emulator.ws_url}?user=u{i}", compression=None))
        registry = open_registry(os.environ["WSGATE_REGISTRY"])
        ids = [r.connection_id for r in registry.all()]
        await asyncio.to_thread(populate_existing, registry, ids, "big")
        client = await connect(f"{emulator.ws_url}?user=me", compression=None)
        rtt = []
        for _ in range(50):
            started = time.perf_counter()
            await client.send(json.dumps({"action": "ping"}))
            await client.recv()
            rtt.append(time.perf_counter() - started)
        times = []
        parts = 0
        for _ in range(repeat):
            started = time.perf_counter()
            await client.send(json.dumps({"action": protocol.ENTER_ACTION, "room": "big"}))
            got = 0
            while True:
                frame = json.loads(await client.recv())
                if frame.get("type") == "presence.state":
                    got += 1
                    parts = frame["parts"]
                    if got == parts:
                        break
            times.append(time.perf_counter() - started)
            assert len(frame["members"]) > 0
            await client.send(json.dumps({"action": protocol.LEAVE_ACTION, "room": "big"}))
            await asyncio.sleep(1.0)  # the join and leave go to every member; let them drain
        for ws in [client, *idle]:
            await ws.close()
        registry.close()
        return statistics.median(times) * 1000, statistics.median(rtt) * 1000, parts
    finally:
        await emulator.stop()


def populate_existing(registry: Any, cids: list[str], room: str) -> None:
    from wsgate.presence import protocol

    now = time.time()
    for cid in cids:
        entry = {"data": {"name": cid, "status": "here"}, "since": now, "at": now, "entered": now}
        registry.join(cid, protocol.group_of(room))
        registry.join(cid, protocol.SWEEP_GROUP)
        registry.update(cid, metadata={protocol.METADATA_KEY: {room: entry}}, merge_metadata=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--state-room", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()

    rows, raw_ms = part_dynamodb(args.members)
    state_ms, rtt_ms, parts = asyncio.run(part_state(args.state_room, args.repeat))
    command = "python bench/bench_presence.py " + " ".join(sys.argv[1:])
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        SECTION,
        "",
        f"Command: `{command.strip()}` (CPython {platform.python_version()}, dynalite on "
        f"127.0.0.1, 2 CPUs shared with other work; {when}). DynamoDB requests counted with "
        "botocore `before-call.dynamodb.*` hooks; posts go to a null sender in this part.",
        "",
        f"Baseline in the same run: one raw `PutItem` = 1 request, {raw_ms:.2f} ms.",
        "",
        "| operation | DynamoDB requests | by operation | ms | ms / raw PutItem |",
        "|---|---|---|---|---|",
    ]
    for name, total, detail, ms in rows:
        ratio = f"{ms / raw_ms:.1f}" if ms else "-"
        shown = f"{ms:.1f}" if ms else "-"
        lines.append(f"| {name} | {total} | {detail} | {shown} | {ratio} |")
    lines += [
        "",
        READING,
        "",
        f"`presence.state` for a room of {args.state_room:,} members, through the emulator "
        f"(SQLite registry, {args.state_room:,} idle WebSocket clients, median of "
        f"{args.repeat}): from the client's `presence.enter` until it holds every part "
        f"({parts} frame(s)).",
        "",
        "| measure | ms | ratio to the round trip |",
        "|---|---|---|",
        f"| baseline: two-way round trip (median of 50) | {rtt_ms:.2f} | 1.0 |",
        f"| `presence.state`, room of {args.state_room:,} | {state_ms:.1f} | "
        f"{state_ms / rtt_ms:.1f} |",
        "",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
