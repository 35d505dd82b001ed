"""Resume and redelivery through the emulator with real WebSocket clients."""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import connect

from support import wait_until
from wsgate.delivery.store import DeliveryStore

from .conftest import Sweeper
from .pyclient import ProtocolClient


def _publish(server: Any, room: str, texts: range) -> None:
    for text in texts:
        result = server.served.delivery.send_to_room(room, {"text": text})
        assert result.recipients >= 0


def test_killed_socket_resumes_every_message_once_in_order(
    delivery_store: DeliveryStore, make_server: Any
) -> None:
    server = make_server(delivery_store, buffer_size=200)
    client = ProtocolClient(server.ws_url, ["lobby"])
    try:
        wait_until(client.joined, message="join")
        _publish(server, "lobby", range(1, 21))
        wait_until(lambda: len(client.texts("room:lobby")) >= 10, message="first messages")
        client.kill(stay_offline=True)  # mid-stream: some of 1..20 may still be in flight
        _publish(server, "lobby", range(21, 71))
        client.go_online()
        try:
            wait_until(lambda: len(client.texts("room:lobby")) >= 70, 60, "all 70 messages")
        except AssertionError:
            state = client.streams.get("room:lobby")
            raise AssertionError(
                f"got {client.seqs('room:lobby')}, buffered {state and sorted(state.buffer)}, "
                f"connects {client.connects}, frames {client.log[-6:]}"
            ) from None
        assert client.texts("room:lobby") == list(range(1, 71))
        assert client.seqs("room:lobby") == list(range(1, 71))
        assert client.lost == []
        assert client.connects == 2
        wait_until(  # the resumed frame follows the replayed messages
            lambda: any(r["status"] == "ok" and r["replayed"] > 0 for r in client.resumed),
            message="a resume that replayed messages",
        )
    finally:
        client.stop()


def test_a_buffer_too_short_signals_continuity_lost(
    delivery_store: DeliveryStore, make_server: Any
) -> None:
    server = make_server(delivery_store, buffer_size=10)
    client = ProtocolClient(server.ws_url, ["lobby"])
    try:
        wait_until(client.joined, message="join")
        _publish(server, "lobby", range(1, 6))
        wait_until(lambda: len(client.texts("room:lobby")) == 5, message="first five")
        client.kill(stay_offline=True)
        _publish(server, "lobby", range(6, 36))
        client.go_online()
        lost = wait_until(lambda: client.lost, message="continuity-lost signal")
        assert lost[0]["stream"] == "room:lobby"
        assert (lost[0]["from"], lost[0]["latest"]) == (5, 35)
        assert lost[0]["oldest"] == 26  # the ten newest are still buffered, and replayed
        assert lost[0]["replayed"] == 10
        wait_until(lambda: len(client.texts("room:lobby")) == 15, message="the replayed ten")
        assert client.texts("room:lobby") == [1, 2, 3, 4, 5, *range(26, 36)]
        _publish(server, "lobby", range(36, 38))
        wait_until(lambda: len(client.texts("room:lobby")) == 17, message="after the loss")
        assert client.texts("room:lobby")[-2:] == [36, 37]
        assert len(client.lost) == 1
    finally:
        client.stop()


def test_resuming_a_room_you_are_not_in_is_denied(make_server: Any) -> None:
    server = make_server()
    _publish(server, "secret", range(1, 4))
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"action": "wsgate.resume", "streams": {"room:secret": 0}}))
        frame = json.loads(ws.recv(timeout=10))
    assert frame["type"] == "wsgate.resumed"
    assert frame["status"] == "denied"


def test_unacked_messages_are_redelivered_then_reported_undelivered(make_server: Any) -> None:
    server = make_server(ack_timeout=0.2, backoff=1.0, max_attempts=3)
    sweeper = Sweeper(server.served, interval=0.05)
    try:
        with connect(server.ws_url) as ws:
            ws.send(json.dumps({"action": "join", "room": "r", "ackId": "j1"}))
            frames = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
            assert {f["type"] for f in frames} == {"wsgate.sync", "wsgate.ack"}
            sent = server.served.delivery.send_to_room("r", {"text": "hello"})
            assert sent.seq == 1
            copies = [json.loads(ws.recv(timeout=10)) for _ in range(3)]
            assert [c["wsgate"].get("attempt", 1) for c in copies] == [1, 2, 3]
            assert {c["wsgate"]["id"] for c in copies} == {sent.message_id}
            assert all(c["text"] == "hello" for c in copies)
            record = wait_until(lambda: server.served.undelivered, message="undelivered report")
            assert record[0].reason == "unacknowledged"
            assert (record[0].stream, record[0].seq, record[0].attempts) == ("room:r", 1, 3)
            assert server.served.delivery.store.pending_of(sent.sent[0]) == []
    finally:
        sweeper.stop()


