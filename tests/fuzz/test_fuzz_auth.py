"""Fuzzing the auth surface: authorizer responses, authorizer events, tokens, signatures.

An authorizer sees the raw internet: every input here may only produce a wsgate error or a
clean verdict, never an unexpected exception.
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wsgate.auth import (
    AuthorizerRequest,
    IdentitySource,
    evaluate_policy,
    identity_from_event,
    user_id_from_event,
    validate_response,
)
from wsgate.auth.jwt import JWTVerifier
from wsgate.exceptions import AuthorizerConfigurationError, Unauthorized, WsgateError
from wsgate.local.authorizer import LocalAuthorizer, Verdict
from wsgate.local.sigv4_verify import Credentials, verify_sigv4

from .strategies import FUZZ, anything, decoded, events

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc/local/$connect"

statements = st.fixed_dictionaries(
    {},
    optional={
        "Effect": st.one_of(st.sampled_from(["Allow", "Deny", "allow"]), anything),
        "Action": st.one_of(st.sampled_from(["execute-api:Invoke", "*", "s3:*"]), anything),
        "Resource": st.one_of(st.sampled_from([METHOD_ARN, "*", "arn:*"]), st.text(), anything),
        "NotResource": anything,
        "NotAction": anything,
    },
)
responses = st.one_of(
    anything,
    st.fixed_dictionaries(
        {},
        optional={
            "principalId": st.one_of(st.text(max_size=10), anything),
            "policyDocument": st.one_of(
                st.fixed_dictionaries(
                    {}, optional={"Statement": st.one_of(st.lists(statements), statements)}
                ),
                anything,
            ),
            "context": st.one_of(st.dictionaries(st.text(max_size=5), anything), anything),
            "usageIdentifierKey": anything,
        },
    ),
)


@settings(FUZZ, max_examples=200)
@given(responses)
def test_policy_evaluation_is_a_decision_or_a_configuration_error(response: Any) -> None:
    try:
        validate_response(response)
        decision = evaluate_policy(response, METHOD_ARN)
    except AuthorizerConfigurationError:
        return
    assert decision in ("Allow", "Deny")


@settings(FUZZ, max_examples=300)
@given(
    responses, st.one_of(st.none(), st.sampled_from([RuntimeError("x"), Exception("Unauthorized")]))
)
def test_emulated_authorizer_always_gives_a_verdict(response: Any, error: Any) -> None:
    def handler(event: dict[str, Any], context: Any) -> Any:
        if error is not None:
            raise error
        return response

    event = {"type": "REQUEST", "methodArn": METHOD_ARN, "headers": {"Authorization": "t"}}
    verdict = LocalAuthorizer(handler).run(event)
    assert isinstance(verdict, Verdict)
    assert verdict.status in (None, 401, 403, 500)
    if verdict.status is None:
        assert verdict.authorizer is not None
        assert isinstance(verdict.authorizer["principalId"], str)
        assert all(
            v is None or isinstance(v, str)
            for k, v in verdict.authorizer.items()
            if k not in ("integrationLatency",)
        )


SOURCES = [
    IdentitySource.parse(s)
    for s in (
        "route.request.header.Authorization",
        "route.request.querystring.token",
        "stageVariables.key",
        "context.connectionId",
    )
]


@settings(FUZZ, max_examples=300)
@given(events)
def test_authorizer_event_views_never_raise(raw: Any) -> None:
    if isinstance(raw, dict):
        request = AuthorizerRequest(raw)
        _ = (request.method_arn, request.headers, request.query, request.stage_variables)
        _ = (request.connection_id, request.source_ip, request.request_context)
        for source in SOURCES:
            assert all(isinstance(v, str) for v in source.values(raw))
            source.is_present(raw)
    identity = identity_from_event(raw)
    user = user_id_from_event(raw)
    assert user is None or (isinstance(user, str) and user)
    assert (
        identity is None or identity.principal_id is None or isinstance(identity.principal_id, str)
    )


VERIFIER = JWTVerifier(secret="k" * 40, issuer="https://issuer", audience="app")


def _segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


tokens = st.one_of(
    st.text(max_size=200),
    st.lists(st.binary(max_size=60).map(_segment), min_size=1, max_size=6).map(".".join),
    st.tuples(decoded, decoded, st.binary(max_size=40)).map(
        lambda parts: ".".join(
            [
                _segment(repr(parts[0]).encode()),
                _segment(repr(parts[1]).encode()),
                _segment(parts[2]),
            ]
        )
    ),
)


@settings(FUZZ, max_examples=500)
@given(tokens)
def test_any_token_is_refused_as_unauthorized(token: str) -> None:
    try:
        VERIFIER.verify(token)
    except Unauthorized:
        return
    raise AssertionError(f"a random token verified: {token!r}")


header_pairs = st.lists(
    st.tuples(
        st.sampled_from(["Authorization", "X-Amz-Date", "Host", "X-Amz-Security-Token", "x"]),
        st.one_of(
            st.text(max_size=60),
            st.just(
                "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/execute-api/aws4_request, "
                "SignedHeaders=host;x-amz-date, Signature=00"
            ),
            st.just("20260101T000000Z"),
        ),
    ),
    max_size=6,
)


@settings(FUZZ, max_examples=400)
@given(
    st.sampled_from(["GET", "POST", "DELETE", "X"]),
    st.text(max_size=40),
    header_pairs,
    st.binary(max_size=30),
)
def test_signature_check_refuses_garbage_without_crashing(
    method: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> None:
    rejection = verify_sigv4(method, "/" + target, headers, body, [Credentials("AKID", "secret")])
    assert rejection is not None and rejection.status == 403


@settings(FUZZ, max_examples=200)
@given(st.text(max_size=60))
def test_identity_source_parsing_is_a_source_or_a_configuration_error(text: str) -> None:
    try:
        source = IdentitySource.parse(text)
    except WsgateError:
        return
    assert source.expression == text
