"""JWKS from a URL: caching, TTL, refresh on an unknown kid, rate limit, failures.

Every test talks to a real HTTP server on 127.0.0.1 (``jwks_server``).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from wsgate.auth.jwks import RemoteKeySet
from wsgate.auth.jwt import JWTVerifier
from wsgate.exceptions import AuthorizerConfigurationError, Unauthorized

from .kit import AUDIENCE, ISSUER, Forge, JWKSServer, Keys, claims


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verifier_for(key_set: RemoteKeySet) -> JWTVerifier:
    return JWTVerifier(jwks=key_set, issuer=ISSUER, audience=AUDIENCE)


def test_keys_are_fetched_once_and_cached(jwks_server: JWKSServer, forge: Forge) -> None:
    key_set = RemoteKeySet(jwks_server.url)
    verifier = verifier_for(key_set)
    assert jwks_server.hits == 0  # nothing is fetched before the first token
    for _ in range(20):
        assert verifier.verify(forge.rs256())["sub"] == "user-42"
    assert verifier.verify(forge.es256())["sub"] == "user-42"
    assert jwks_server.hits == 1
    assert jwks_server.requests == ["/.well-known/jwks.json"]


def test_ttl_expiry_refetches(jwks_server: JWKSServer, forge: Forge) -> None:
    clock = Clock()
    verifier = verifier_for(RemoteKeySet(jwks_server.url, ttl=60, clock=clock))
    verifier.verify(forge.rs256())
    clock.now += 59
    verifier.verify(forge.rs256())
    assert jwks_server.hits == 1
    clock.now += 2
    verifier.verify(forge.rs256())
    assert jwks_server.hits == 2


def test_unknown_kid_triggers_one_refresh_for_rotation(
    jwks_server: JWKSServer, forge: Forge, keys: Keys
) -> None:
    clock = Clock()
    verifier = verifier_for(RemoteKeySet(jwks_server.url, min_refresh_interval=30, clock=clock))
    verifier.verify(forge.rs256())
    # The identity provider rotates in a new key, and a token signed with it arrives.
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rotated = Keys(new_key, keys.ec_private, keys.other_rsa_private, rsa_kid="rsa-2")
    jwks_server.serve({"keys": keys.jwks()["keys"] + rotated.jwks()["keys"][:1]})
    clock.now += 31
    assert verifier.verify(Forge(rotated).rs256())["sub"] == "user-42"
    assert jwks_server.hits == 2


def test_unknown_kid_flood_is_rate_limited(jwks_server: JWKSServer, forge: Forge) -> None:
    clock = Clock()
    verifier = verifier_for(RemoteKeySet(jwks_server.url, min_refresh_interval=30, clock=clock))
    verifier.verify(forge.rs256())
    for n in range(50):
        with pytest.raises(Unauthorized, match="unknown key id"):
            verifier.verify(forge.rs256(kid=f"invented-{n}"))
    assert jwks_server.hits == 1
    clock.now += 31
    with pytest.raises(Unauthorized):
        verifier.verify(forge.rs256(kid="invented-again"))
    assert jwks_server.hits == 2


@pytest.mark.parametrize(
    ("document", "status"),
    [
        ({"keys": []}, 200),
        (b"<html>not json</html>", 200),
        ({"error": "boom"}, 500),
        (b"x" * 2048, 200),
    ],
)
def test_bad_jwks_responses_are_configuration_errors(
    jwks_server: JWKSServer, forge: Forge, document: Any, status: int
) -> None:
    jwks_server.serve(document, status)
    verifier = verifier_for(RemoteKeySet(jwks_server.url, max_bytes=1024))
    with pytest.raises(AuthorizerConfigurationError) as info:
        verifier.verify(forge.rs256())
    assert info.value.status_code == 500


def test_unreachable_jwks_is_a_500_not_a_401(forge: Forge) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    verifier = verifier_for(RemoteKeySet(f"http://127.0.0.1:{port}/jwks.json", timeout=2))
    with pytest.raises(AuthorizerConfigurationError, match="fetch"):
        verifier.verify(forge.rs256())


def test_a_silent_server_times_out(forge: Forge) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/jwks.json"
        verifier = verifier_for(RemoteKeySet(url, timeout=0.3))
        with pytest.raises(AuthorizerConfigurationError, match="fetch"):
            verifier.verify(forge.rs256())


def test_refresh_failure_keeps_the_last_good_keys(jwks_server: JWKSServer, forge: Forge) -> None:
    clock = Clock()
    key_set = RemoteKeySet(jwks_server.url, ttl=60, clock=clock)
    verifier = verifier_for(key_set)
    verifier.verify(forge.rs256())
    jwks_server.serve({"error": "down"}, 503)
    clock.now += 120
    assert verifier.verify(forge.rs256())["sub"] == "user-42"
    assert jwks_server.hits == 2


@pytest.fixture
def redirecting_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_redirect_to_a_file_url_is_refused(redirecting_server: str, forge: Forge) -> None:
    verifier = verifier_for(RemoteKeySet(redirecting_server))
    with pytest.raises(AuthorizerConfigurationError):
        verifier.verify(forge.rs256())


def test_concurrent_first_use_fetches_once(jwks_server: JWKSServer, forge: Forge) -> None:
    verifier = verifier_for(RemoteKeySet(jwks_server.url))
    token = forge.rs256(claims())
    results: list[str] = []

    def verify() -> None:
        results.append(verifier.verify(token)["sub"])

    threads = [threading.Thread(target=verify) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ["user-42"] * 8
    assert jwks_server.hits == 1
    assert json.loads(jwks_server.body)["keys"]
