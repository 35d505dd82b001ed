"""The verified identity of later events: ``user_id_from_event`` and ``event.principal_id``."""

from __future__ import annotations

from typing import Any

import pytest

from wsgate.auth import identity_from_event, user_id_from_event
from wsgate.events import parse_event


def message(authorizer: Any = None, query: dict[str, str] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {
        "routeKey": "$default",
        "eventType": "MESSAGE",
        "messageId": "R1knPc2ntjMCFIA=",
        "extendedRequestId": "R1knPH17NjMFftw=",
        "requestId": "R1knPH17NjMFftw=",
        "requestTime": "20/Jan/2024:11:55:00 +0000",
        "requestTimeEpoch": 1705751700453,
        "messageDirection": "IN",
        "stage": "prod",
        "connectedAt": 1705751697419,
        "identity": {"sourceIp": "192.0.2.1"},
        "domainName": "abc.execute-api.us-east-1.amazonaws.com",
        "connectionId": "R1kmxc2VNjMCFIA=",
        "apiId": "abc",
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {"requestContext": context, "body": "{}", "isBase64Encoded": False}
    if query:
        event["queryStringParameters"] = query
    return event


AUTHORIZED = {
    "principalId": "user-42",
    "integrationLatency": 12,
    "userId": "u-9",
    "num": "123",
    "null": None,
}


def test_principal_id_is_the_default_user_id() -> None:
    assert user_id_from_event(message(AUTHORIZED)) == "user-42"


def test_a_context_key_can_hold_the_user_id() -> None:
    assert user_id_from_event(message(AUTHORIZED), "userId") == "u-9"
    assert user_id_from_event(message(AUTHORIZED), "principalId") == "user-42"
    assert user_id_from_event(message(AUTHORIZED), "absent") is None
    assert user_id_from_event(message(AUTHORIZED), "null") is None


def test_no_authorizer_means_no_user_even_with_a_query_claim() -> None:
    assert user_id_from_event(message(None, {"userId": "admin"})) is None
    assert identity_from_event(message(None)) is None
    assert identity_from_event({"requestContext": "garbage"}) is None
    assert identity_from_event(None) is None


def test_typed_events_work_too() -> None:
    event = parse_event(message(AUTHORIZED))
    assert user_id_from_event(event) == "user-42"
    assert event.principal_id == "user-42"
    assert parse_event(message()).principal_id is None


def test_identity_keeps_context_stringified() -> None:
    identity = identity_from_event(message({**AUTHORIZED, "flag": True, "n": 3}))
    assert identity is not None
    assert identity.principal_id == "user-42"
    assert identity.integration_latency == 12
    assert identity.context == {
        "userId": "u-9",
        "num": "123",
        "null": None,
        "flag": "true",
        "n": "3",
    }


@pytest.mark.parametrize("principal", ["", None, True, 1.5, ["x"]])
def test_unusable_principal_is_no_user(principal: Any) -> None:
    assert user_id_from_event(message({"principalId": principal})) is None


def test_an_integer_principal_is_stringified_as_api_gateway_does() -> None:
    # The authorizer (not the client) chose it; API Gateway passes principalId on as a string.
    assert user_id_from_event(message({"principalId": 5})) == "5"


@pytest.mark.parametrize(
    "authorizer",
    [
        {},
        {"principalId": ""},
        {"principalId": 42, "n": 3.0},
        {"principalId": "p", "obj": {"a": 1}, "flag": True, "none": None},
        {"principalId": "p", "integrationLatency": 1.5},
    ],
)
def test_event_authorizer_and_identity_read_the_same(authorizer: dict[str, Any]) -> None:
    """One parser: the event's view and ``identity_from_event`` never disagree."""
    raw = message(authorizer)
    parsed = parse_event(raw).authorizer
    identity = identity_from_event(raw)
    assert parsed is not None and identity is not None  # an authorizer ran
    assert identity.principal_id == parsed.principal_id
    assert dict(identity.context) == dict(parsed)
    assert identity.integration_latency == parsed.integration_latency
    assert identity_from_event(parse_event(raw)) == identity
