"""§10.5 and §10.7/§10.8: frame and message limits, binary frames, routing and error frames."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.sync.client import connect

from wsgate.local.invoke import AppSpec
from wsgate.router import WebSocketApp

from .conftest import Recorder

ID = r"[A-Za-z0-9_-]{15}="


def _closed_with(ws: Any) -> int:
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(5)
    assert info.value.rcvd is not None
    return int(info.value.rcvd.code)


def _send_fragments(ws: Any, parts: list[bytes], opcode: Opcode = Opcode.TEXT) -> None:
    """Send one message as several frames, through the client's own protocol object."""
    frames = [Frame(opcode if i == 0 else Opcode.CONT, p, fin=False) for i, p in enumerate(parts)]
    frames[-1] = Frame(frames[-1].opcode, parts[-1], fin=True)
    with ws.send_context():
        for frame in frames:
            ws.protocol.send_frame(frame)
    # send_context flushes the data the protocol produced


def test_frame_of_32kb_passes_and_one_byte_more_closes_1009(
    emulator: Any, recorder: Recorder
) -> None:
    with connect(emulator.ws_url, compression=None) as ws:
        ws.send("a" * 32_768)
        assert recorder.wait("MESSAGE")[0]["body"] == "a" * 32_768
        ws.send("b" * 32_769)
        assert _closed_with(ws) == 1009
    ctx = recorder.wait("DISCONNECT")[0]["requestContext"]
    assert ctx["disconnectStatusCode"] == 1009
    assert len(recorder.of("MESSAGE")) == 1


def test_fragmented_message_is_reassembled(emulator: Any, recorder: Recorder) -> None:
    parts = [b"x" * 30_000, b"y" * 30_000, b"z" * 30_000, "é!".encode()]
    with connect(emulator.ws_url, compression=None) as ws:
        _send_fragments(ws, parts)
        body = recorder.wait("MESSAGE")[0]["body"]
    assert body == b"".join(parts).decode()


def test_fragmented_message_over_128kb_closes_1009(emulator: Any, recorder: Recorder) -> None:
    parts = [b"x" * 32_768] * 4 + [b"!"]
    with connect(emulator.ws_url, compression=None) as ws:
        _send_fragments(ws, parts)
        assert _closed_with(ws) == 1009
    assert recorder.of("MESSAGE") == []


def test_binary_frame_closes_1003(emulator: Any, recorder: Recorder) -> None:
    with connect(emulator.ws_url) as ws:
        ws.send(b"\x00\x01binary")
        assert _closed_with(ws) == 1003
    assert recorder.wait("DISCONNECT")[0]["requestContext"]["disconnectStatusCode"] == 1003
    assert recorder.of("MESSAGE") == []


def _chat_app(hold: threading.Event | None = None) -> WebSocketApp:
    app = WebSocketApp()

    @app.route("echo", two_way=True)
    def echo(event: Any) -> dict[str, Any]:
        return {"statusCode": 500, "body": "echo:" + event.body}

    @app.route("quiet")
    def quiet(event: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": "never sent"}

    @app.route("slow")
    def slow(event: Any) -> None:
        assert hold is not None
        hold.wait(5)

    return app


def test_selection_two_way_one_way_and_forbidden_frame(start_emulator: Any) -> None:
    running = start_emulator(_chat_app())
    with connect(running.ws_url) as ws:
        ws.send(json.dumps({"action": "echo", "n": 1}))
        # statusCode is ignored on message routes: the body still arrives
        assert ws.recv(5) == 'echo:{"action": "echo", "n": 1}'
        ws.send(json.dumps({"action": "quiet"}))
        ws.send(json.dumps({"action": "nope"}))
        frame = ws.recv(5)
        match = re.fullmatch(
            rf'\{{"message": "Forbidden", "connectionId":"({ID})", "requestId":"({ID})"\}}', frame
        )
        assert match, frame
        assert match.group(1) == running.connection_ids()[0]
        ws.send("not json")  # no $default either: Forbidden, and the socket stays open
        assert '"message": "Forbidden"' in ws.recv(5)
        ws.send(json.dumps({"action": "echo"}))
        assert ws.recv(5) == 'echo:{"action": "echo"}'


def test_handler_exception_sends_internal_server_error_frame(
    emulator: Any, recorder: Recorder
) -> None:
    def boom(event: dict[str, Any], context: Any) -> Any:
        raise ValueError("handler bug")

    recorder.on["MESSAGE"] = boom
    with connect(emulator.ws_url) as ws:
        ws.send("hello")
        frame = ws.recv(5)
        request_id = recorder.wait("MESSAGE")[0]["requestContext"]["requestId"]
        cid = emulator.connection_ids()[0]
        assert frame == (
            f'{{"message": "Internal server error", "connectionId":"{cid}", '
            f'"requestId":"{request_id}"}}'
        )
        ws.send("still open")
        assert "Internal server error" in ws.recv(5)


def test_timeout_sends_endpoint_request_timed_out_frame(
    start_emulator: Any, recorder: Recorder
) -> None:
    release = threading.Event()
    contexts: list[Any] = []

    def slow(event: dict[str, Any], context: Any) -> Any:
        contexts.append(context.get_remaining_time_in_millis())
        release.wait(5)

    recorder.on["MESSAGE"] = slow
    running = start_emulator(AppSpec.from_object(recorder), integration_timeout=0.5)
    try:
        with connect(running.ws_url) as ws:
            ws.send("slow")
            frame = ws.recv(5)
            assert frame.startswith('{"message": "Endpoint request timed out", "connectionId":"')
            assert 0 < contexts[0] <= 500
    finally:
        release.set()


def test_template_gives_a_plain_function_its_routes(start_emulator: Any, tmp_path: Any) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        """
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: t, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.op}
  EchoRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: echo
      RouteResponseSelectionExpression: $default
      Target: !Join [/, [integrations, !Ref Integ]]
  Integ:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: AWS_PROXY, TimeoutInMillis: 5000}
"""
    )
    calls: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(event["requestContext"]["routeKey"])
        return {"statusCode": 200, "body": "pong"}

    running = start_emulator(handler, template=str(template))
    spec = running.emulator.app
    assert spec.route_keys == {"echo"} and spec.two_way_route_keys == {"echo"}
    assert spec.timeouts == {"echo": 5.0}
    with connect(running.ws_url) as ws:  # no $connect route: accepted
        ws.send('{"op": "echo"}')
        assert ws.recv(5) == "pong"
        ws.send('{"op": "other"}')
        assert '"message": "Forbidden"' in ws.recv(5)
    assert calls == ["echo"]


def test_invalid_utf8_text_closes_1007(emulator: Any, recorder: Recorder) -> None:
    with connect(emulator.ws_url, compression=None) as ws:
        with ws.send_context():
            ws.protocol.send_frame(Frame(Opcode.TEXT, b"\xff\xfe not utf-8"))
        assert _closed_with(ws) == 1007
    assert recorder.wait("DISCONNECT")[0]["requestContext"]["disconnectStatusCode"] == 1007
    assert recorder.of("MESSAGE") == []
