"""Every attack on ``$connect`` authentication, through the real emulator and a real client.

Each case connects a ``websockets`` client to ``wsgate.local`` (127.0.0.1) fronting an app whose
``@app.authorizer`` is a :class:`~wsgate.auth.jwt.JWTAuthorizer` fed by a real JWKS server.
The status the client sees is the status API Gateway would answer (docs/aws-behaviour.md §4.3).
The names of the cases are the rows of the attack table in ``docs/security.md``.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from support import wait_until
from wsgate.auth import AuthorizerRequest, Principal, user_id_from_event
from wsgate.auth.jwt import JWTAuthorizer
from wsgate.events import WebSocketEvent
from wsgate.exceptions import AccessDenied, Unauthorized
from wsgate.router import WebSocketApp

from .kit import (
    AUDIENCE,
    ISSUER,
    EventLog,
    Forge,
    JWKSServer,
    Keys,
    RunningEmulator,
    authorizer_event,
    b64url,
    claims,
    start_jwks_server,
)


class CountingJWTAuthorizer(JWTAuthorizer):
    """Counts how often API Gateway (here: the emulator) invoked the authorizer function."""

    calls = 0

    def authorize(self, event: Any, lambda_context: Any = None) -> dict[str, Any]:
        CountingJWTAuthorizer.calls += 1
        return super().authorize(event, lambda_context)


def recording_app(log: EventLog, authorizer: Any) -> WebSocketApp:
    app = WebSocketApp()
    app.authorizer(authorizer)

    @app.connect
    def on_connect(event: WebSocketEvent) -> None:
        log.add(dict(event.raw))

    @app.default
    def on_message(event: WebSocketEvent) -> None:
        log.add(dict(event.raw))

    @app.disconnect
    def on_disconnect(event: WebSocketEvent) -> None:
        log.add(dict(event.raw))

    return app


@dataclass
class Target:
    emulator: RunningEmulator
    log: EventLog
    jwks: JWKSServer


@pytest.fixture(scope="module")
def target(keys: Keys) -> Iterator[Target]:
    with start_jwks_server(keys.jwks()) as jwks_server:
        log = EventLog()
        authorizer = CountingJWTAuthorizer(
            jwks_url=jwks_server.url, issuer=ISSUER, audience=AUDIENCE, max_token_bytes=4096
        )
        running = RunningEmulator(recording_app(log, authorizer))
        try:
            yield Target(running, log, jwks_server)
        finally:
            running.stop()


def handshake_status(url: str, headers: list[tuple[str, str]] | None = None) -> int:
    """Open a WebSocket; return 101 when it opened (and close it), else the refusal status."""
    try:
        with connect(url, additional_headers=headers, open_timeout=15):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def bearer(token: str) -> list[tuple[str, str]]:
    return [("Authorization", f"Bearer {token}")]


def _swap_payload(token: str, payload: dict[str, Any]) -> str:
    head, _, signature = token.split(".")
    return f"{head}.{b64url(json.dumps(payload).encode())}.{signature}"


NOW = int(time.time())
Attack = Callable[[Forge, Keys, JWKSServer], list[tuple[str, str]]]

# name → (headers the attacker sends, status the client must see)
ATTACKS: dict[str, Attack] = {
    "expired": lambda f, k, s: bearer(f.rs256(claims(exp=NOW - 3600, iat=NOW - 7200))),
    "not_yet_valid": lambda f, k, s: bearer(f.rs256(claims(nbf=NOW + 3600))),
    "issued_in_the_future": lambda f, k, s: bearer(f.rs256(claims(iat=NOW + 3600))),
    "missing_exp": lambda f, k, s: bearer(f.rs256(claims(exp=None))),
    "wrong_signature": lambda f, k, s: bearer(
        jwt.encode(claims(), k.other_rsa_private, "RS256", headers={"kid": k.rsa_kid})
    ),
    "wrong_issuer": lambda f, k, s: bearer(f.rs256(claims(iss="https://evil.example"))),
    "wrong_audience": lambda f, k, s: bearer(f.rs256(claims(aud="another-app"))),
    "wrong_audience_in_list": lambda f, k, s: bearer(f.rs256(claims(aud=["a", "b"]))),
    "missing_subject": lambda f, k, s: bearer(f.rs256(claims(sub=None))),
    "alg_none_unsigned": lambda f, k, s: bearer(
        f.raw({"alg": "none", "typ": "JWT", "kid": k.rsa_kid}, claims(), b"")
    ),
    "alg_none_with_signature": lambda f, k, s: bearer(
        f.raw({"alg": "none", "kid": k.rsa_kid}, claims(), b"sig")
    ),
    "alg_none_mixed_case": lambda f, k, s: bearer(
        f.raw({"alg": "nOnE", "kid": k.rsa_kid}, claims(), b"sig")
    ),
    "hs256_signed_with_rs256_public_key": lambda f, k, s: bearer(
        f.hmac_signed({"alg": "HS256", "kid": k.rsa_kid}, claims(), k.rsa_public_pem())
    ),
    "hs256_signed_with_public_jwk_json": lambda f, k, s: bearer(
        f.hmac_signed(
            {"alg": "HS256", "kid": k.rsa_kid},
            claims(),
            json.dumps(k.jwks()["keys"][0]).encode(),
        )
    ),
    "es256_token_naming_the_rsa_key": lambda f, k, s: bearer(f.es256(kid=k.rsa_kid)),
    "rs256_token_naming_the_ec_key": lambda f, k, s: bearer(f.rs256(kid=k.ec_kid)),
    "tampered_payload": lambda f, k, s: bearer(_swap_payload(f.rs256(), claims(sub="admin"))),
    "tampered_header_kid": lambda f, k, s: bearer(
        ".".join(
            [
                b64url(json.dumps({"alg": "RS256", "kid": "rsa-9"}).encode()),
                *f.rs256().split(".")[1:],
            ]
        )
    ),
    "missing_kid": lambda f, k, s: bearer(jwt.encode(claims(), k.rsa_private, "RS256")),
    "non_string_kid": lambda f, k, s: bearer(
        f.raw({"alg": "RS256", "kid": 1}, claims(), f.rs256().split(".")[2].encode())
    ),
    "unknown_kid": lambda f, k, s: bearer(f.rs256(kid="not-a-key")),
    "kid_path_traversal": lambda f, k, s: bearer(f.rs256(kid="../../../../etc/passwd")),
    "jku_header_injection": lambda f, k, s: bearer(
        jwt.encode(
            claims(),
            k.other_rsa_private,
            "RS256",
            headers={"kid": k.rsa_kid, "jku": "http://127.0.0.1:9/evil.json"},
        )
    ),
    "embedded_jwk_header": lambda f, k, s: bearer(
        jwt.encode(
            claims(),
            k.other_rsa_private,
            "RS256",
            headers={
                "kid": k.rsa_kid,
                "jwk": json.loads(
                    jwt.algorithms.RSAAlgorithm.to_jwk(k.other_rsa_private.public_key())
                ),
            },
        )
    ),
    "critical_header": lambda f, k, s: bearer(f.rs256(crit=["exp"])),
    "garbage": lambda f, k, s: bearer("garbage"),
    "garbage_three_segments": lambda f, k, s: bearer("a.b.c"),
    "garbage_base64": lambda f, k, s: bearer(
        ".".join(base64.urlsafe_b64encode(bytes(range(40))).decode().rstrip("=") for _ in "abc")
    ),
    "jwe_five_segments": lambda f, k, s: bearer("a.b.c.d.e"),
    "empty_bearer": lambda f, k, s: [("Authorization", "Bearer")],
    "oversized_token": lambda f, k, s: bearer(f.rs256(claims(pad="x" * 5_000))),
    "conflicting_duplicate_headers": lambda f, k, s: [
        ("Authorization", f"Bearer {f.rs256()}"),
        ("Authorization", f"Bearer {f.rs256(claims(sub='admin', iss='https://evil.example'))}"),
    ],
}


# attack → what the authorizer logs as the reason (never sent to the client).
REASONS = {
    "expired": "ExpiredSignatureError",
    "not_yet_valid": "ImmatureSignatureError",
    "issued_in_the_future": "ImmatureSignatureError",
    "missing_exp": "MissingRequiredClaimError",
    "wrong_signature": "InvalidSignatureError",
    "wrong_issuer": "InvalidIssuerError",
    "wrong_audience": "InvalidAudienceError",
    "wrong_audience_in_list": "InvalidAudienceError",
    "missing_subject": "no 'sub' claim",
    "alg_none_unsigned": "not a signed compact JWT",
    "alg_none_with_signature": "algorithm 'none' is not accepted",
    "alg_none_mixed_case": "algorithm 'nOnE' is not accepted",
    "hs256_signed_with_rs256_public_key": "algorithm 'HS256' is not accepted",
    "hs256_signed_with_public_jwk_json": "algorithm 'HS256' is not accepted",
    "es256_token_naming_the_rsa_key": "algorithm 'ES256' is not allowed for key 'rsa-1'",
    "rs256_token_naming_the_ec_key": "algorithm 'RS256' is not allowed for key 'ec-1'",
    "tampered_payload": "InvalidSignatureError",
    "tampered_header_kid": "unknown key id 'rsa-9'",
    "missing_kid": "no key id",
    "non_string_kid": "no key id|malformed token header",
    "unknown_kid": "unknown key id 'not-a-key'",
    "kid_path_traversal": "unknown key id",
    "jku_header_injection": "InvalidSignatureError",
    "embedded_jwk_header": "InvalidSignatureError",
    "critical_header": "critical header|malformed token header",
    "garbage": "not a signed compact JWT",
    "garbage_three_segments": "malformed token header",
    "garbage_base64": "malformed token header",
    "jwe_five_segments": "not a signed compact JWT",
    "empty_bearer": "empty token",
    "oversized_token": "longer than 4096",
    "conflicting_duplicate_headers": "more than once",
}


def test_every_attack_has_a_reason() -> None:
    assert set(REASONS) == set(ATTACKS)


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_forged_token_is_refused_for_the_right_reason(
    target: Target, forge: Forge, keys: Keys, attack: str
) -> None:
    authorizer = target.emulator.emulator.app.authorizer  # type: ignore[union-attr]
    event = authorizer_event(ATTACKS[attack](forge, keys, target.jwks))
    with pytest.raises(Unauthorized) as info:
        authorizer.authorize(event)
    assert re.search(REASONS[attack], info.value.reason), info.value.reason


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_forged_token_is_rejected(target: Target, forge: Forge, keys: Keys, attack: str) -> None:
    before = len(target.log.events)
    headers = ATTACKS[attack](forge, keys, target.jwks)
    assert handshake_status(target.emulator.ws_url, headers) == 401
    assert target.emulator.connection_ids() == []
    assert len(target.log.events) == before, "$connect ran for a forged token"


def test_missing_token_is_401_without_invoking_the_authorizer(target: Target) -> None:
    calls = CountingJWTAuthorizer.calls
    assert handshake_status(target.emulator.ws_url) == 401
    assert handshake_status(target.emulator.ws_url, [("Authorization", "  ")]) == 401
    assert CountingJWTAuthorizer.calls == calls


def test_valid_token_identity_reaches_connect_message_and_disconnect(
    target: Target, forge: Forge
) -> None:
    log = target.log
    url = target.emulator.ws_url + "?userId=admin"  # the seed's trust-the-client pattern
    with connect(url, additional_headers=bearer(forge.rs256()), open_timeout=15) as ws:
        connection_id = wait_until(lambda: target.emulator.connection_ids(), message="open")[0]
        ws.send(json.dumps({"action": "hello"}))
        wait_until(lambda: log.of("MESSAGE"), message="MESSAGE")
    wait_until(lambda: log.of("DISCONNECT"), message="DISCONNECT")
    for event_type in ("CONNECT", "MESSAGE", "DISCONNECT"):
        (event,) = [
            e for e in log.of(event_type) if e["requestContext"]["connectionId"] == connection_id
        ]
        authorizer = event["requestContext"]["authorizer"]
        assert authorizer["principalId"] == "user-42", event_type
        assert authorizer["email"] == "ada@example.com"
        assert authorizer["iss"] == ISSUER
        assert isinstance(authorizer["integrationLatency"], int)
        assert isinstance(authorizer["exp"], str)  # context values arrive stringified
        assert user_id_from_event(event) == "user-42"  # never the query's "admin"


def test_oversized_handshake_head_is_refused_cleanly(target: Target, forge: Forge) -> None:
    # A header line over 8 KB never reaches the authorizer: the handshake is refused (400).
    long_line = bearer(forge.rs256(claims(pad="x" * 7_000)))
    assert handshake_status(target.emulator.ws_url, long_line) == 400
    # A head over the emulator's 16 KiB limit is refused before any parsing (431), however
    # it arrives.
    huge = bearer(forge.rs256(claims(pad="x" * 12_000)))
    assert handshake_status(target.emulator.ws_url, huge) == 431
    assert handshake_status(target.emulator.ws_url, bearer(forge.rs256())) == 101


def test_es256_token_is_accepted(target: Target, forge: Forge) -> None:
    assert handshake_status(target.emulator.ws_url, bearer(forge.es256())) == 101


def test_jwks_unreachable_is_500(forge: Forge) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    authorizer = JWTAuthorizer(
        jwks_url=f"http://127.0.0.1:{port}/jwks.json", issuer=ISSUER, audience=AUDIENCE
    )
    log = EventLog()
    running = RunningEmulator(recording_app(log, authorizer))
    try:
        assert handshake_status(running.ws_url, bearer(forge.rs256())) == 500
        assert log.events == []
    finally:
        running.stop()


@pytest.fixture(scope="module")
def custom() -> Iterator[RunningEmulator]:
    """An app whose authorizer does what the query string says, to reach every outcome."""
    app = WebSocketApp()

    @app.authorizer(identity_sources=["route.request.querystring.mode"])
    def authorize(request: AuthorizerRequest) -> Any:
        mode = request.query["mode"]
        if mode == "allow":
            return Principal("user-1", {"plan": "pro", "seats": 3, "beta": True})
        if mode == "deny":
            raise AccessDenied("banned")
        if mode == "unauthorized":
            raise Unauthorized("bad key")
        if mode == "nested":
            return Principal("user-1", {"roles": ["a"]})  # type: ignore[dict-item]
        if mode == "huge":
            return Principal("user-1", {"blob": "x" * 9000})
        if mode == "wrong_resource":
            return {
                "principalId": "user-1",
                "policyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Action": "execute-api:Invoke",
                            "Effect": "Allow",
                            "Resource": "arn:aws:execute-api:*:*:someotherapi/*",
                        }
                    ],
                },
            }
        raise RuntimeError("authorizer bug")

    @app.connect
    def on_connect(event: WebSocketEvent) -> None:
        return None

    running = RunningEmulator(app)
    yield running
    running.stop()


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        ("allow", 101),
        ("deny", 403),
        ("wrong_resource", 403),
        ("unauthorized", 401),
        ("crash", 500),
        ("nested", 500),
        ("huge", 500),
    ],
)
def test_authorizer_outcome_statuses(custom: RunningEmulator, mode: str, status: int) -> None:
    assert handshake_status(f"{custom.ws_url}?mode={mode}") == status


def test_refusals_carry_no_detail(custom: RunningEmulator) -> None:
    with pytest.raises(InvalidStatus) as info, connect(f"{custom.ws_url}?mode=crash"):
        pass
    body = info.value.response.body or b""
    assert b"authorizer bug" not in body and b"Traceback" not in body and b"/" not in body
