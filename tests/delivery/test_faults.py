"""Under the emulator's fault injection, every tracked message is delivered or reported."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from support import wait_until
from wsgate.delivery.store import DeliveryStore, MemoryDeliveryStore, Pending

from .conftest import Sweeper
from .pyclient import ProtocolClient

Key = tuple[str, str, int]


class AccountingStore:
    """A real store, wrapped to remember every pending key added and every key acked."""

    def __init__(self, inner: DeliveryStore) -> None:
        self.inner = inner
        self.lock = threading.Lock()
        self.added: set[Key] = set()
        self.acked: set[Key] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def add_pending(self, entries: Sequence[Pending]) -> None:
        with self.lock:
            self.inner.add_pending(entries)
            self.added.update((p.connection_id, p.stream, p.seq) for p in entries)

    def ack(self, connection_id: str, stream: str, seq: int) -> int:
        with self.lock:
            before = self.inner.pending_of(connection_id)
            count = self.inner.ack(connection_id, stream, seq)
            self.acked.update(
                (p.connection_id, p.stream, p.seq)
                for p in before
                if p.stream == stream and p.seq <= seq
            )
            return count

    def outstanding(self) -> list[Pending]:
        return self.inner.due(float("inf"), 1_000_000)


@pytest.mark.slow
def test_no_tracked_message_is_silently_lost_under_faults(make_server: Any) -> None:
    store = AccountingStore(MemoryDeliveryStore())
    server = make_server(store, ack_timeout=0.3, backoff=1.5, max_attempts=4, buffer_size=1000)
    served = server.served
    clients = [
        ProtocolClient(server.ws_url, ["storm"], gap_timeout=0.3, answer_timeout=2)
        for _ in range(3)
    ]
    sweeper = Sweeper(served, interval=0.1)
    total = 100
    try:
        for client in clients:
            wait_until(client.joined, message="clients joined")
        server.faults.update(
            {"throttle": 0.1, "server_error": 0.05, "random_close": 0.02, "drop_disconnect": 0.3}
        )
        for n in range(1, total + 1):
            served.delivery.send_to_room("storm", {"text": n})
        wait_until(
            lambda: all(len(c.texts("room:storm")) >= total for c in clients),
            timeout=120,
            message="every client caught up",
        )
        server.faults.update(
            {"throttle": 0.0, "server_error": 0.0, "random_close": 0.0, "drop_disconnect": 0.0}
        )
        wait_until(lambda: not store.outstanding(), timeout=60, message="no pending ack left")
    finally:
        sweeper.stop()
        for client in clients:
            client.stop()

    for client in clients:  # exactly once, in order, whatever happened underneath
        assert client.texts("room:storm") == list(range(1, total + 1))
        assert client.lost == []
    reported = {(u.connection_id, u.stream, u.seq) for u in served.undelivered}
    assert store.added, "nothing was tracked"
    assert store.added <= store.acked | reported, "a tracked message was silently lost"
    reasons = {u.reason for u in served.undelivered}
    assert reasons <= {"disconnected", "gone", "unacknowledged", "expired"}
    reconnects = sum(c.connects for c in clients) - len(clients)
    assert reconnects > 0, "the fault injection dropped no connection; the test proved nothing"
