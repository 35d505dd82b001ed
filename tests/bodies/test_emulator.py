"""Typed routes behind ``wsgate serve`` (the emulator on a loopback port, a real WebSocket
client): the invalid-body frame reaches the client through the ``@connections`` path, an acked
message is answered ``rejected``, and nothing reaches the handler."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect

from support import ThreadedEmulator
from wsgate import WebSocketApp
from wsgate.delivery import Delivery, MemoryDeliveryStore, enable
from wsgate.local import EmulatorConfig
from wsgate.local.server import Emulator

from . import models as m

calls: list[Any] = []


def make_app() -> WebSocketApp:
    app = WebSocketApp()

    @app.route("shape")
    def shape(event: Any, body: m.Shape) -> None:
        calls.append(body)

    @app.route("person", two_way=True)
    def person(event: Any, body: m.Person) -> m.Reply:
        calls.append(body)
        return m.Reply(echoed=body.name, length=len(body.name))

    enable(app, Delivery(MemoryDeliveryStore()), pump_on_message=False)
    return app


@pytest.fixture
def served(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedEmulator]:
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("WSGATE_ENDPOINT", raising=False)
    calls.clear()
    running = ThreadedEmulator(Emulator(make_app(), EmulatorConfig(port=0)))
    yield running
    running.stop()


def test_invalid_bodies_over_a_real_websocket(served: ThreadedEmulator) -> None:
    with connect(served.ws_url) as ws:
        ws.send(json.dumps({"action": "shape", "name": ["x"], "points": []}))
        frame = json.loads(ws.recv(timeout=10))
        ws.send(json.dumps({"action": "person", "name": "ada"}))
        reply = json.loads(ws.recv(timeout=10))
        ws.send(json.dumps({"action": "shape", "points": [], "ackId": "k-1"}))
        ack = json.loads(ws.recv(timeout=10))
        ws.send(json.dumps({"action": "person", "name": "ada", "age": 3}))
        good = json.loads(ws.recv(timeout=10))
    assert frame["type"] == "wsgate.invalid" and frame["route"] == "shape"
    assert frame["errors"] == [{"path": "name", "message": "expected a string, got an array"}]
    assert reply["type"] == "wsgate.invalid" and reply["errors"][0]["path"] == "age"
    assert ack == {
        "type": "wsgate.ack",
        "ackId": "k-1",
        "status": "rejected",
        "reason": "invalid body: name: field required",
    }
    assert good == {"echoed": "ada", "length": 3}
    assert calls == [m.Person(name="ada", age=3)]
