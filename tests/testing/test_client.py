"""WebSocketTestClient in process: handshake, routing, frames, closes, @connections, gateway."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from wsgate import ConnectEvent, DisconnectEvent, MessageEvent, WebSocketApp, reject
from wsgate import config as wsconfig
from wsgate.auth import Principal
from wsgate.exceptions import (
    ConnectionGoneError,
    ConnectRejected,
    ForbiddenError,
    HandshakeRejected,
    ReceiveTimeout,
    SessionClosed,
    SessionError,
    Unauthorized,
)
from wsgate.gateway import (
    ws_broadcast_to_all,
    ws_disconnect_connection,
    ws_send_message,
    ws_store_connection,
)
from wsgate.registry import open_registry
from wsgate.sender import Sender
from wsgate.testing import WebSocketTestClient

ID = r"[A-Za-z0-9_-]{15}="


class Recorder:
    """An app that records each event it handles and lets a test script the handlers."""

    def __init__(self, **app_options: Any) -> None:
        self.app = WebSocketApp(observe=False, **app_options)
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def record(self, event: Any) -> None:
        with self.lock:
            self.events.append(dict(event.raw))

    def of(self, event_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e["requestContext"]["eventType"] == event_type]


@pytest.fixture
def rec() -> Recorder:
    recorder = Recorder()
    app = recorder.app

    @app.connect
    def on_connect(event: ConnectEvent) -> Any:
        recorder.record(event)
        token = event.query_params.get("token")
        if token == "bad":
            return reject(401)
        if token == "raise":
            raise RuntimeError("connect bug")
        if token == "forbid":
            raise ConnectRejected(403, "not you")
        if token == "greet":
            ws_send_message(event.connection_id, "too early")  # 410: not connected yet
        if "chat.v2" in (event.headers.get("Sec-WebSocket-Protocol") or ""):
            return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat.v2"}}
        ws_store_connection(event.connection_id, user_id=token)
        return None

    @app.disconnect
    def on_disconnect(event: DisconnectEvent) -> None:
        recorder.record(event)
        wsconfig.get_registry().delete(event.connection_id)

    @app.route("echo", two_way=True)
    def echo(event: MessageEvent) -> Any:
        recorder.record(event)
        return {"echo": event.json.get("text")}

    @app.route("quiet", two_way=True)
    def quiet(event: MessageEvent) -> None:
        return None

    @app.route("oneway")
    def oneway(event: MessageEvent) -> Any:
        return {"not": "sent"}

    @app.route("boom")
    def boom(event: MessageEvent) -> None:
        raise ValueError("message bug")

    @app.route("boom2", two_way=True)
    def boom2(event: MessageEvent) -> None:
        raise ValueError("two-way bug")

    @app.route("kick")
    def kick(event: MessageEvent) -> None:
        ws_disconnect_connection(event.json["who"])

    @app.route("shout")
    def shout(event: MessageEvent) -> None:
        ws_broadcast_to_all({"shout": event.json["text"]})

    @app.route("later")
    def later(event: MessageEvent) -> None:
        # A send from another thread after the handler has returned.
        cid = event.connection_id
        threading.Thread(target=ws_send_message, args=(cid, "from a thread")).start()

    return recorder


@pytest.fixture
def client(rec: Recorder) -> Any:
    with WebSocketTestClient(rec.app) as test_client:
        yield test_client


# --- handshake ----------------------------------------------------------------------------------


def test_connect_builds_the_handshake_event(client: WebSocketTestClient, rec: Recorder) -> None:
    with client.connect(
        "/?token=ann&tag=a&tag=b", headers={"Authorization": "Bearer t", "Origin": "https://x"}
    ) as ws:
        assert re.fullmatch(ID, ws.connection_id)
        event = rec.of("CONNECT")[0]
        ctx = event["requestContext"]
        assert ctx["connectionId"] == ws.connection_id
        assert ctx["stage"] == client.stage and ctx["apiId"] == client.api_id
        assert event["queryStringParameters"] == {"token": "ann", "tag": "b"}
        assert event["multiValueQueryStringParameters"] == {"token": ["ann"], "tag": ["a", "b"]}
        headers = event["headers"]
        assert headers["Authorization"] == "Bearer t" and headers["Origin"] == "https://x"
        assert headers["Host"] == client.domain_name
        assert headers["User-Agent"] == "wsgate-testclient" == ctx["identity"]["userAgent"]
        assert "body" not in event and "Connection" not in headers
        assert client.connections == [ws.connection_id]
        assert client.registry.get(ws.connection_id).user_id == "ann"
    assert client.connections == []


def test_rejections_raise_with_their_status(client: WebSocketTestClient) -> None:
    with pytest.raises(HandshakeRejected) as rejected:
        client.connect("/?token=bad")
    assert rejected.value.status_code == 401
    assert isinstance(rejected.value, ConnectRejected)
    with pytest.raises(HandshakeRejected) as forbidden:
        client.connect("/?token=forbid")
    assert forbidden.value.status_code == 403
    with pytest.raises(HandshakeRejected) as wrong_path:
        client.connect("/elsewhere")
    assert wrong_path.value.status_code == 403
    assert client.connections == []
    with client.connect(f"/{client.stage}/?token=ok"):
        assert len(client.connections) == 1


def test_connect_exception_is_raised_or_gives_502(rec: Recorder) -> None:
    with WebSocketTestClient(rec.app) as strict, pytest.raises(RuntimeError, match="connect bug"):
        strict.connect("/?token=raise")
    with WebSocketTestClient(rec.app, raise_server_exceptions=False) as lenient:
        with pytest.raises(HandshakeRejected) as rejected:
            lenient.connect("/?token=raise")
        # The handler's exception fails the invocation (a Lambda error): API Gateway answers
        # the handshake with 502, as for any function that crashes.
        assert rejected.value.status_code == 502


def test_plain_handler_crash_is_502_and_internal_server_error_frame() -> None:
    def handler(event: dict[str, Any], context: Any) -> Any:
        if event["requestContext"]["eventType"] == "CONNECT":
            if event.get("queryStringParameters", {}).get("crash"):
                raise RuntimeError("crash")
            return {"statusCode": 200}
        if event["requestContext"]["eventType"] == "MESSAGE":
            raise ValueError("message crash")
        return None

    with WebSocketTestClient(handler, raise_server_exceptions=False) as client:
        with pytest.raises(HandshakeRejected) as rejected:
            client.connect("/?crash=1")
        assert rejected.value.status_code == 502
        with client.connect("/") as ws:
            ws.send_text("hello")
            frame = ws.receive_text()
            match = re.fullmatch(
                rf'\{{"message": "Internal server error", "connectionId":"({ID})", '
                rf'"requestId":"({ID})"\}}',
                frame,
            )
            assert match and match.group(1) == ws.connection_id
            ws.send_text("still open")
            assert "Internal server error" in ws.receive_text()


def test_subprotocol_is_negotiated_by_connect(client: WebSocketTestClient) -> None:
    with client.connect("/", subprotocols=["chat.v2", "chat.v1"]) as ws:
        assert ws.subprotocol == "chat.v2"
        assert ws.response_headers == {"Sec-WebSocket-Protocol": "chat.v2"}
    with client.connect("/") as plain:
        assert plain.subprotocol is None


def test_post_during_connect_is_gone(client: WebSocketTestClient) -> None:
    with pytest.raises(ConnectionGoneError):
        client.connect("/?token=greet")
    assert [(c.method, c.status) for c in client.calls] == [("POST", 410)]


def test_without_connect_route_connections_are_accepted() -> None:
    app = WebSocketApp(observe=False)
    app.default(lambda event: {"statusCode": 200, "body": "default"}, two_way=True)
    with WebSocketTestClient(app) as client, client.connect("/?anything") as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "default"


# --- messages -----------------------------------------------------------------------------------


def test_two_way_one_way_and_forbidden(client: WebSocketTestClient, rec: Recorder) -> None:
    with client.connect("/") as ws:
        ws.send_json({"action": "echo", "text": "hi"})
        assert ws.receive_json() == {"echo": "hi"}
        message = rec.of("MESSAGE")[0]
        assert message["body"] == '{"action":"echo","text":"hi"}'
        assert message["requestContext"]["routeKey"] == "echo"
        assert re.fullmatch(ID, message["requestContext"]["messageId"])
        ws.send_json({"action": "quiet"})
        ws.send_json({"action": "oneway"})
        ws.send_json({"action": "nope"})  # no route and no $default
        frame = ws.receive_text()
        assert re.fullmatch(
            rf'\{{"message": "Forbidden", "connectionId":"{re.escape(ws.connection_id)}", '
            rf'"requestId":"{ID}"\}}',
            frame,
        ), frame
        ws.send_text("not json")
        assert '"message": "Forbidden"' in ws.receive_text()
        with pytest.raises(ReceiveTimeout) as timeout:
            ws.receive_text(timeout=0.05)
        assert isinstance(timeout.value, TimeoutError)


def test_handler_errors_surface_in_the_test_by_default(client: WebSocketTestClient) -> None:
    with client.connect("/") as ws, pytest.raises(ValueError, match="message bug"):
        ws.send_json({"action": "boom"})


def test_handler_errors_as_the_client_sees_them(rec: Recorder) -> None:
    client = WebSocketTestClient(rec.app, raise_server_exceptions=False)
    with client, client.connect("/") as ws:
        # A crash is a Lambda error: API Gateway's frame, on one-way and two-way routes alike.
        for action in ("boom", "boom2"):
            ws.send_json({"action": action})
            frame = ws.receive_text()
            match = re.fullmatch(
                rf'\{{"message": "Internal server error", "connectionId":"({ID})", '
                rf'"requestId":"({ID})"\}}',
                frame,
            )
            assert match and match.group(1) == ws.connection_id, frame
        with pytest.raises(ReceiveTimeout):
            ws.receive_text(timeout=0.05)


def test_sends_from_other_threads_arrive(client: WebSocketTestClient) -> None:
    with client.connect("/") as ws:
        ws.send_json({"action": "later"})
        assert ws.receive_text(timeout=5) == "from a thread"


def test_broadcast_reaches_every_session(client: WebSocketTestClient) -> None:
    sessions = [client.connect(f"/?token=u{i}") for i in range(5)]
    sessions[0].send_json({"action": "shout", "text": "all"})
    assert [s.receive_json() for s in sessions] == [{"shout": "all"}] * 5
    sessions[3].close()
    sessions[1].send_json({"action": "shout", "text": "four"})
    for i, session in enumerate(sessions):
        if i != 3:
            assert session.receive_json() == {"shout": "four"}
    posts = [c for c in client.calls if c.method == "POST"]
    assert len(posts) == 9 and all(c.status == 200 for c in posts)


# --- closing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("close", "expected"),
    [
        (lambda ws: ws.close(), (1000, "")),
        (lambda ws: ws.close(1001, "tab closed"), (1001, "tab closed")),
        (lambda ws: ws.close(1005), (1005, "Client-side close frame status not set")),
        (lambda ws: ws.drop(), (1006, "")),
        (lambda ws: ws.send_text("x" * (32 * 1024 + 1)), (1009, "Message too big")),
        (lambda ws: ws.send_bytes(b"\x00\x01"), (1003, "Unsupported data")),
    ],
)
def test_every_kind_of_close_runs_disconnect(
    client: WebSocketTestClient, rec: Recorder, close: Any, expected: tuple[int, str]
) -> None:
    ws = client.connect("/?token=z")
    close(ws)
    (event,) = rec.of("DISCONNECT")
    ctx = event["requestContext"]
    assert (ctx["disconnectStatusCode"], ctx["disconnectReason"]) == expected
    assert ctx["connectionId"] == ws.connection_id
    assert event["headers"]["Host"] == client.domain_name
    assert client.registry.get(ws.connection_id) is None
    assert ws.closed and ws.close_code == expected[0]
    with pytest.raises(SessionClosed) as closed:
        ws.receive_text()
    assert closed.value.code == expected[0]
    with pytest.raises(SessionClosed):
        ws.send_text("after close")
    ws.close()  # a second close does nothing
    assert len(rec.of("DISCONNECT")) == 1


def test_handler_disconnects_another_connection(client: WebSocketTestClient, rec: Recorder) -> None:
    with client.connect("/?token=a") as a, client.connect("/?token=b") as b:
        a.send_json({"action": "kick", "who": b.connection_id})
        # $disconnect already ran when the sending handler returned.
        (event,) = rec.of("DISCONNECT")
        ctx = event["requestContext"]
        assert ctx["connectionId"] == b.connection_id
        assert (ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (
            1000,
            "Connection Closed Normally",
        )
        assert b.closed and client.connections == [a.connection_id]
        assert client.registry.get(b.connection_id) is None
        with pytest.raises(SessionClosed):
            b.receive_text()


def test_client_close_ends_open_sessions_going_away(rec: Recorder) -> None:
    client = WebSocketTestClient(rec.app)
    ws = client.connect("/?token=q")
    assert wsconfig.get_sender() is client.sender
    client.close()
    ctx = rec.of("DISCONNECT")[0]["requestContext"]
    assert (ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (1001, "Going away")
    assert ws.closed
    with pytest.raises(SessionError):
        client.connect("/")
    client.close()
    wsconfig.reset()


# --- @connections -------------------------------------------------------------------------------


def test_management_api_from_the_test(client: WebSocketTestClient) -> None:
    with client.connect("/?token=m", user_agent="probe/1.0") as ws:
        client.send(ws.connection_id, {"n": 1})
        client.send(ws.connection_id, b"raw")
        assert ws.receive_json() == {"n": 1}
        assert ws.receive_bytes() == b"raw"
        info = client.sender.info(ws.connection_id)
        assert info.source_ip == client.source_ip and info.user_agent == "probe/1.0"
        assert client.sender.is_alive(ws.connection_id)
        gone = ws.connection_id
    assert not client.sender.is_alive(gone)
    client.registry.store(gone, user_id="ghost")
    with pytest.raises(ConnectionGoneError):
        client.send(gone, "hello?")
    assert client.registry.get(gone) is None  # a 410 prunes the record
    with pytest.raises(ConnectionGoneError):
        client.disconnect(gone)
    assert [(c.method, c.status) for c in client.calls] == [
        ("POST", 200),
        ("POST", 200),
        ("GET", 200),
        ("GET", 200),
        ("GET", 410),
        ("POST", 410),
        ("DELETE", 410),
    ]
    assert client.calls[1].data == b"raw" and client.calls[0].endpoint == client.endpoint
    client.transport.clear()
    assert client.calls == []


def test_wrong_endpoint_is_forbidden(client: WebSocketTestClient) -> None:
    with client.connect("/") as ws:
        stranger = Sender(
            "https://abc.execute-api.us-east-1.amazonaws.com/prod", transport=client.transport
        )
        with pytest.raises(ForbiddenError):
            stranger.send(ws.connection_id, "hi")
        assert client.calls[-1].status == 403
        with pytest.raises(ReceiveTimeout):
            ws.receive_text(timeout=0.05)


def test_given_registry_is_used(rec: Recorder, tmp_path: Path) -> None:
    registry = open_registry(f"sqlite:///{tmp_path / 'r.db'}")
    with WebSocketTestClient(rec.app, registry=registry) as client, client.connect("/?token=s"):
        assert [c.user_id for c in registry.all()] == ["s"]
    assert registry.count() == 0
    registry.close()


# --- authorizer ---------------------------------------------------------------------------------


def test_app_authorizer_runs_before_connect() -> None:
    app = WebSocketApp(observe=False)
    seen: list[Any] = []
    asked: list[tuple[str | None, str | None]] = []

    @app.authorizer(identity_sources=["route.request.querystring.token"])
    def authorize(request: Any) -> Principal:
        asked.append((request.connection_id, request.header("Sec-WebSocket-Key")))
        if request.query.get("token") != "good":
            raise Unauthorized()
        return Principal("alice", {"role": "admin"})

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        seen.append(event.raw["requestContext"]["authorizer"])
        if event.raw["requestContext"]["authorizer"].get("role"):  # the app's authorizer ran
            # ... on the same handshake as $connect's.
            assert asked[-1] == (event.connection_id, event.headers["Sec-WebSocket-Key"])

    @app.route("who", two_way=True)
    def who(event: MessageEvent) -> Any:
        return event.raw["requestContext"]["authorizer"]

    with WebSocketTestClient(app) as client:
        for path, status in (("/", 401), ("/?token=bad", 401)):
            with pytest.raises(HandshakeRejected) as rejected:
                client.connect(path)
            assert rejected.value.status_code == status
        assert seen == [] and len(asked) == 1  # no token: refused before the authorizer ran
        with client.connect("/?token=good") as ws:
            assert seen[0]["principalId"] == "alice" and seen[0]["role"] == "admin"
            ws.send_json({"action": "who"})
            assert ws.receive_json()["principalId"] == "alice"
        with client.connect("/", authorizer={"principalId": "bob"}) as given:
            given.send_json({"action": "who"})
            assert given.receive_json() == {"principalId": "bob"}


def test_receive_json_rejects_non_json(client: WebSocketTestClient) -> None:
    with client.connect("/") as ws:
        client.send(ws.connection_id, "plain text")
        with pytest.raises(json.JSONDecodeError):
            ws.receive_json()