def test_an_ack_stops_redelivery(make_server: Any) -> None:
    server = make_server(ack_timeout=0.2, backoff=1.0, max_attempts=3)
    sweeper = Sweeper(server.served, interval=0.05)
    try:
        with connect(server.ws_url) as ws:
            ws.send(json.dumps({"action": "join", "room": "r", "ackId": "j1"}))
            for _ in range(2):
                ws.recv(timeout=10)
            sent = server.served.delivery.send_to_room("r", {"text": "hello"})
            frame = json.loads(ws.recv(timeout=10))
            seq = frame["wsgate"]["seq"]
            ws.send(json.dumps({"action": "wsgate.ack", "acks": {"room:r": seq}}))
            store = server.served.delivery.store
            wait_until(lambda: store.pending_of(sent.sent[0]) == [], message="ack applied")
            runs = sweeper.runs
            wait_until(lambda: sweeper.runs >= runs + 10, message="sweeps after the ack")
            assert server.served.undelivered == []
    finally:
        sweeper.stop()


def test_malformed_protocol_frames_get_an_error_frame(make_server: Any) -> None:
    server = make_server()
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"action": "wsgate.ack", "acks": {"room:r": -1}}))
        frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "wsgate.error"
        assert "acks.room:r" in frame["reason"]
        ws.send(json.dumps({"action": "wsgate.resume", "streams": []}))
        frame = json.loads(ws.recv(timeout=10))
        assert frame["type"] == "wsgate.error"


def test_the_emulator_sweeps_apps_that_have_delivery(make_server: Any) -> None:
    # No Sweeper thread here: the emulator itself runs delivery.scheduled_handler.
    server = make_server(ack_timeout=0.2, backoff=1.0, max_attempts=2)
    with connect(server.ws_url) as ws:
        ws.send(json.dumps({"action": "join", "room": "quiet", "ackId": "q1"}))
        for _ in range(2):
            ws.recv(timeout=10)
        server.served.delivery.send_to_room("quiet", {"text": "ping"})
        first = json.loads(ws.recv(timeout=10))
        second = json.loads(ws.recv(timeout=10))  # the client stays silent: only a sweep posts
        assert first["wsgate"]["seq"] == second["wsgate"]["seq"] == 1
        assert second["wsgate"]["attempt"] == 2
        record = wait_until(lambda: server.served.undelivered, message="undelivered report")
        assert record[0].reason == "unacknowledged"


def test_a_user_stream_reaches_every_connection_of_the_user_and_resumes(make_server: Any) -> None:
    server = make_server()
    delivery = server.served.delivery
    with (
        connect(server.ws_url + "?user=ula") as one,
        connect(server.ws_url + "?user=ula") as two,
        connect(server.ws_url + "?user=max") as other,
    ):
        wait_until(lambda: len(server.served.registry.by_user("ula")) == 2, message="connects")
        sent = delivery.send_to_user("ula", {"text": "for ula"})
        assert sorted(sent.sent) == sorted(
            c.connection_id for c in server.served.registry.by_user("ula")
        )
        for ws in (one, two):
            frame = json.loads(ws.recv(timeout=10))
            assert frame == {
                "text": "for ula",
                "wsgate": {"stream": "user:ula", "seq": 1, "id": sent.message_id},
            }
        delivery.send_to_user("ula", {"text": "second"})
        one.send(json.dumps({"action": "wsgate.resume", "streams": {"user:ula": 0}}))
        other.send(json.dumps({"action": "wsgate.resume", "streams": {"user:ula": 0}}))
        denied = json.loads(other.recv(timeout=10))
        assert (denied["type"], denied["status"]) == ("wsgate.resumed", "denied")
        frames = []
        while not frames or frames[-1].get("type") != "wsgate.resumed":
            frames.append(json.loads(one.recv(timeout=10)))
    seqs = [f["wsgate"]["seq"] for f in frames if "wsgate" in f]
    assert seqs[-2:] == [1, 2]  # the live copy of 2 may come first; the replay is in order
    assert frames[-1]["status"] == "ok" and frames[-1]["replayed"] == 2
