"""Authorizer emulation decided without a socket: §4.2 event shape and §4.3 outcomes."""

from __future__ import annotations

from typing import Any

import pytest

from wsgate.auth import Principal, RequestAuthorizer, allow, deny
from wsgate.exceptions import Unauthorized
from wsgate.local.authorizer import LocalAuthorizer, Verdict, build_authorizer_event
from wsgate.local.eventgen import build_connect_event

from .kit import METHOD_ARN, authorizer_event


class Calls:
    """A raw Lambda authorizer handler that records its calls and answers as told."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        self.events.append(event)
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer


def run(answer: Any, event: dict[str, Any] | None = None, **options: Any) -> tuple[Verdict, Calls]:
    handler = Calls(answer)
    verdict = LocalAuthorizer(handler, **options).run(
        event if event is not None else authorizer_event({"Authorization": "token"})
    )
    return verdict, handler


def test_allow_propagates_principal_latency_and_stringified_context() -> None:
    context = {"str": "hello", "num": 123, "bool": True, "null": None}
    verdict, calls = run(allow("my-username", METHOD_ARN, context))
    assert verdict.status is None
    assert verdict.authorizer is not None
    latency = verdict.authorizer.pop("integrationLatency")
    assert isinstance(latency, int) and latency >= 0
    assert verdict.authorizer == {
        "principalId": "my-username",
        "str": "hello",
        "num": "123",
        "bool": "true",
        "null": None,
    }
    assert len(calls.events) == 1


@pytest.mark.parametrize(
    ("event", "sources"),
    [
        (authorizer_event(), None),
        (authorizer_event({"Authorization": ""}), None),
        (authorizer_event(query={"token": ""}), ["route.request.querystring.token"]),
        (
            authorizer_event({"Authorization": "x"}),
            ["route.request.header.Authorization", "route.request.querystring.token"],
        ),
    ],
)
def test_missing_identity_source_is_401_without_invoking(
    event: dict[str, Any], sources: list[str] | None
) -> None:
    verdict, calls = run(allow("u", METHOD_ARN), event, identity_sources=sources)
    assert (verdict.status, verdict.invoked) == (401, False)
    assert calls.events == []


@pytest.mark.parametrize(
    ("answer", "status", "error_type"),
    [
        (Exception("Unauthorized"), 401, "UnauthorizedException"),
        (Unauthorized(), 401, "UnauthorizedException"),
        (Exception("unauthorized"), 500, "AuthorizerFailureException"),
        (Unauthorized("expired"), 500, "AuthorizerFailureException"),
        (RuntimeError("database down"), 500, "AuthorizerFailureException"),
        (deny("u", METHOD_ARN), 403, "AccessDeniedException"),
        (allow("u", "arn:aws:execute-api:us-east-1:123456789012:other/local/$connect"), 403, None),
        (None, 500, "AuthorizerConfigurationException"),
        ({"principalId": "u"}, 500, "AuthorizerConfigurationException"),
        ({**allow("u", METHOD_ARN), "context": {"list": [1]}}, 500, None),
        ({**allow("u", METHOD_ARN), "context": {"obj": {"a": 1}}}, 500, None),
        ({**allow("u", METHOD_ARN), "context": {"big": "x" * 9000}}, 500, None),
    ],
)
def test_outcomes_match_api_gateway(answer: Any, status: int, error_type: str | None) -> None:
    verdict, calls = run(answer)
    assert verdict.status == status
    assert verdict.authorizer is None
    assert verdict.invoked and len(calls.events) == 1
    if error_type is not None:
        assert verdict.error_type == error_type


def test_request_authorizer_outcomes_through_the_emulation() -> None:
    def authorize(request: Any) -> Principal:
        token = request.header("Authorization")
        if token == "good":
            return Principal("user-1", {"n": 1})
        raise Unauthorized(f"bad token {token}")

    local = LocalAuthorizer(RequestAuthorizer(authorize))
    allowed = local.run(authorizer_event({"Authorization": "good"}))
    assert allowed.status is None and allowed.authorizer is not None
    assert allowed.authorizer["n"] == "1"
    refused = local.run(authorizer_event({"Authorization": "bad"}))
    assert refused.status == 401


def test_identity_sources_come_from_the_request_authorizer() -> None:
    declared = RequestAuthorizer(lambda r: "u", ["route.request.querystring.token"])
    local = LocalAuthorizer(declared)
    assert [s.expression for s in local.identity_sources] == ["route.request.querystring.token"]
    assert local.run(authorizer_event({"Authorization": "x"})).status == 401
    assert local.run(authorizer_event(query={"token": "t"})).status is None


def test_method_arn_uses_region_and_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    local = LocalAuthorizer(Calls(None), account_id="111122223333")
    assert (
        local.method_arn("abc", "dev")
        == "arn:aws:execute-api:eu-west-1:111122223333:abc/dev/$connect"
    )
    assert (
        LocalAuthorizer(Calls(None), region="ap-south-1")
        .method_arn("a", "s")
        .startswith("arn:aws:execute-api:ap-south-1:123456789012:a/s/")
    )


def test_authorizer_event_shape_follows_section_4_2() -> None:
    connect = build_connect_event(
        connection_id="R1kmxc2VNjMCFIA=",
        connected_at=1705751697419,
        stage="local",
        api_id="abc",
        domain_name="127.0.0.1:3001",
        headers=[
            ("Host", "127.0.0.1:3001"),
            ("Sec-WebSocket-Version", "13"),
            ("Authorization", "t"),
        ],
        query=[("token", "abc"), ("token", "def")],
    )
    event = build_authorizer_event(connect, METHOD_ARN)
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == METHOD_ARN
    assert event["stageVariables"] == {}
    assert event["headers"]["Connection"] == "upgrade"
    assert event["headers"]["Upgrade"] == "websocket"
    assert event["headers"]["content-length"] == "0"
    assert event["headers"]["Authorization"] == "t"
    assert event["multiValueHeaders"]["Upgrade"] == ["websocket"]
    assert event["multiValueQueryStringParameters"] == {"token": ["abc", "def"]}
    assert event["requestContext"]["connectionId"] == "R1kmxc2VNjMCFIA="
    assert event["requestContext"]["eventType"] == "CONNECT"
    assert "pathParameters" not in event and "body" not in event


def test_no_query_string_means_no_query_keys() -> None:
    connect = build_connect_event(
        connection_id="R1kmxc2VNjMCFIA=", connected_at=1, stage="s", api_id="a", domain_name="d"
    )
    event = build_authorizer_event(connect, METHOD_ARN)
    assert "queryStringParameters" not in event
    assert "multiValueQueryStringParameters" not in event
