"""The dashboard's JSON API and live feed, over plain HTTP (the browser tests drive the page)."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from support import wait_until
from wsgate.gateway import ws_join_room, ws_store_connection
from wsgate.router import WebSocketApp


def _call(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, body=body)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    try:
        return reply.status, json.loads(data) if data else None
    except ValueError:
        return reply.status, data


def _app() -> WebSocketApp:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: Any) -> None:
        ws_store_connection(event.connection_id, user_id="grace")
        ws_join_room(event.connection_id, "ops")

    @app.default
    def on_default(event: Any) -> None:
        return None

    return app


def test_connections_api_shows_registry_user_and_rooms(start_emulator: Any) -> None:
    running = start_emulator(_app())
    with connect(running.ws_url) as ws:
        ws.send("hello")
        status, data = _call(running.port, "GET", "/_wsgate/api/connections")
        assert status == 200
        (row,) = data["connections"]
        assert row["userId"] == "grace" and row["rooms"] == ["ops"]
        assert row["connectionId"] == running.connection_ids()[0]
        assert row["connectedAt"] <= row["lastActiveAt"]
        wait_until(lambda: _call(running.port, "GET", "/_wsgate/api/connections")[1]["recent"])
        recent = _call(running.port, "GET", "/_wsgate/api/connections")[1]["recent"]
        assert recent[-1]["direction"] == "in" and recent[-1]["data"] == "hello"


def test_send_broadcast_and_disconnect_api(start_emulator: Any) -> None:
    running = start_emulator(_app())
    with connect(running.ws_url) as target:
        (cid,) = wait_until(running.connection_ids)
        with connect(running.ws_url) as other:
            wait_until(lambda: len(running.connection_ids()) == 2)
            status, data = _call(
                running.port, "POST", f"/_wsgate/api/connections/{cid}/messages", b"just you"
            )
            assert (status, data) == (200, {"sent": 1})
            assert target.recv(5) == "just you"
            status, data = _call(running.port, "POST", "/_wsgate/api/broadcast", b"everyone")
            assert (status, data) == (200, {"sent": 2})
            assert target.recv(5) == "everyone" and other.recv(5) == "everyone"
            status, _ = _call(running.port, "DELETE", f"/_wsgate/api/connections/{cid}")
            assert status == 204
            try:
                target.recv(5)
                raise AssertionError("still open")
            except ConnectionClosed as exc:
                assert exc.rcvd is not None and exc.rcvd.code == 1000
            status, _ = _call(running.port, "DELETE", f"/_wsgate/api/connections/{cid}")
            assert status == 410
            assert len(running.connection_ids()) == 1


def test_faults_api_validates(emulator: Any) -> None:
    status, data = _call(emulator.port, "PUT", "/_wsgate/api/faults", b'{"throttle": 0.25}')
    assert status == 200 and data["throttle"] == 0.25
    status, data = _call(emulator.port, "PUT", "/_wsgate/api/faults", b'{"throttle": 7}')
    assert status == 400 and "between 0 and 1" in data["error"]
    status, data = _call(emulator.port, "PUT", "/_wsgate/api/faults", b"[1]")
    assert status == 400
    assert _call(emulator.port, "GET", "/_wsgate/api/faults")[1]["throttle"] == 0.25


def test_feed_streams_connect_message_and_disconnect(emulator: Any) -> None:
    sock = socket.create_connection(("127.0.0.1", emulator.port), timeout=5)
    sock.sendall(b"GET /_wsgate/api/events HTTP/1.1\r\nHost: x\r\n\r\n")
    received = b""
    while b"wsgate feed" not in received:
        received += sock.recv(4096)
    assert received.startswith(b"HTTP/1.1 200") and b"text/event-stream" in received
    with connect(emulator.ws_url) as ws:
        ws.send("over the feed")
    while b"event: disconnect" not in received:
        received += sock.recv(4096)
    sock.close()
    text = received.decode()
    assert text.index("event: connect") < text.index("over the feed")
    assert text.index("over the feed") < text.index("event: disconnect")


def test_pages_and_unknown_paths(emulator: Any) -> None:
    status, body = _call(emulator.port, "GET", "/_wsgate/")
    assert status == 200 and b"wsgate" in body
    status, body = _call(emulator.port, "GET", "/_wsgate/static/dashboard.js")
    assert status == 200 and b"EventSource" in body
    assert _call(emulator.port, "GET", "/_wsgate/static/../server.py")[0] == 404
    assert _call(emulator.port, "GET", "/_wsgate/api/nothing")[0] == 404
    status, _ = _call(emulator.port, "GET", "/")
    assert status == 302  # no app page: the root leads to the dashboard
