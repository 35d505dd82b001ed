"""The JWT authorizer: verification, algorithm pinning, token extraction, context."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import jwt
import pytest

from wsgate.auth import evaluate_policy
from wsgate.auth.jwks import KeySet, algorithms_for_jwk
from wsgate.auth.jwt import JWTAuthorizer, JWTVerifier, context_from_claims
from wsgate.exceptions import AccessDenied, ConfigurationError, Unauthorized

from .kit import AUDIENCE, ISSUER, METHOD_ARN, SECRET, Forge, Keys, authorizer_event, claims


def rsa_verifier(keys: Keys, **options: Any) -> JWTVerifier:
    return JWTVerifier(jwks=keys.jwks(), issuer=ISSUER, audience=AUDIENCE, **options)


def test_hs256_round_trip(forge: Forge) -> None:
    verifier = JWTVerifier(secret=SECRET, issuer=ISSUER, audience=AUDIENCE)
    assert verifier.verify(forge.hs256())["sub"] == "user-42"


def test_rs256_and_es256_from_a_jwks(forge: Forge, keys: Keys) -> None:
    verifier = rsa_verifier(keys)
    assert verifier.verify(forge.rs256())["sub"] == "user-42"
    assert verifier.verify(forge.es256())["email"] == "ada@example.com"


def test_jwks_file(forge: Forge, keys: Keys, tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(keys.jwks()))
    verifier = JWTVerifier(jwks_file=path, issuer=ISSUER, audience=AUDIENCE)
    assert verifier.verify(forge.rs256())["sub"] == "user-42"


@pytest.mark.parametrize("content", ["not json", "[]", '{"keys": "x"}', '{"keys": []}'])
def test_bad_jwks_file_is_a_configuration_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(content)
    with pytest.raises(ConfigurationError):
        JWTVerifier(jwks_file=path)
    with pytest.raises(ConfigurationError):
        JWTVerifier(jwks_file=tmp_path / "missing.json")


def test_leeway_tolerates_small_skew(forge: Forge, keys: Keys) -> None:
    now = int(time.time())
    token = forge.rs256(claims(exp=now - 10, nbf=now + 10))
    assert rsa_verifier(keys, leeway=30).verify(token)["sub"] == "user-42"
    with pytest.raises(Unauthorized, match=r"Expired|Immature"):
        rsa_verifier(keys, leeway=0).verify(token)


def test_exp_is_required_by_default(forge: Forge, keys: Keys) -> None:
    with pytest.raises(Unauthorized, match="exp"):
        rsa_verifier(keys).verify(forge.rs256(claims(exp=None)))
    assert rsa_verifier(keys, required_claims=()).verify(forge.rs256(claims(exp=None)))


def test_several_issuers_and_audiences(forge: Forge, keys: Keys) -> None:
    verifier = JWTVerifier(jwks=keys.jwks(), issuer=["a", ISSUER], audience=["x", AUDIENCE])
    assert verifier.verify(forge.rs256())["sub"] == "user-42"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "exactly one"),
        ({"secret": SECRET, "jwks": {"keys": []}}, "exactly one"),
        ({"secret": "short"}, "at least 32"),
        ({"secret": SECRET, "algorithms": ["RS256"]}, "HS"),
        ({"secret": SECRET * 2, "algorithms": ["none"]}, "none"),
        ({"jwks_url": "http://127.0.0.1:1/jwks", "algorithms": ["HS256"]}, "secret"),
        ({"jwks_url": "file:///etc/passwd"}, "http"),
        ({"jwks_url": "http://127.0.0.1:1/jwks", "algorithms": []}, "no JWT algorithm"),
    ],
)
def test_unsafe_configurations_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        JWTVerifier(**options)


def test_key_types_pin_algorithms() -> None:
    assert algorithms_for_jwk({"kty": "RSA"}) >= {"RS256", "PS256"}
    assert algorithms_for_jwk({"kty": "RSA", "alg": "RS256"}) == {"RS256"}
    assert algorithms_for_jwk({"kty": "EC", "crv": "P-256"}) == {"ES256"}
    assert algorithms_for_jwk({"kty": "EC", "crv": "P-384"}) == {"ES384"}
    assert algorithms_for_jwk({"kty": "OKP", "crv": "Ed25519"}) == {"EdDSA"}
    # A published symmetric key, an encryption key or an unknown type never verifies anything.
    assert algorithms_for_jwk({"kty": "oct", "k": "c2VjcmV0"}) == frozenset()
    assert algorithms_for_jwk({"kty": "RSA", "use": "enc"}) == frozenset()
    assert algorithms_for_jwk({"kty": "EC", "crv": "P-999"}) == frozenset()


def test_keyset_skips_unusable_keys(keys: Keys) -> None:
    document = keys.jwks()
    document["keys"].append({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"})
    document["keys"].append({"kid": "no-kty"})
    document["keys"].append("garbage")
    key_set = KeySet(document)
    with pytest.raises(Unauthorized, match="unknown key id"):
        key_set.key_for("hmac", "HS256")


def test_token_from_header_with_or_without_bearer(forge: Forge, keys: Keys) -> None:
    authorizer = JWTAuthorizer(verifier=rsa_verifier(keys))
    token = forge.rs256()
    for value in (token, f"Bearer {token}", f"bearer   {token}"):
        response = authorizer(authorizer_event({"Authorization": value}))
        assert response["principalId"] == "user-42"
        assert evaluate_policy(response, METHOD_ARN) == "Allow"


def test_token_from_query_string(forge: Forge, keys: Keys) -> None:
    authorizer = JWTAuthorizer(
        verifier=rsa_verifier(keys), identity_sources=["route.request.querystring.token"]
    )
    response = authorizer(authorizer_event(query={"token": forge.rs256()}))
    assert response["principalId"] == "user-42"


def test_context_holds_scalar_claims(forge: Forge, keys: Keys) -> None:
    authorizer = JWTAuthorizer(verifier=rsa_verifier(keys))
    token = forge.rs256(claims(groups=["a", "b"], profile={"x": 1}, admin=False))
    context = authorizer(authorizer_event({"Authorization": token}))["context"]
    assert context["email"] == "ada@example.com"
    assert context["groups"] == "a,b"
    assert context["admin"] is False
    assert "profile" not in context


def test_context_claims_and_principal_claim_are_configurable(forge: Forge, keys: Keys) -> None:
    authorizer = JWTAuthorizer(
        verifier=rsa_verifier(keys), principal_claim="email", context_claims=["sub", "absent"]
    )
    response = authorizer(authorizer_event({"Authorization": forge.rs256()}))
    assert response["principalId"] == "ada@example.com"
    assert response["context"] == {"sub": "user-42"}


def test_missing_principal_claim_is_unauthorized(forge: Forge, keys: Keys) -> None:
    authorizer = JWTAuthorizer(verifier=rsa_verifier(keys))
    with pytest.raises(Unauthorized):
        authorizer(authorizer_event({"Authorization": forge.rs256(claims(sub=None))}))


def test_extra_check_can_deny(forge: Forge, keys: Keys) -> None:
    def only_admins(token_claims: dict[str, Any]) -> None:
        if token_claims.get("role") != "admin":
            raise AccessDenied("not an admin")

    authorizer = JWTAuthorizer(verifier=rsa_verifier(keys), check=only_admins)
    denied = authorizer(authorizer_event({"Authorization": forge.rs256()}))
    assert evaluate_policy(denied, METHOD_ARN) == "Deny"
    allowed = authorizer(authorizer_event({"Authorization": forge.rs256(claims(role="admin"))}))
    assert evaluate_policy(allowed, METHOD_ARN) == "Allow"


def test_keyword_options_build_the_verifier(forge: Forge) -> None:
    authorizer = JWTAuthorizer(secret=SECRET, issuer=ISSUER, audience=AUDIENCE)
    assert (
        authorizer(authorizer_event({"Authorization": forge.hs256()}))["principalId"] == "user-42"
    )


def test_context_from_claims_selection() -> None:
    source = {"a": 1, "b": [1, "x"], "c": {"d": 1}, "e": None, "f": [{"g": 1}]}
    assert context_from_claims(source) == {"a": 1, "b": "1,x", "e": None}
    assert context_from_claims(source, ["a", "zz"]) == {"a": 1}


def test_weak_rsa_keys_in_a_jwks_are_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(weak.public_key()))
    jwk["kid"] = "weak"
    verifier = JWTVerifier(jwks={"keys": [jwk]}, issuer=ISSUER, audience=AUDIENCE)
    with warnings.catch_warnings():  # PyJWT itself warns when signing with a short key
        warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
        token = jwt.encode(claims(), weak, "RS256", headers={"kid": "weak"})
    with pytest.raises(Unauthorized, match="1024 bits"):
        verifier.verify(token)
