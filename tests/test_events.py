"""wsgate.events: typed views over the golden events and over malformed ones."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgate.events import (
    ConnectEvent,
    DisconnectEvent,
    MessageEvent,
    WebSocketEvent,
    parse_event,
)
from wsgate.exceptions import ConfigurationError, EventError, InvalidBodyError, WsgateError

EVENTS = Path(__file__).parent / "events"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("connect_query.json", ConnectEvent),
        ("connect_no_query.json", ConnectEvent),
        ("connect_authorizer.json", ConnectEvent),
        ("message_default.json", MessageEvent),
        ("message_custom.json", MessageEvent),
        ("message_authorizer.json", MessageEvent),
        ("message_2020_identity.json", MessageEvent),
        ("disconnect_1000.json", DisconnectEvent),
        ("disconnect_1001.json", DisconnectEvent),
        ("disconnect_1005.json", DisconnectEvent),
    ],
)
def test_golden_event_parses_to_its_class(name: str, cls: type[WebSocketEvent]) -> None:
    raw = load(name)
    event = parse_event(raw)
    assert type(event) is cls
    ctx = raw["requestContext"]
    assert event.raw is raw
    assert event.connection_id == ctx["connectionId"]
    assert event.route_key == ctx["routeKey"]
    assert event.event_type == ctx["eventType"]
    assert event.stage == ctx["stage"]
    assert event.api_id == ctx["apiId"]
    assert event.domain_name == ctx["domainName"]
    assert event.connected_at == ctx["connectedAt"]
    assert event.request_time_epoch == ctx["requestTimeEpoch"]
    assert event.request_time == ctx["requestTime"]
    assert event.request_id == ctx["requestId"] == event.extended_request_id
    assert event.source_ip == ctx["identity"]["sourceIp"]
    assert event.message_direction == "IN"
    assert event.is_base64_encoded is False
    assert event.management_endpoint == f"https://{ctx['domainName']}/{ctx['stage']}"


def test_connect_fields() -> None:
    event = parse_event(load("connect_query.json"))
    assert isinstance(event, ConnectEvent)
    assert event.headers["host"] == "abc123.execute-api.us-east-1.amazonaws.com"
    assert event.headers["SEC-WEBSOCKET-VERSION"] == "13"
    assert "x-forwarded-for" in event.headers
    assert event.headers.get("Connection") is None
    assert event.query_params["token"] == "abc"
    assert event.query_params["room"] == "b"
    assert event.query_params.get_all("room") == ["a", "b"]
    assert event.user_agent is not None and event.user_agent.startswith("Mozilla/5.0")
    assert event.message_id is None
    assert event.body == ""
    assert event.authorizer is None
    assert event.subprotocols == ()


def test_connect_without_query_string_has_empty_params() -> None:
    raw = load("connect_no_query.json")
    assert "queryStringParameters" not in raw
    event = parse_event(raw)
    assert dict(event.query_params) == {}
    assert event.query_params.get("token") is None
    assert event.user_agent is None


def test_multi_value_headers_are_authoritative() -> None:
    event = parse_event(load("connect_no_query.json"))
    assert event.raw["headers"]["Sec-WebSocket-Extensions"] == ""
    assert event.headers["sec-websocket-extensions"] == "permessage-deflate; client_max_window_bits"
    assert event.headers.get_all("Sec-WebSocket-Extensions") == [
        "permessage-deflate; client_max_window_bits"
    ]
    assert "Sec-WebSocket-Extensions" in list(event.headers)


def test_connect_subprotocols_in_client_order() -> None:
    event = parse_event(load("connect_no_query.json"))
    assert isinstance(event, ConnectEvent)
    assert event.subprotocols == ("chat.v2", "chat.v1")


def test_authorizer_context_is_stringified() -> None:
    event = parse_event(load("connect_authorizer.json"))
    auth = event.authorizer
    assert auth is not None
    assert auth.principal_id == "user-42"
    assert auth.integration_latency == 57
    assert dict(auth) == {"tenant": "acme", "num": "123", "bool": "true", "null": None}
    assert auth.raw["integrationLatency"] == 57


def test_authorizer_values_that_are_not_strings_are_stringified() -> None:
    raw = load("connect_authorizer.json")
    raw["requestContext"]["authorizer"] = {"principalId": 7, "n": 5, "t": True, "f": 1.5}
    auth = parse_event(raw).authorizer
    assert auth is not None
    assert auth.principal_id == "7"
    assert dict(auth) == {"n": "5", "t": "true", "f": "1.5"}


def test_authorizer_propagates_to_message_and_disconnect() -> None:
    message = parse_event(load("message_authorizer.json"))
    disconnect = parse_event(load("disconnect_1000.json"))
    assert message.authorizer is not None and message.authorizer.principal_id == "user-42"
    assert disconnect.authorizer is not None and disconnect.authorizer.principal_id == "user"


def test_message_fields_and_json() -> None:
    event = parse_event(load("message_custom.json"))
    assert isinstance(event, MessageEvent)
    assert event.message_id == "R1kpTc2WNjMCFIA="
    assert event.body == '{"action":"sendmessage","data":"hi"}'
    assert event.json == {"action": "sendmessage", "data": "hi"}
    assert event.json is event.json  # parsed once, cached
    assert dict(event.headers) == {}
    assert dict(event.query_params) == {}


def test_message_body_kept_byte_for_byte_and_bad_json_is_a_library_error() -> None:
    event = parse_event(load("message_default.json"))
    assert event.body == "hello\r\n\tnot json"
    with pytest.raises(InvalidBodyError) as info:
        _ = event.json
    assert isinstance(info.value, ValueError)
    assert info.value.field == "body"


def test_2020_identity_with_nulls() -> None:
    event = parse_event(load("message_2020_identity.json"))
    assert event.identity.source_ip == "203.0.113.7"
    assert event.identity.user_agent is None
    assert event.identity.raw["cognitoIdentityPoolId"] is None


@pytest.mark.parametrize(
    ("name", "code", "reason"),
    [
        ("disconnect_1000.json", 1000, "Connection Closed Normally"),
        ("disconnect_1001.json", 1001, ""),
        ("disconnect_1005.json", 1005, "Client-side close frame status not set"),
    ],
)
def test_disconnect_code_and_reason(name: str, code: int, reason: str) -> None:
    event = parse_event(load(name))
    assert isinstance(event, DisconnectEvent)
    assert event.disconnect_status_code == code
    assert event.disconnect_reason == reason
    assert event.headers["X-API-KEY"] == ""
    assert set(event.headers) == {"Host", "x-api-key", "X-Forwarded-For", "x-restapi"}


def test_base64_body_is_decoded() -> None:
    raw = load("message_custom.json")
    raw["body"] = base64.b64encode('{"action":"x","é":1}'.encode()).decode()
    raw["isBase64Encoded"] = True
    event = parse_event(raw)
    assert event.body == '{"action":"x","é":1}'
    assert event.json == {"action": "x", "é": 1}
    assert event.body_bytes == '{"action":"x","é":1}'.encode()


def test_bad_base64_body_raises_invalid_body() -> None:
    raw = load("message_custom.json")
    raw["body"] = "!!not base64!!"
    raw["isBase64Encoded"] = True
    with pytest.raises(InvalidBodyError):
        _ = parse_event(raw).body


def test_unknown_fields_break_nothing() -> None:
    raw = load("message_custom.json")
    raw["brandNewField"] = {"x": 1}
    raw["requestContext"]["futureThing"] = [1, 2]
    event = parse_event(raw)
    assert event.route_key == "sendmessage"
    assert event.raw["brandNewField"] == {"x": 1}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda r: r.pop("requestContext"), "requestContext"),
        (lambda r: r.update(requestContext="nope"), "requestContext"),
        (lambda r: r["requestContext"].update(eventType="UPGRADE"), "requestContext.eventType"),
        (lambda r: r["requestContext"].pop("eventType"), "requestContext.eventType"),
        (lambda r: r["requestContext"].pop("routeKey"), "requestContext.routeKey"),
        (lambda r: r["requestContext"].update(connectionId=5), "requestContext.connectionId"),
    ],
)
def test_malformed_events_raise_event_error(mutate: Any, field: str) -> None:
    raw = load("message_custom.json")
    mutate(raw)
    with pytest.raises(EventError) as info:
        parse_event(raw)
    assert info.value.field == field
    assert field in str(info.value)


def test_non_mapping_event_raises_event_error() -> None:
    with pytest.raises(EventError, match="expected a JSON object"):
        parse_event([1, 2])  # type: ignore[arg-type]


def test_missing_lazy_field_names_the_field() -> None:
    raw = load("message_custom.json")
    del raw["requestContext"]["stage"]
    raw["requestContext"]["connectedAt"] = "yesterday"
    event = parse_event(raw)
    with pytest.raises(EventError, match=r"requestContext\.stage"):
        _ = event.stage
    with pytest.raises(EventError, match=r"requestContext\.connectedAt"):
        _ = event.connected_at


def test_subclass_refuses_another_event_type() -> None:
    with pytest.raises(EventError, match="expected 'CONNECT'"):
        ConnectEvent(load("message_custom.json"))


def test_management_endpoint_for_loopback_uses_http() -> None:
    raw = load("message_custom.json")
    raw["requestContext"]["domainName"] = "127.0.0.1:3001"
    raw["requestContext"]["stage"] = "local"
    assert parse_event(raw).management_endpoint == "http://127.0.0.1:3001/local"


def test_custom_domain_and_execute_api_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = load("message_custom.json")
    raw["requestContext"]["domainName"] = "ws.example.com"
    event = parse_event(raw)
    assert event.is_custom_domain
    assert event.management_endpoint == "https://ws.example.com/prod"
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    expected = "https://dl7ptocha9.execute-api.eu-west-1.amazonaws.com/prod"
    assert event.execute_api_endpoint() == expected
    assert event.execute_api_endpoint("us-east-2").endswith(".us-east-2.amazonaws.com/prod")
    monkeypatch.delenv("AWS_REGION")
    with pytest.raises(ConfigurationError):
        event.execute_api_endpoint()


def test_execute_api_endpoint_region_from_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    event = parse_event(load("message_custom.json"))
    assert not event.is_custom_domain
    assert event.execute_api_endpoint() == event.management_endpoint


def test_events_are_read_only() -> None:
    event = parse_event(load("message_custom.json"))
    with pytest.raises(AttributeError):
        event.route_key = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        event.headers["x"] = "y"  # type: ignore[index]


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(
    ctx_patch=st.dictionaries(
        st.sampled_from(
            [
                "eventType",
                "routeKey",
                "connectionId",
                "identity",
                "authorizer",
                "stage",
                "domainName",
            ]
        ),
        _json,
        max_size=4,
    ),
    top_patch=st.dictionaries(
        st.sampled_from(
            [
                "headers",
                "multiValueHeaders",
                "body",
                "queryStringParameters",
                "isBase64Encoded",
                "requestContext",
            ]
        ),
        _json,
        max_size=3,
    ),
)
def test_parsing_garbage_raises_only_wsgate_errors(
    ctx_patch: dict[str, Any], top_patch: dict[str, Any]
) -> None:
    raw = copy.deepcopy(load("connect_query.json"))
    raw["requestContext"].update(ctx_patch)
    raw.update(top_patch)
    try:
        event = parse_event(raw)
        for name in (
            "connection_id",
            "route_key",
            "stage",
            "identity",
            "authorizer",
            "headers",
            "query_params",
            "body",
            "json",
            "management_endpoint",
        ):
            with contextlib.suppress(WsgateError):
                getattr(event, name)
    except WsgateError:
        pass


def test_single_value_maps_alone_are_read() -> None:
    raw = load("connect_query.json")
    del raw["multiValueHeaders"], raw["multiValueQueryStringParameters"]
    event = parse_event(raw)
    assert event.headers["origin"] == "https://app.example.com"
    assert event.headers.get_all("ORIGIN") == ["https://app.example.com"]
    assert event.query_params == {"token": "abc", "room": "b"}
    assert event.query_params.get_all("room") == ["b"]


def test_repeated_header_values_are_joined() -> None:
    raw = load("connect_query.json")
    raw["multiValueHeaders"]["Sec-WebSocket-Protocol"] = ["chat.v1", "chat.v2"]
    event = parse_event(raw)
    assert isinstance(event, ConnectEvent)
    assert event.headers["sec-websocket-protocol"] == "chat.v1, chat.v2"
    assert event.subprotocols == ("chat.v1", "chat.v2")
