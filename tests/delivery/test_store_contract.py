"""One contract suite, run against every delivery store backend."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wsgate.delivery.store import ClaimState, DeliveryStore, MemoryDeliveryStore, Pending
from wsgate.delivery.store_sqlite import SQLiteDeliveryStore

NOW = 1_800_000_000.0


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("dynalite", marks=pytest.mark.dynamodb),
        pytest.param("moto", marks=pytest.mark.dynamodb),
        pytest.param("dynalite-stdlib", marks=pytest.mark.dynamodb),
        pytest.param("moto-stdlib", marks=pytest.mark.dynamodb),
    ]
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeliveryStore]:
    backend: DeliveryStore
    if request.param == "memory":
        backend = MemoryDeliveryStore()
    elif request.param == "sqlite":
        backend = SQLiteDeliveryStore(tmp_path / "delivery.db")
    else:
        import boto3

        from wsgate.delivery.store_dynamodb import DynamoDBDeliveryStore

        name, _, kind = request.param.partition("-")
        server = request.getfixturevalue(f"{name}_server")
        client: Any
        if kind == "stdlib":
            client = server.stdlib_client(max_attempts=3)
        else:
            client = boto3.client("dynamodb", **server.boto_kwargs)
        backend = DynamoDBDeliveryStore(f"delivery-{uuid.uuid4().hex[:8]}", client=client)
        backend.create_table()
    yield backend
    backend.close()
    if request.param.endswith("-stdlib"):
        backend.client.close()  # type: ignore[attr-defined]


def _append(store: DeliveryStore, stream: str, n: int, *, now: float = NOW, **kw: Any) -> None:
    for i in range(n):
        store.append(
            stream,
            f"id-{i}",
            f'{{"n":{i}}}',
            now=now,
            ttl=kw.get("ttl", 60),
            max_len=kw.get("max_len", 100),
        )


def test_sequences_start_at_one_and_are_per_stream(store: DeliveryStore) -> None:
    first = store.append("room:a", "m1", '"x"', now=NOW, ttl=60, max_len=10)
    second = store.append("room:a", "m2", '"y"', now=NOW, ttl=60, max_len=10)
    other = store.append("room:b", "m3", '"z"', now=NOW, ttl=60, max_len=10)
    assert (first.seq, second.seq, other.seq) == (1, 2, 1)
    assert store.latest("room:a") == 2
    assert store.latest("room:none") == 0
    assert second.data == '"y"' and second.message_id == "m2"


def test_read_after_returns_the_rest_in_order(store: DeliveryStore) -> None:
    _append(store, "room:a", 5)
    got = store.read_after("room:a", 2, now=NOW, limit=100, max_len=100)
    assert got.latest == 5
    assert [m.seq for m in got.messages] == [3, 4, 5]
    assert [m.data for m in got.messages] == ['{"n":2}', '{"n":3}', '{"n":4}']
    assert store.read_after("room:a", 5, now=NOW, limit=100, max_len=100).messages == []
    limited = store.read_after("room:a", 0, now=NOW, limit=2, max_len=100)
    assert [m.seq for m in limited.messages] == [1, 2]


def test_buffer_is_bounded_by_count(store: DeliveryStore) -> None:
    _append(store, "room:a", 8, max_len=3)
    got = store.read_after("room:a", 0, now=NOW, limit=100, max_len=3)
    assert got.latest == 8
    assert [m.seq for m in got.messages] == [6, 7, 8]
    assert got.oldest == 6


def test_buffer_is_bounded_by_time(store: DeliveryStore) -> None:
    _append(store, "room:a", 2, now=NOW, ttl=10)
    _append(store, "room:a", 2, now=NOW + 8, ttl=10)
    got = store.read_after("room:a", 0, now=NOW + 11, limit=100, max_len=100)
    assert [m.seq for m in got.messages] == [3, 4]
    assert store.get_message("room:a", 1, now=NOW + 11) is None
    kept = store.get_message("room:a", 3, now=NOW + 11)
    assert kept is not None and kept.seq == 3


def test_concurrent_appends_hand_out_distinct_sequences(store: DeliveryStore) -> None:
    seqs: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            seq = store.append("room:c", "m", "1", now=NOW, ttl=60, max_len=1000).seq
            with lock:
                seqs.append(seq)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seqs) == list(range(1, 41))


def _pending(cid: str, stream: str, seq: int, *, attempts: int = 1, due: float = NOW) -> Pending:
    return Pending(cid, stream, seq, attempts, due, int(NOW) + 3600)


def test_pending_ack_is_cumulative_per_stream(store: DeliveryStore) -> None:
    store.add_pending([_pending("c1", "room:a", s) for s in (1, 2, 3)])
    store.add_pending([_pending("c1", "room:b", 1), _pending("c2", "room:a", 1)])
    assert store.ack("c1", "room:a", 2) == 2
    assert [(p.stream, p.seq) for p in store.pending_of("c1")] == [("room:a", 3), ("room:b", 1)]
    assert [(p.stream, p.seq) for p in store.pending_of("c2")] == [("room:a", 1)]
    assert store.ack("c1", "room:a", 2) == 0


def test_many_pending_entries_are_written_and_acked(store: DeliveryStore) -> None:
    store.add_pending([_pending(f"c{i}", "room:big", 7) for i in range(60)])
    store.add_pending([_pending("c0", "room:big", s) for s in range(8, 40)])
    assert len(store.pending_of("c0")) == 33
    assert store.ack("c0", "room:big", 100) == 33
    assert store.pending_of("c0") == []
    assert len(store.due(NOW, 1000)) == 59


def test_due_and_reschedule_is_compare_and_set(store: DeliveryStore) -> None:
    store.add_pending(
        [_pending("c1", "room:a", 1, due=NOW - 1), _pending("c2", "room:a", 1, due=NOW + 50)]
    )
    due = store.due(NOW, 10)
    assert [(p.connection_id, p.seq) for p in due] == [("c1", 1)]
    entry = due[0]
    assert store.reschedule(entry, attempts=2, due_at=NOW + 5)
    assert not store.reschedule(entry, attempts=2, due_at=NOW + 5)  # stale attempt count
    assert store.due(NOW, 10) == []
    (after,) = store.pending_of("c1")
    assert (after.attempts, after.due_at) == (2, NOW + 5)
    assert store.remove_pending("c1", "room:a", 1)
    assert not store.remove_pending("c1", "room:a", 1)
    assert not store.reschedule(after, attempts=3, due_at=NOW)


def test_drop_connection_returns_its_pending(store: DeliveryStore) -> None:
    store.add_pending(
        [_pending("c1", "room:a", 1), _pending("c1", "user:u", 4), _pending("c2", "room:a", 1)]
    )
    dropped = store.drop_connection("c1")
    assert [(p.stream, p.seq) for p in dropped] == [("room:a", 1), ("user:u", 4)]
    assert store.pending_of("c1") == []
    assert len(store.pending_of("c2")) == 1


def test_claim_complete_and_release(store: DeliveryStore) -> None:
    first = store.claim("anon", "k1", now=NOW, lease=30, ttl=600)
    assert first.state is ClaimState.NEW
    assert store.claim("anon", "k1", now=NOW + 1, lease=30, ttl=600).state is ClaimState.IN_PROGRESS
    assert store.claim("user:x", "k1", now=NOW + 1, lease=30, ttl=600).state is ClaimState.NEW
    store.complete("anon", "k1", "rejected", "no such room", now=NOW + 2, ttl=600)
    done = store.claim("anon", "k1", now=NOW + 3, lease=30, ttl=600)
    assert (done.state, done.status, done.reason) == (ClaimState.DONE, "rejected", "no such room")
    # After the window the id may be used again.
    assert store.claim("anon", "k1", now=NOW + 700, lease=30, ttl=600).state is ClaimState.NEW
    store.release("anon", "k1")
    assert store.claim("anon", "k1", now=NOW + 701, lease=30, ttl=600).state is ClaimState.NEW


def test_an_abandoned_claim_can_be_taken_after_its_lease(store: DeliveryStore) -> None:
    assert store.claim("anon", "k2", now=NOW, lease=30, ttl=600).state is ClaimState.NEW
    assert (
        store.claim("anon", "k2", now=NOW + 29, lease=30, ttl=600).state is ClaimState.IN_PROGRESS
    )
    assert store.claim("anon", "k2", now=NOW + 31, lease=30, ttl=600).state is ClaimState.NEW
