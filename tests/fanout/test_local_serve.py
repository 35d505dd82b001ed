"""``wsgate serve --fanout``: a handler in the emulator hands a room broadcast off, and local
workers polling a real SQS queue (moto_server) deliver it to real WebSocket clients."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from support import ThreadedEmulator
from wsgate.fanout import Fanout
from wsgate.fanout.local import LocalFanout
from wsgate.gateway import ws_join_room, ws_store_connection
from wsgate.local import EmulatorConfig
from wsgate.local.server import Emulator
from wsgate.router import WebSocketApp
from wsgate.testing.servers import LocalServer

ROOM = "lobby"


def _app() -> WebSocketApp:
    app = WebSocketApp(route_selection_expression="$request.body.action")
    fanout = Fanout(threshold=2)  # reads WSGATE_FANOUT_QUEUE_URL when it first enqueues

    @app.connect
    def on_connect(event: Any) -> dict[str, Any]:
        ws_store_connection(event.connection_id)
        return {"statusCode": 200}

    @app.route("join", two_way=True)
    def join(event: Any) -> dict[str, Any]:
        ws_join_room(event.connection_id, ROOM)
        return {"statusCode": 200, "body": "joined"}

    @app.route("shout", two_way=True)
    def shout(event: Any) -> dict[str, Any]:
        done = fanout.broadcast_to_room(ROOM, {"text": event.json["text"]})
        return {"statusCode": 200, "body": json.dumps({"handed_off": done.handed_off})}

    return app


@pytest.fixture
def emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], ThreadedEmulator]:
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.delenv("WSGATE_ENDPOINT", raising=False)
    started: list[ThreadedEmulator] = []

    def start() -> ThreadedEmulator:
        running = ThreadedEmulator(Emulator(_app(), EmulatorConfig(port=0)))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def test_a_handed_off_broadcast_reaches_every_member_once(
    emulator: Callable[[], ThreadedEmulator], moto_server: LocalServer
) -> None:
    running = emulator()
    fanout = LocalFanout(2, endpoint=moto_server.endpoint_url)
    fanout.start()
    try:
        with contextlib.ExitStack() as stack:
            clients = [
                stack.enter_context(connect(running.ws_url, open_timeout=10)) for _ in range(6)
            ]
            _shout(clients)
    finally:
        fanout.stop()


def _shout(clients: list[Any]) -> None:
    for ws in clients:
        ws.send(json.dumps({"action": "join"}))
        assert ws.recv(timeout=10) == "joined"
    clients[0].send(json.dumps({"action": "shout", "text": "to everyone"}))
    assert json.loads(clients[0].recv(timeout=10)) == {"handed_off": True}
    for ws in clients:
        assert json.loads(ws.recv(timeout=30)) == {"text": "to everyone"}
    for ws in clients:  # exactly once: nothing else arrives
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)
