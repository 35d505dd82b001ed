"""Delivery counts reach wsgate's metrics: sent, redelivered, undelivered, continuity lost."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from wsgate.delivery import Delivery, MemoryDeliveryStore
from wsgate.exceptions import ConnectionGoneError
from wsgate.observe import Metrics
from wsgate.registry.memory import MemoryRegistry


class Sink:
    def __init__(self) -> None:
        self.totals: Counter[str] = Counter()
        self.flushes = 0

    def add(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        assert unit == "Count"
        self.totals[name] += int(value)

    def flush(self) -> None:
        self.flushes += 1


class Poster:
    """Posts nowhere; answers 410 for the connection named ``gone``."""

    def send(self, connection_id: str, data: Any) -> None:
        if connection_id == "gone":
            raise ConnectionGoneError(connection_id)


def test_counts_are_recorded_and_the_sweep_flushes() -> None:
    sink = Sink()
    registry = MemoryRegistry()
    for cid in ("a", "b", "gone"):
        registry.store(cid)
        registry.join(cid, "r")
    now = [1000.0]
    delivery = Delivery(
        MemoryDeliveryStore(),
        registry=registry,
        sender=Poster(),
        metrics=Metrics(sink=sink, dimensions=(), enabled=True),
        ack_timeout=1,
        max_attempts=2,
        clock=lambda: now[0],
    )
    sent = delivery.send_to_room("r", {"n": 1})
    assert sorted(sent.sent) == ["a", "b"] and [u.reason for u in sent.undelivered] == ["gone"]
    now[0] += 2
    delivery.scheduled_handler({}, None)  # second (last) attempt to a and b
    now[0] += 10
    result = delivery.scheduled_handler({}, None)  # both given up on
    assert sorted((u["connectionId"], u["reason"]) for u in result["undelivered"]) == [
        ("a", "unacknowledged"),
        ("b", "unacknowledged"),
    ]
    delivery.handle_resume("a", {"streams": {"room:r": 5}})  # ahead of the stream: lost
    assert sink.totals == {
        "DeliverySent": 2,
        "DeliveryRedelivered": 2,
        "DeliveryUndelivered": 3,
        "DeliveryContinuityLost": 1,
    }
    assert sink.flushes >= 2  # each sweep flushes


def test_metrics_false_records_nothing() -> None:
    registry = MemoryRegistry()
    registry.store("a")
    registry.join("a", "r")
    delivery = Delivery(MemoryDeliveryStore(), registry=registry, sender=Poster(), metrics=False)
    assert delivery.send_to_room("r", {"n": 1}).sent == ["a"]
    assert delivery._recorder() is None
