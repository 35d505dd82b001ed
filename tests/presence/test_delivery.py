"""With acked delivery on, presence events ride on it: sequenced, acked, redelivered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from wsgate.delivery import Delivery, MemoryDeliveryStore
from wsgate.registry.memory import MemoryRegistry
from wsgate.testing import WebSocketTestClient

from .presence_app import make_app

STREAM = "room:wsgate.presence/lobby"


@pytest.fixture
def served() -> Iterator[tuple[WebSocketTestClient, Delivery]]:
    delivery = Delivery(MemoryDeliveryStore(), ack_timeout=0.05, metrics=False)
    app, _ = make_app(delivery=delivery, heartbeat=5.0)
    with WebSocketTestClient(app, registry=MemoryRegistry()) as client:
        yield client, delivery


def _frames(ws: Any) -> list[dict[str, Any]]:
    found = []
    while True:
        try:
            found.append(json.loads(ws.receive_text(timeout=0.3)))
        except Exception:
            return found


def test_events_are_tracked_and_the_state_names_the_position(
    served: tuple[WebSocketTestClient, Delivery],
) -> None:
    client, delivery = served
    ann = client.connect("/?user=ann")
    ann.send_json({"action": "presence.enter", "room": "lobby", "data": {"n": 1}})
    sync, state = _frames(ann)
    assert sync == {"type": "wsgate.sync", "stream": STREAM, "seq": 0}
    assert state["type"] == "presence.state" and state["seq"] == 0

    bob = client.connect("/?user=bob")
    bob.send_json({"action": "presence.enter", "room": "lobby"})
    assert [f["type"] for f in _frames(bob)] == ["wsgate.sync", "presence.state"]
    (join,) = _frames(ann)
    assert join["type"] == "presence.join"
    assert join["wsgate"]["stream"] == STREAM and join["wsgate"]["seq"] == 1
    # Unacked, it is redelivered; once ann acks, it is not.
    delivery.pump(now=delivery.clock() + 1)
    (again,) = _frames(ann)
    assert again["wsgate"]["seq"] == 1 and again["wsgate"]["attempt"] == 2
    ann.send_json({"action": "wsgate.ack", "acks": {STREAM: 1}})
    _frames(ann)
    assert delivery.store.pending_of(ann.connection_id) == []


def test_bad_input_is_a_rejected_ack(served: tuple[WebSocketTestClient, Delivery]) -> None:
    client, _ = served
    ann = client.connect("/?user=ann")
    ann.send_json({"action": "presence.enter", "room": "", "ackId": "c1-1"})
    (ack,) = _frames(ann)
    assert ack["type"] == "wsgate.ack" and ack["status"] == "rejected"
    assert "1-100" in ack["reason"]
