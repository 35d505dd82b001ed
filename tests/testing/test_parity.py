"""The in-process client and ``wsgate serve`` agree: one test body, both transports.

Handshake statuses, subprotocols, route selection, two-way responses, error frames and the
close code and reason of every kind of close, as a client sees them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wsgate.exceptions import HandshakeRejected, SessionClosed
from wsgate.testing import RemoteTestClient, WebSocketTestClient

from .parity_app import app

APP_FILE = Path(__file__).resolve().parent / "parity_app.py"
ID = r"[A-Za-z0-9_-]{15}="
FORBIDDEN = '{"message":"Forbidden"}'  # API Gateway's body for a path that is not the stage


@pytest.fixture(scope="module")
def serve() -> Iterator[RemoteTestClient]:
    """One ``wsgate serve parity_app.py`` for the module (each test uses new connections)."""
    with RemoteTestClient.start(str(APP_FILE)) as client:
        yield client


@pytest.fixture(params=["inprocess", "emulator"])
def api(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "inprocess":
        with WebSocketTestClient(app, raise_server_exceptions=False) as client:
            yield client
    else:
        yield request.getfixturevalue("serve")


def bye_of(watcher: Any, connection_id: str) -> dict[str, Any]:
    """The ``$disconnect`` notice for ``connection_id`` (notices of earlier tests' connections,
    closing while this test runs on the shared server, are skipped)."""
    while True:
        notice: dict[str, Any] = watcher.receive_json()
        if notice.get("bye") == connection_id:
            return notice


def test_handshake_outcomes(api: Any) -> None:
    for path, status, body in (("/?token=bad", 401, ""), ("/elsewhere", 403, FORBIDDEN)):
        with pytest.raises(HandshakeRejected) as rejected:
            api.connect(path)
        assert (rejected.value.status_code, rejected.value.reason) == (status, body)
    with pytest.raises(HandshakeRejected) as crashed:
        api.connect("/?token=crash")
    assert crashed.value.status_code == 502  # the handler's crash fails the invocation: 502
    with api.connect(
        "/?token=ann", headers={"Authorization": "Bearer t"}, subprotocols=["chat.v2"]
    ) as ws:
        assert ws.subprotocol == "chat.v2"
        record = api.registry.get(ws.connection_id)
        assert record.user_id == "ann"
        assert record.metadata == {"ua": "wsgate-testclient", "auth": "Bearer t"}
    with api.connect("/?token=bo", user_agent=None) as plain:
        assert plain.subprotocol is None
        assert api.registry.get(plain.connection_id).metadata["ua"] is None


def test_routes_two_way_and_error_frames(api: Any) -> None:
    with api.connect("/?token=cy") as ws:
        ws.send_json({"action": "echo", "text": "hi"})
        answer = ws.receive_json()
        assert answer["echo"] == "hi"
        assert answer["me"]["connectionId"] == ws.connection_id
        assert answer["me"]["endpoint"].endswith("/" + api.stage)
        ws.send_text("not json")  # no $default: Forbidden, and the connection stays open
        frame = ws.receive_text()
        assert re.fullmatch(
            rf'\{{"message": "Forbidden", "connectionId":"{re.escape(ws.connection_id)}", '
            rf'"requestId":"{ID}"\}}',
            frame,
        ), frame
        for action in ("boom", "boom2"):  # a crash: API Gateway's frame, one-way or two-way
            ws.send_json({"action": action})
            frame = ws.receive_text()
            assert re.fullmatch(
                rf'\{{"message": "Internal server error", '
                rf'"connectionId":"{re.escape(ws.connection_id)}", "requestId":"{ID}"\}}',
                frame,
            ), frame
        ws.send_json({"action": "echo", "text": "still open"})
        assert ws.receive_json()["echo"] == "still open"


@pytest.mark.parametrize(
    ("close", "code", "reason"),
    [
        (lambda ws: ws.close(), 1000, ""),
        (lambda ws: ws.close(1001, "tab closed"), 1001, "tab closed"),
        (lambda ws: ws.close(4001, "app code"), 4001, "app code"),
        (lambda ws: ws.close(1005), 1005, "Client-side close frame status not set"),
        (lambda ws: ws.drop(), 1006, ""),
        (lambda ws: ws.send_bytes(b"\x01\x02"), 1003, "Unsupported data"),
        (lambda ws: ws.send_text("x" * (40 * 1024)), 1009, "Message too big"),
    ],
)
def test_close_codes_reach_disconnect(api: Any, close: Any, code: int, reason: str) -> None:
    with api.connect("/?token=watcher") as watcher:
        ws = api.connect("/?token=leaver")
        close(ws)
        assert bye_of(watcher, ws.connection_id) == {
            "bye": ws.connection_id,
            "code": code,
            "reason": reason,
        }
        if code in (1003, 1009):  # closed by the server: the client learns why
            with pytest.raises(SessionClosed) as closed:
                ws.receive_text()
            assert closed.value.code == code


def test_server_side_disconnect_and_push(api: Any) -> None:
    with api.connect("/?token=watcher") as watcher, api.connect("/?token=target") as target:
        api.send(target.connection_id, {"hello": "from the backend"})
        assert target.receive_json() == {"hello": "from the backend"}
        api.disconnect(target.connection_id)
        assert bye_of(watcher, target.connection_id) == {
            "bye": target.connection_id,
            "code": 1000,
            "reason": "Connection Closed Normally",
        }
        with pytest.raises(SessionClosed) as closed:
            target.receive_text()
        assert closed.value.code == 1000
