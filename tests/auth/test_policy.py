"""Authorizer responses and their evaluation (docs/aws-behaviour.md §4.3, §4.4)."""

from __future__ import annotations

from typing import Any

import pytest

from wsgate.auth.policy import (
    MAX_RESULT_BYTES,
    AuthorizerResponse,
    MethodArn,
    allow,
    authorizer_context,
    deny,
    evaluate_policy,
    stringify_context_value,
    validate_response,
)
from wsgate.exceptions import AuthError, AuthorizerConfigurationError

from .kit import METHOD_ARN


def statement(effect: str, resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"Effect": effect, "Action": action, "Resource": resource}


def response(*statements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "principalId": "user-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
        **extra,
    }


def test_method_arn_round_trip() -> None:
    arn = MethodArn.parse(METHOD_ARN)
    assert (arn.region, arn.account_id, arn.api_id, arn.stage, arn.route_key) == (
        "us-east-1",
        "123456789012",
        "abcdef1234",
        "local",
        "$connect",
    )
    assert str(arn) == METHOD_ARN
    assert arn.api_wildcard() == "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*"


@pytest.mark.parametrize("bad", ["", "arn:aws:s3:::bucket", "arn:aws:execute-api:us-east-1:1:a/b"])
def test_method_arn_rejects_other_arns(bad: str) -> None:
    with pytest.raises(AuthorizerConfigurationError):
        MethodArn.parse(bad)


def test_allow_builds_the_documented_shape() -> None:
    result = allow("user-1", METHOD_ARN, {"role": "admin", "n": 3})
    assert result == {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": METHOD_ARN}
            ],
        },
        "context": {"role": "admin", "n": 3},
    }
    assert evaluate_policy(result, METHOD_ARN) == "Allow"


def test_deny_is_a_deny() -> None:
    assert evaluate_policy(deny("user-1", METHOD_ARN), METHOD_ARN) == "Deny"


def test_usage_identifier_key_is_passed() -> None:
    result = allow("u", METHOD_ARN, usage_identifier_key="key-1")
    assert result["usageIdentifierKey"] == "key-1"


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*",
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/local/*",
        "arn:aws:execute-api:*:*:abcdef1234/*/$connect",
        "*",
        [METHOD_ARN, "arn:aws:execute-api:us-east-1:123456789012:other/*"],
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123?/local/$connect",
    ],
)
def test_wildcard_resources_match(resource: Any) -> None:
    assert evaluate_policy(response(statement("Allow", resource)), METHOD_ARN) == "Allow"


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:execute-api:us-east-1:123456789012:otherapi/*",
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/$connect",
        "ARN:AWS:EXECUTE-API:US-EAST-1:123456789012:ABCDEF1234/*",
        [],
    ],
)
def test_allow_for_another_resource_is_an_implicit_deny(resource: Any) -> None:
    assert evaluate_policy(response(statement("Allow", resource)), METHOD_ARN) == "Deny"


@pytest.mark.parametrize("action", ["execute-api:*", "*", "EXECUTE-API:invoke", ["s3:*", "*"]])
def test_action_wildcards_and_case(action: Any) -> None:
    assert evaluate_policy(response(statement("Allow", "*", action)), METHOD_ARN) == "Allow"


def test_other_action_does_not_allow() -> None:
    assert evaluate_policy(response(statement("Allow", "*", "s3:GetObject")), METHOD_ARN) == "Deny"


def test_explicit_deny_wins_over_allow() -> None:
    doc = response(statement("Allow", "*"), statement("Deny", METHOD_ARN))
    assert evaluate_policy(doc, METHOD_ARN) == "Deny"


def test_not_resource_and_not_action() -> None:
    doc = response({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::*"})
    assert evaluate_policy(doc, METHOD_ARN) == "Allow"
    doc = response({"Effect": "Allow", "NotAction": "execute-api:Invoke", "Resource": "*"})
    assert evaluate_policy(doc, METHOD_ARN) == "Deny"


def test_single_statement_object_is_accepted() -> None:
    doc = response()
    doc["policyDocument"]["Statement"] = statement("Allow", METHOD_ARN)
    assert evaluate_policy(doc, METHOD_ARN) == "Allow"


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "Allow",
        [],
        {"policyDocument": {"Statement": []}},
        {"principalId": None, "policyDocument": {"Statement": []}},
        {"principalId": "u"},
        {"principalId": "u", "policyDocument": {"Statement": "Allow"}},
        {"principalId": "u", "policyDocument": {"Statement": [{"Effect": "allow"}]}},
        {"principalId": "u", "policyDocument": {"Statement": []}, "context": []},
        {"principalId": "u", "policyDocument": {"Statement": []}, "usageIdentifierKey": 5},
    ],
)
def test_malformed_responses_are_configuration_errors(bad: Any) -> None:
    with pytest.raises(AuthorizerConfigurationError) as info:
        validate_response(bad)
    assert info.value.status_code == 500
    assert isinstance(info.value, AuthError)


@pytest.mark.parametrize("value", [{"a": 1}, [1, 2], {1, 2}, b"bytes", float("nan")])
def test_non_scalar_context_is_refused(value: Any) -> None:
    with pytest.raises(AuthorizerConfigurationError):
        validate_response(response(statement("Allow", "*"), context={"k": value}))
    with pytest.raises(AuthorizerConfigurationError):
        allow("u", METHOD_ARN, {"k": value})


def test_result_over_8_kb_is_refused() -> None:
    near = MAX_RESULT_BYTES - len(str(allow("u", METHOD_ARN, {"k": ""})))
    allow("u", METHOD_ARN, {"k": "x" * (near - 200)})
    with pytest.raises(AuthorizerConfigurationError, match="8192"):
        allow("u", METHOD_ARN, {"k": "x" * MAX_RESULT_BYTES})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hello", "hello"),
        (123, "123"),
        (True, "true"),
        (False, "false"),
        (None, None),
        (1.5, "1.5"),
    ],
)
def test_context_is_stringified_like_api_gateway(value: Any, expected: str | None) -> None:
    assert stringify_context_value(value) == expected


def test_authorizer_context_shape() -> None:
    context = authorizer_context("me", {"str": "hello", "num": 123, "bool": True, "null": None}, 7)
    assert context == {
        "principalId": "me",
        "integrationLatency": 7,
        "str": "hello",
        "num": "123",
        "bool": "true",
        "null": None,
    }


def test_principal_and_latency_cannot_be_overridden_by_context() -> None:
    context = authorizer_context("me", {"principalId": "admin", "integrationLatency": "0"}, 3)
    assert context["principalId"] == "me"
    assert context["integrationLatency"] == 3


def test_authorizer_response_with_several_resources() -> None:
    result = AuthorizerResponse("u", "Allow", ["a", METHOD_ARN]).to_dict()
    assert result["policyDocument"]["Statement"][0]["Resource"] == ["a", METHOD_ARN]
    assert evaluate_policy(result, METHOD_ARN) == "Allow"
