"""Cognito user pools from the pool id and client id alone (keys served on 127.0.0.1)."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from wsgate.auth import evaluate_policy
from wsgate.auth.jwt import CognitoAuthorizer
from wsgate.exceptions import AccessDenied, ConfigurationError, Unauthorized

from .kit import METHOD_ARN, JWKSServer, Keys, authorizer_event

POOL = "eu-west-1_AbCdEf123"
CLIENT = "4k9clientid0000000000000"
ISSUER = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL}"


def cognito_token(keys: Keys, use: str, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "5f1c-user",
        "iss": ISSUER,
        "token_use": use,
        "auth_time": now,
        "iat": now,
        "exp": now + 3600,
        "cognito:groups": ["admins", "editors"],
    }
    if use == "id":
        claims.update({"aud": CLIENT, "cognito:username": "ada", "email": "ada@example.com"})
    else:
        claims.update({"client_id": CLIENT, "username": "ada", "scope": "openid email"})
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, keys.rsa_private, "RS256", headers={"kid": keys.rsa_kid})


def authorizer(server: JWKSServer, **options: Any) -> CognitoAuthorizer:
    return CognitoAuthorizer(POOL, CLIENT, jwks_url=server.url, **options)


def test_issuer_and_jwks_url_are_derived_from_the_pool_id() -> None:
    derived = CognitoAuthorizer(POOL, CLIENT)
    assert derived.issuer == ISSUER
    assert derived.jwks_url == f"{ISSUER}/.well-known/jwks.json"
    assert derived.verifier.algorithms == {"RS256"}
    assert derived.verifier.issuer == ISSUER


@pytest.mark.parametrize("use", ["id", "access"])
def test_id_and_access_tokens_are_accepted(jwks_server: JWKSServer, keys: Keys, use: str) -> None:
    response = authorizer(jwks_server)(
        authorizer_event({"Authorization": cognito_token(keys, use)})
    )
    assert response["principalId"] == "5f1c-user"
    assert response["context"]["cognito:groups"] == "admins,editors"
    assert response["context"]["token_use"] == use
    assert evaluate_policy(response, METHOD_ARN) == "Allow"


@pytest.mark.parametrize(
    ("use", "overrides", "token_use"),
    [
        ("id", {"aud": "other-client"}, None),
        ("access", {"client_id": "other-client"}, None),
        ("access", {"client_id": None, "aud": CLIENT}, None),
        ("id", {"token_use": "refresh"}, None),
        ("id", {"token_use": None}, None),
        ("id", {}, "access"),
        ("access", {}, "id"),
        ("id", {"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"}, None),
        ("id", {"exp": int(time.time()) - 3600}, None),
    ],
)
def test_wrong_tokens_are_refused(
    jwks_server: JWKSServer,
    keys: Keys,
    use: str,
    overrides: dict[str, Any],
    token_use: str | None,
) -> None:
    token = cognito_token(keys, use, **overrides)
    with pytest.raises(Unauthorized):
        authorizer(jwks_server, token_use=token_use)(authorizer_event({"Authorization": token}))


def test_several_client_ids_and_a_user_check(jwks_server: JWKSServer, keys: Keys) -> None:
    def admins_only(claims: dict[str, Any]) -> None:
        if "admins" not in claims.get("cognito:groups", []):
            raise AccessDenied("not an admin")

    multi = CognitoAuthorizer(POOL, ["x", CLIENT], jwks_url=jwks_server.url, check=admins_only)
    allowed = multi(authorizer_event({"Authorization": cognito_token(keys, "access")}))
    assert evaluate_policy(allowed, METHOD_ARN) == "Allow"
    token = cognito_token(keys, "access", **{"cognito:groups": ["users"]})
    denied = multi(authorizer_event({"Authorization": token}))
    assert evaluate_policy(denied, METHOD_ARN) == "Deny"


@pytest.mark.parametrize(
    ("pool", "client", "use"),
    [
        ("AbCdEf123", CLIENT, None),
        ("eu-west-1-AbCdEf123", CLIENT, None),
        ("https://evil/eu-west-1_A", CLIENT, None),
        (POOL, "", None),
        (POOL, [], None),
        (POOL, CLIENT, "refresh"),
    ],
)
def test_bad_configuration_is_refused(pool: str, client: Any, use: str | None) -> None:
    with pytest.raises(ConfigurationError):
        CognitoAuthorizer(pool, client, token_use=use)
