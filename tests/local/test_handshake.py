"""§10.1, §10.2, §10.13: the handshake is held for ``$connect``, whose result decides it."""

from __future__ import annotations

import http.client
import threading
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from support import wait_until
from wsgate.local.invoke import AppSpec
from wsgate.responses import accept
from wsgate.router import WebSocketApp

from .conftest import Recorder


def test_101_is_held_until_connect_completes_and_posting_meanwhile_is_gone(
    emulator: Any, recorder: Recorder
) -> None:
    release = threading.Event()
    gone: list[str] = []
    client = emulator.client()

    def slow_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
        cid = event["requestContext"]["connectionId"]
        try:
            client.post_to_connection(ConnectionId=cid, Data=b"too early")
        except client.exceptions.GoneException:
            gone.append("post")
        try:
            client.get_connection(ConnectionId=cid)
        except client.exceptions.GoneException:
            gone.append("get")
        release.wait(10)
        return {"statusCode": 200}

    recorder.on["CONNECT"] = slow_connect
    opened = threading.Event()

    def run_client() -> None:
        with connect(emulator.ws_url, open_timeout=15) as ws:
            opened.set()
            ws.send("hi")
            recorder.wait("MESSAGE")

    thread = threading.Thread(target=run_client)
    thread.start()
    wait_until(lambda: len(gone) == 2, message="posts during $connect")
    assert not opened.is_set(), "the 101 went out before $connect returned"
    assert emulator.connection_ids() == []
    release.set()
    thread.join(15)
    assert opened.is_set()
    assert gone == ["post", "get"]


@pytest.mark.parametrize("status", [400, 401, 403, 429, 500])
def test_non_2xx_connect_rejects_with_that_status(
    emulator: Any, recorder: Recorder, status: int
) -> None:
    recorder.on["CONNECT"] = lambda e, c: {"statusCode": status}
    with pytest.raises(InvalidStatus) as info:
        connect(emulator.ws_url)
    assert info.value.response.status_code == status
    assert emulator.connection_ids() == []
    assert recorder.of("DISCONNECT") == []


def test_connect_exception_is_502(emulator: Any, recorder: Recorder) -> None:
    def boom(event: dict[str, Any], context: Any) -> Any:
        raise RuntimeError("connect handler crashed")

    recorder.on["CONNECT"] = boom
    with pytest.raises(InvalidStatus) as info:
        connect(emulator.ws_url)
    assert info.value.response.status_code == 502


def test_connect_timeout_is_504(start_emulator: Any, recorder: Recorder) -> None:
    release = threading.Event()
    recorder.on["CONNECT"] = lambda e, c: release.wait(5) and {"statusCode": 200}
    running = start_emulator(AppSpec.from_object(recorder), integration_timeout=0.3)
    try:
        with pytest.raises(InvalidStatus) as info:
            connect(running.ws_url)
        assert info.value.response.status_code == 504
    finally:
        release.set()


def test_connect_headers_reach_the_101_and_pick_the_subprotocol(start_emulator: Any) -> None:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: Any) -> Any:
        assert "chat.v2" in event.raw["headers"]["Sec-WebSocket-Protocol"]
        return accept("chat.v2", headers={"X-Custom": "yes"})

    @app.default
    def on_default(event: Any) -> None:
        return None

    running = start_emulator(app)
    with connect(running.ws_url, subprotocols=["chat.v1", "chat.v2"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "chat.v2"
        assert ws.response.headers["X-Custom"] == "yes"


def test_no_connect_route_accepts(start_emulator: Any) -> None:
    app = WebSocketApp()
    seen: list[str] = []

    @app.default(two_way=True)
    def echo(event: Any) -> dict[str, Any]:
        seen.append(event.body)
        return {"statusCode": 200, "body": event.body}

    running = start_emulator(app)
    assert "$connect" not in AppSpec.from_object(app).route_keys
    with connect(running.ws_url) as ws:
        ws.send("ping")
        assert ws.recv(5) == "ping"
    assert seen == ["ping"]


def test_plain_get_on_websocket_path_is_426(emulator: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
    conn.request("GET", "/local")
    reply = conn.getresponse()
    assert reply.status == 426
    conn.close()


@pytest.mark.parametrize("path", ["/prod", "/", "/local/extra"])
def test_upgrade_on_another_path_is_forbidden(emulator: Any, path: str) -> None:
    url = f"ws://127.0.0.1:{emulator.port}{path}"
    with pytest.raises(InvalidStatus) as info:
        connect(url)
    assert info.value.response.status_code == 403


def test_client_not_offering_compression_gets_none(emulator: Any, recorder: Recorder) -> None:
    with connect(emulator.ws_url, compression=None) as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
    with connect(emulator.ws_url) as ws:
        assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
        ws.send("x" * 20_000)
        message = recorder.wait("MESSAGE")[0]
    assert message["body"] == "x" * 20_000
