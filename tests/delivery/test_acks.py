"""Client → server acks: accepted, rejected, duplicates run once — through the emulator."""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import ClientConnection, connect

from wsgate.delivery.store import DeliveryStore
from wsgate.exceptions import MessageRejected


def _ack(ws: ClientConnection, ack_id: str) -> dict[str, Any]:
    while True:
        frame = json.loads(ws.recv(timeout=10))
        if frame.get("type") == "wsgate.ack" and frame["ackId"] == ack_id:
            return frame


def test_a_message_with_an_ack_id_is_answered_once_handled(
    delivery_store: DeliveryStore, make_server: Any
) -> None:
    server = make_server(delivery_store)
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"action": "count", "key": "a", "ackId": "c-1"}))
        answer = _ack(ws, "c-1")
    assert answer == {"type": "wsgate.ack", "ackId": "c-1", "status": "accepted"}
    assert server.served.handled["a"] == 1


def test_a_retried_ack_id_runs_the_handler_once_even_on_a_new_connection(
    delivery_store: DeliveryStore, make_server: Any
) -> None:
    server = make_server(delivery_store)
    body = json.dumps({"action": "count", "key": "b", "ackId": "retry-7"})
    with connect(server.ws_url) as ws:
        ws.send(body)
        first = _ack(ws, "retry-7")
        ws.send(body)
        second = _ack(ws, "retry-7")
    with connect(server.ws_url) as ws:
        ws.send(body)
        third = _ack(ws, "retry-7")
    assert first["status"] == second["status"] == third["status"] == "accepted"
    assert "duplicate" not in first
    assert second["duplicate"] is True and third["duplicate"] is True
    assert server.served.handled["b"] == 1


def test_message_rejected_gives_a_rejected_ack_with_the_reason_every_time(
    make_server: Any,
) -> None:
    server = make_server()
    body = json.dumps({"action": "join", "room": "private-1", "ackId": "j-9"})
    with connect(server.ws_url) as ws:
        ws.send(body)
        first = _ack(ws, "j-9")
        ws.send(body)
        second = _ack(ws, "j-9")
    assert first["status"] == "rejected"
    assert first["reason"] == "room private-1 is private"
    assert second["reason"] == first["reason"] and second["duplicate"] is True


def test_a_failing_handler_is_rejected_and_may_be_retried(make_server: Any) -> None:
    server = make_server()
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"action": "count", "ackId": "no-key"}))  # KeyError in the handler
        first = _ack(ws, "no-key")
        assert (first["status"], first["reason"]) == ("rejected", "internal error")
        ws.send(json.dumps({"action": "count", "key": "c", "ackId": "no-key"}))
        second = _ack(ws, "no-key")
    assert second["status"] == "accepted" and "duplicate" not in second
    assert server.served.handled["c"] == 1


def test_messages_without_an_ack_id_get_no_ack(make_server: Any) -> None:
    server = make_server()
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"action": "count", "key": "d"}))
        ws.send(json.dumps({"action": "count", "key": "d", "ackId": "after"}))
        frame = json.loads(ws.recv(timeout=10))
    assert frame["ackId"] == "after"
    assert server.served.handled["d"] == 2


def test_an_invalid_ack_id_is_refused_before_the_handler(make_server: Any) -> None:
    server = make_server()
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"action": "count", "key": "e", "ackId": {"not": "a string"}}))
        ws.send(json.dumps({"action": "count", "key": "f", "ackId": "ok"}))
        frames = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
    assert {"type": "wsgate.ack", "ackId": "ok", "status": "accepted"} in frames
    (error,) = [f for f in frames if f["type"] == "wsgate.error"]
    assert "ackId" in error["reason"]
    assert server.served.handled["e"] == 0


def test_message_rejected_without_an_ack_id_is_a_400_not_a_crash() -> None:
    from wsgate.delivery import Delivery, MemoryDeliveryStore, enable
    from wsgate.registry.memory import MemoryRegistry
    from wsgate.router import WebSocketApp
    from wsgate.testing.factories import message_event

    app = WebSocketApp(observe=False)
    enable(app, Delivery(MemoryDeliveryStore(), registry=MemoryRegistry(), sender=object()))

    @app.route("join", two_way=True)
    def join(event: Any) -> None:
        raise MessageRejected("room is full")

    response = app.dispatch(message_event({"action": "join"}, app=app), None)
    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {"message": "room is full"}
