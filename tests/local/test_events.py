"""§10.6/§10.11: the emulator's events, key by key against the golden events of tests/events/."""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

import pytest
from websockets.sync.client import connect

from wsgate.local import eventgen

from .conftest import EVENTS, Recorder

ID = re.compile(r"[A-Za-z0-9_-]{15}=")
CLF = re.compile(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000")


def golden(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def same_shape(ours: Any, theirs: Any, path: str = "") -> None:
    """Same keys at every level of ``requestContext``-like dicts, same value types."""
    assert type(ours) is type(theirs), f"{path}: {type(ours).__name__} != {type(theirs).__name__}"
    if isinstance(ours, dict):
        assert set(ours) == set(theirs), f"{path}: {sorted(ours)} != {sorted(theirs)}"
        for key in ours:
            same_shape(ours[key], theirs[key], f"{path}.{key}")


def check_common(ctx: dict[str, Any], emulator: Any) -> None:
    assert ID.fullmatch(ctx["connectionId"])
    assert ID.fullmatch(ctx["requestId"]) and ctx["requestId"] == ctx["extendedRequestId"]
    assert CLF.fullmatch(ctx["requestTime"])
    assert abs(ctx["requestTimeEpoch"] - time.time() * 1000) < 60_000
    assert ctx["connectedAt"] <= ctx["requestTimeEpoch"]
    assert ctx["messageDirection"] == "IN"
    assert ctx["stage"] == "local"
    assert ctx["apiId"] == emulator.emulator.api_id
    assert ctx["domainName"] == f"127.0.0.1:{emulator.port}"


def test_connect_event_with_query_matches_golden(emulator: Any, recorder: Recorder) -> None:
    url = emulator.ws_url + "?token=abc&room=a&room=b"
    with connect(url, additional_headers={"Origin": "https://app.example.com"}):
        event = recorder.wait("CONNECT")[0]
    ref = golden("connect_query.json")
    assert set(event) == set(ref)
    same_shape(event["requestContext"], ref["requestContext"])
    assert event["queryStringParameters"] == {"token": "abc", "room": "b"}
    assert event["multiValueQueryStringParameters"] == {"token": ["abc"], "room": ["a", "b"]}
    assert "body" not in event and event["isBase64Encoded"] is False
    headers = event["headers"]
    for name in ("Host", "Origin", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "User-Agent"):
        assert name in headers
    for name in ("X-Amzn-Trace-Id", "X-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Proto"):
        assert name in headers
    lowered = {h.lower() for h in headers}
    assert not lowered & {"connection", "upgrade", "content-length"}
    assert event["multiValueHeaders"]["Origin"] == ["https://app.example.com"]
    assert headers["X-Forwarded-Port"] == str(emulator.port)
    check_common(event["requestContext"], emulator)
    assert event["requestContext"]["connectedAt"] == event["requestContext"]["requestTimeEpoch"]


def test_connect_event_without_query_matches_golden(emulator: Any, recorder: Recorder) -> None:
    with connect(emulator.ws_url, user_agent_header=None):
        event = recorder.wait("CONNECT")[0]
    ref = golden("connect_no_query.json")
    assert set(event) == set(ref)
    assert "queryStringParameters" not in event
    same_shape(event["requestContext"], ref["requestContext"])


def test_message_event_matches_golden(emulator: Any, recorder: Recorder) -> None:
    body = '{"action":"sendmessage","data":"hi \\r\\n\\t"}\r\n'
    with connect(emulator.ws_url) as ws:
        ws.send(body)
        ws.send("second")
        events = recorder.wait("MESSAGE", 2)
    connect_ctx = recorder.of("CONNECT")[0]["requestContext"]
    ref = golden("message_default.json")
    for event in events:
        assert set(event) == set(ref)
        same_shape(event["requestContext"], ref["requestContext"])
        ctx = event["requestContext"]
        assert ctx["routeKey"] == "$default" and ctx["eventType"] == "MESSAGE"
        assert ID.fullmatch(ctx["messageId"])
        assert ctx["connectedAt"] == connect_ctx["connectedAt"]
        assert ctx["connectionId"] == connect_ctx["connectionId"]
        check_common(ctx, emulator)
    # Handlers run concurrently in the worker pool, so the recorder may see them in any order.
    assert sorted(event["body"] for event in events) == sorted([body, "second"])
    assert events[0]["requestContext"]["messageId"] != events[1]["requestContext"]["messageId"]
    assert events[0]["requestContext"]["requestId"] != events[1]["requestContext"]["requestId"]


@pytest.mark.parametrize(
    ("code", "reason", "golden_name", "want_reason"),
    [
        (1000, "bye", "disconnect_1000.json", "bye"),
        (1001, "", "disconnect_1001.json", ""),
        (None, None, "disconnect_1005.json", "Client-side close frame status not set"),
    ],
)
def test_disconnect_event_matches_golden(
    emulator: Any,
    recorder: Recorder,
    code: int | None,
    reason: str | None,
    golden_name: str,
    want_reason: str,
) -> None:
    ref = golden(golden_name)
    agent = "Mozilla/5.0 test" if "userAgent" in ref["requestContext"]["identity"] else None
    with connect(emulator.ws_url, user_agent_header=agent) as ws:
        recorder.wait("CONNECT")
        if code is None:
            # A close frame without a status code (the protocol object allows it).
            with ws.send_context():
                ws.protocol.send_close()
        else:
            ws.close(code, reason or "")
    event = recorder.wait("DISCONNECT")[0]
    assert set(event) == set(ref)
    # No authorizer runs here (that is issue 8's part); the rest must match key by key.
    ref["requestContext"].pop("authorizer", None)
    same_shape(event["requestContext"], ref["requestContext"])
    assert event["headers"] == {
        "Host": f"127.0.0.1:{emulator.port}",
        "x-api-key": "",
        "X-Forwarded-For": "",
        "x-restapi": "",
    }
    assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}
    ctx = event["requestContext"]
    assert ctx["disconnectStatusCode"] == (1005 if code is None else code)
    assert ctx["disconnectReason"] == want_reason
    assert "messageId" not in ctx and "body" not in event
    check_common(ctx, emulator)


def test_user_agent_only_when_sent(emulator: Any, recorder: Recorder) -> None:
    """A raw handshake without User-Agent: identity has sourceIp only."""
    sock = socket.create_connection(("127.0.0.1", emulator.port), timeout=5)
    sock.sendall(
        b"GET /local HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    assert sock.recv(1024).startswith(b"HTTP/1.1 101")
    sock.close()
    connect_event = recorder.wait("CONNECT")[0]
    assert connect_event["requestContext"]["identity"] == {"sourceIp": "127.0.0.1"}
    assert connect_event["requestContext"]["domainName"] == "127.0.0.1"
    disconnect = recorder.wait("DISCONNECT")[0]["requestContext"]
    assert disconnect["identity"] == {"sourceIp": "127.0.0.1"}
    assert disconnect["disconnectStatusCode"] == 1006


def test_eventgen_ids_and_times() -> None:
    ids = {eventgen.make_id() for _ in range(500)}
    assert len(ids) == 500 and all(ID.fullmatch(i) for i in ids)
    assert eventgen.clf_time(1705751700453) == "20/Jan/2024:11:55:00 +0000"
    api_id = eventgen.make_api_id()
    assert re.fullmatch(r"[a-z0-9]{10}", api_id)


def test_eventgen_builds_golden_shapes_without_io() -> None:
    common = {"stage": "prod", "api_id": "abcd1234", "domain_name": "abcd1234.example"}
    msg = eventgen.build_message_event(
        connection_id="R1kmxc2VNjMCFIA=", connected_at=1, body="{}", user_agent="ua", **common
    )
    same_shape(msg, golden("message_default.json"))
    disc = eventgen.build_disconnect_event(
        connection_id="R1kmxc2VNjMCFIA=", connected_at=1, status_code=1005, **common
    )
    same_shape(disc, golden("disconnect_1005.json"))
    assert disc["requestContext"]["disconnectReason"] == "Client-side close frame status not set"
    conn = eventgen.build_connect_event(
        connection_id="R1kmxc2VNjMCFIA=",
        connected_at=1,
        headers=[("Host", "h"), ("X-Multi", "1"), ("X-Multi", "2")],
        query=[("token", "abc")],
        user_agent="ua",
        authorizer=golden("connect_authorizer.json")["requestContext"]["authorizer"],
        **common,
    )
    assert conn["headers"]["X-Multi"] == "2"
    assert conn["multiValueHeaders"]["X-Multi"] == ["1", "2"]
    assert conn["requestContext"]["authorizer"]["principalId"] == "user-42"
    same_shape(conn["requestContext"], golden("connect_authorizer.json")["requestContext"])


def test_forwarded_headers_keep_a_client_trace_id_and_hide_case_insensitively() -> None:
    from wsgate.local.eventgen import forwarded_headers

    client = [("Host", "h"), ("Upgrade", "websocket"), ("x-amzn-trace-id", "Root=mine")]
    integration = forwarded_headers(client, source_ip="10.0.0.9", port=3001, hide={"UPGRADE"})
    assert integration == [
        ("Host", "h"),
        ("x-amzn-trace-id", "Root=mine"),
        ("X-Forwarded-For", "10.0.0.9"),
        ("X-Forwarded-Port", "3001"),
        ("X-Forwarded-Proto", "http"),
    ]
    authorizer = forwarded_headers([("Upgrade", "websocket")], source_ip="1.2.3.4", port=1)
    assert authorizer[0] == ("Upgrade", "websocket")
    assert authorizer[1][0] == "X-Amzn-Trace-Id" and authorizer[1][1].startswith("Root=1-")
