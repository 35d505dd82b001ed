"""``wsgate.gateway`` sends from handlers: in-process by default, over HTTP with --http-sends."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from websockets.sync.client import connect

from wsgate import config as wsgate_config
from wsgate.exceptions import ConnectionGoneError, PayloadTooLargeError, ThrottledError
from wsgate.gateway import ws_get_connection, ws_send_message, ws_store_connection
from wsgate.local.config import Faults
from wsgate.local.transport import LocalTransport
from wsgate.router import WebSocketApp

UNKNOWN = "R1kmxc2VNjMCFIA="


def _app(outcomes: list[str]) -> WebSocketApp:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: Any) -> None:
        try:
            ws_send_message(event.connection_id, "too early")
        except ConnectionGoneError:
            outcomes.append("gone during $connect")
        # Stored after the failed send: a Gone answer prunes the record, as on AWS.
        ws_store_connection(event.connection_id, user_id="ada")

    @app.route("echo")
    def echo(event: Any) -> None:
        ws_send_message(event.connection_id, event.body)

    @app.route("probe")
    def probe(event: Any) -> None:
        for name, call in (
            ("unknown", lambda: ws_send_message(UNKNOWN, "x")),
            ("big", lambda: ws_send_message(event.connection_id, "x" * 131_073)),
        ):
            try:
                call()
            except ConnectionGoneError:
                outcomes.append(f"{name}: gone")
            except PayloadTooLargeError:
                outcomes.append(f"{name}: too large")
            except ThrottledError:
                outcomes.append(f"{name}: throttled")
        record = ws_get_connection(event.connection_id)
        outcomes.append(f"user: {record and record['userId']}")

    return app


@pytest.mark.parametrize("in_process", [True, False])
def test_gateway_sends_reach_the_client(start_emulator: Any, in_process: bool) -> None:
    outcomes: list[str] = []
    running = start_emulator(_app(outcomes), in_process_sends=in_process)
    transport = wsgate_config.get_sender().transport
    assert isinstance(transport, LocalTransport) is in_process
    with connect(running.ws_url) as ws:
        message = json.dumps({"action": "echo", "text": "héllo"})
        ws.send(message)
        assert ws.recv(5) == message
        ws.send(json.dumps({"action": "probe"}))
        wait = threading.Event()
        for _ in range(200):
            if any(o.startswith("user:") for o in outcomes):
                break
            wait.wait(0.05)
    assert outcomes == [
        "gone during $connect",
        "unknown: gone",
        "big: too large",
        "user: ada",
    ]


def test_faults_apply_to_in_process_sends(start_emulator: Any) -> None:
    outcomes: list[str] = []
    running = start_emulator(_app(outcomes), faults=Faults(throttle=0.0))
    with connect(running.ws_url) as ws:
        running.emulator.config.faults.update({"throttle": 1.0})
        ws.send(json.dumps({"action": "probe"}))
        wait = threading.Event()
        for _ in range(400):
            if any(o.startswith("user:") for o in outcomes):
                break
            wait.wait(0.05)
    # "big" is refused by the sender itself before any call, as on AWS-bound code
    assert outcomes[1:] == ["unknown: throttled", "big: too large", "user: ada"]


def test_stop_gives_back_the_configuration(start_emulator: Any) -> None:
    running = start_emulator(_app([]))
    assert isinstance(wsgate_config.get_sender().transport, LocalTransport)
    running.stop()
    wsgate_config.configure(endpoint="http://127.0.0.1:9/local")
    assert not isinstance(wsgate_config.get_sender().transport, LocalTransport)
    wsgate_config.reset()
