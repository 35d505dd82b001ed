"""Writing a REQUEST authorizer: identity sources, outcomes, and ``@app.authorizer``."""

from __future__ import annotations

from typing import Any

import pytest

from wsgate.auth import (
    AuthorizerRequest,
    AuthorizerResponse,
    IdentitySource,
    Principal,
    RequestAuthorizer,
    evaluate_policy,
    is_authorizer_event,
    request_authorizer,
)
from wsgate.exceptions import (
    AccessDenied,
    AuthorizerConfigurationError,
    ConfigurationError,
    Unauthorized,
)
from wsgate.router import WebSocketApp

from .kit import METHOD_ARN, authorizer_event


@pytest.mark.parametrize(
    ("expression", "kind", "name"),
    [
        ("route.request.header.Authorization", "header", "Authorization"),
        ("route.request.querystring.token", "querystring", "token"),
        ("stageVariables.secret", "stageVariables", "secret"),
        ("context.connectionId", "context", "connectionId"),
    ],
)
def test_identity_source_parsing(expression: str, kind: str, name: str) -> None:
    source = IdentitySource.parse(expression)
    assert (source.kind, source.name) == (kind, name)
    assert source.expression == expression


@pytest.mark.parametrize(
    "bad",
    ["", "method.request.header.Authorization", "route.request.header.", "header.X", "context. x"],
)
def test_malformed_identity_sources_are_configuration_errors(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        IdentitySource.parse(bad)


def test_header_source_is_case_insensitive_and_multi_value_wins() -> None:
    event = authorizer_event({"authorization": "Bearer a"})
    event["multiValueHeaders"]["authorization"] = ["Bearer b"]
    assert IdentitySource.parse("route.request.header.Authorization").values(event) == ["Bearer b"]


@pytest.mark.parametrize(
    ("query", "present"), [({"token": "abc"}, True), ({"token": ""}, False), ({}, False)]
)
def test_querystring_source_presence(query: dict[str, str], present: bool) -> None:
    source = IdentitySource.parse("route.request.querystring.token")
    assert source.is_present(authorizer_event(query=query)) is present


def test_blank_header_is_not_present() -> None:
    source = IdentitySource.parse("route.request.header.Authorization")
    assert not source.is_present(authorizer_event({"Authorization": "   "}))


def test_context_source_reads_request_context() -> None:
    source = IdentitySource.parse("context.connectionId")
    assert source.values(authorizer_event()) == ["K5trbcorjoECIfA="]


def test_authorizer_request_view() -> None:
    request = AuthorizerRequest(authorizer_event({"X-Token": "t"}, {"room": "a"}))
    assert request.method_arn == METHOD_ARN
    assert request.connection_id == "K5trbcorjoECIfA="
    assert request.source_ip == "127.0.0.1"
    assert request.header("x-token") == "t"
    assert request.query == {"room": "a"}
    assert request.stage_variables == {}
    assert request.identity("route.request.header.X-Token") == ["t"]


def test_authorizer_request_tolerates_garbage() -> None:
    request = AuthorizerRequest({"requestContext": "nope", "headers": ["x"], "methodArn": 3})
    assert request.method_arn == ""
    assert request.connection_id is None
    assert request.headers == {}
    assert request.query == {}


def _authorizer(result: Any, **options: Any) -> RequestAuthorizer:
    def authorize(request: AuthorizerRequest) -> Any:
        if isinstance(result, Exception):
            raise result
        return result

    return RequestAuthorizer(authorize, **options)


def test_principal_becomes_an_allow_for_the_method_arn() -> None:
    response = _authorizer(Principal("user-1", {"role": "admin"}))(
        authorizer_event({"Authorization": "x"})
    )
    assert response["principalId"] == "user-1"
    assert response["context"] == {"role": "admin"}
    assert evaluate_policy(response, METHOD_ARN) == "Allow"


def test_a_plain_string_is_a_principal_id() -> None:
    response = _authorizer("user-2")(authorizer_event({"Authorization": "x"}))
    assert response["principalId"] == "user-2"
    assert evaluate_policy(response, METHOD_ARN) == "Allow"


def test_authorizer_response_and_raw_dicts_pass_through_validated() -> None:
    deny = AuthorizerResponse("u", "Deny", METHOD_ARN)
    assert (
        evaluate_policy(_authorizer(deny)(authorizer_event({"Authorization": "x"})), METHOD_ARN)
        == "Deny"
    )
    raw = deny.to_dict()
    assert _authorizer(raw)(authorizer_event({"Authorization": "x"})) == raw
    with pytest.raises(AuthorizerConfigurationError):
        _authorizer({"principalId": "u"})(authorizer_event({"Authorization": "x"}))


@pytest.mark.parametrize("refusal", [None, Unauthorized("bad token")])
def test_refusals_fail_with_exactly_unauthorized(refusal: Any) -> None:
    with pytest.raises(Unauthorized) as info:
        _authorizer(refusal)(authorizer_event({"Authorization": "x"}))
    # API Gateway answers 401 only for the error message "Unauthorized", character for character.
    assert str(info.value) == "Unauthorized"


def test_access_denied_becomes_a_deny_policy() -> None:
    response = _authorizer(AccessDenied("banned"))(authorizer_event({"Authorization": "x"}))
    assert evaluate_policy(response, METHOD_ARN) == "Deny"


def test_other_errors_propagate_for_a_500() -> None:
    with pytest.raises(ZeroDivisionError):
        _authorizer(ZeroDivisionError())(authorizer_event({"Authorization": "x"}))


def test_missing_identity_source_refuses_without_calling() -> None:
    calls: list[Any] = []
    authorizer = RequestAuthorizer(lambda r: calls.append(r) or "u")
    with pytest.raises(Unauthorized):
        authorizer(authorizer_event())
    assert calls == []
    assert authorizer.missing_identity_sources(authorizer_event()) == [
        "route.request.header.Authorization"
    ]


def test_non_authorizer_event_is_a_configuration_error() -> None:
    with pytest.raises(AuthorizerConfigurationError):
        _authorizer("u").authorize({"requestContext": {}})
    assert not is_authorizer_event({"type": "TOKEN", "methodArn": METHOD_ARN})
    assert is_authorizer_event(authorizer_event())


def test_non_scalar_principal_context_is_a_configuration_error() -> None:
    with pytest.raises(AuthorizerConfigurationError):
        _authorizer(Principal("u", {"nested": {"a": 1}}))(authorizer_event({"Authorization": "x"}))  # type: ignore[dict-item]
    with pytest.raises(AuthorizerConfigurationError):
        _authorizer(Principal(""))(authorizer_event({"Authorization": "x"}))


def test_decorator_bare_and_with_arguments() -> None:
    @request_authorizer
    def bare(request: AuthorizerRequest) -> str:
        return "a"

    @request_authorizer(identity_sources=["route.request.querystring.token"], user_id_key="uid")
    def configured(request: AuthorizerRequest) -> str:
        return request.query["token"]

    assert isinstance(bare, RequestAuthorizer)
    assert bare.identity_source_expressions == ["route.request.header.Authorization"]
    assert configured.identity_source_expressions == ["route.request.querystring.token"]
    assert configured.user_id_key == "uid"
    assert configured(authorizer_event(query={"token": "t1"}))["principalId"] == "t1"
    assert configured.__name__ == "configured"


def test_identity_sources_are_required() -> None:
    with pytest.raises(ConfigurationError):
        RequestAuthorizer(lambda r: "u", identity_sources=[])


def test_app_authorizer_answers_authorizer_events_and_declares_sources() -> None:
    app = WebSocketApp()

    @app.authorizer(identity_sources=["route.request.querystring.token"])
    def authorize(request: AuthorizerRequest) -> Principal:
        if request.query.get("token") != "good":
            raise Unauthorized("wrong token")
        return Principal("user-7", {"tier": "gold"})

    config = app.authorizer_config
    assert config is not None
    assert config.identity_source_expressions == ["route.request.querystring.token"]
    allowed = app(authorizer_event(query={"token": "good"}), None)
    assert allowed["principalId"] == "user-7"
    assert evaluate_policy(allowed, METHOD_ARN) == "Allow"
    with pytest.raises(Unauthorized):
        app(authorizer_event(query={"token": "bad"}), None)


def test_app_accepts_a_ready_request_authorizer_and_only_one() -> None:
    app = WebSocketApp()
    ready = RequestAuthorizer(lambda r: "u", ["route.request.header.X-Key"])
    assert app.authorizer(ready) is ready
    assert app.authorizer_config is ready
    with pytest.raises(ConfigurationError):
        app.authorizer(lambda r: "v")


def test_app_without_authorizer_has_no_config_and_routes_normally() -> None:
    app = WebSocketApp()
    assert app.authorizer_config is None
    # Without an authorizer, an authorizer-shaped event is read as the CONNECT it resembles,
    # and an app with no $connect route accepts it.
    assert app(authorizer_event(), None) == {"statusCode": 200}
