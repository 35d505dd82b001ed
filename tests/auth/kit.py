"""Helpers for the auth tests: keys, a token forge, a JWKS server, authorizer events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from support import ThreadedEmulator

ISSUER = "https://issuer.example"
AUDIENCE = "wsgate-tests"
SECRET = "s" * 40
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/local/$connect"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Keys:
    """An RSA and an EC key pair with their JWKS, plus an unrelated RSA key (the forger's)."""

    rsa_private: rsa.RSAPrivateKey
    ec_private: ec.EllipticCurvePrivateKey
    other_rsa_private: rsa.RSAPrivateKey
    rsa_kid: str = "rsa-1"
    ec_kid: str = "ec-1"

    def jwks(self) -> dict[str, Any]:
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa_private.public_key()))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec_private.public_key()))
        rsa_jwk.update(kid=self.rsa_kid, use="sig")
        ec_jwk.update(kid=self.ec_kid, use="sig")
        return {"keys": [rsa_jwk, ec_jwk]}

    def rsa_public_pem(self) -> bytes:
        return self.rsa_private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for ISSUER/AUDIENCE; pass ``name=None`` to drop a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "user-42",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "email": "ada@example.com",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


@dataclass
class Forge:
    """Builds valid and forged tokens against :class:`Keys`."""

    keys: Keys

    def rs256(self, payload: dict[str, Any] | None = None, **header: Any) -> str:
        headers = {"kid": self.keys.rsa_kid, **header}
        return jwt.encode(payload or claims(), self.keys.rsa_private, "RS256", headers=headers)

    def es256(self, payload: dict[str, Any] | None = None, **header: Any) -> str:
        headers = {"kid": self.keys.ec_kid, **header}
        return jwt.encode(payload or claims(), self.keys.ec_private, "ES256", headers=headers)

    def hs256(self, payload: dict[str, Any] | None = None, secret: str = SECRET) -> str:
        return jwt.encode(payload or claims(), secret, "HS256")

    def raw(self, header: dict[str, Any], payload: dict[str, Any], signature: bytes) -> str:
        """A token assembled by hand, as an attacker would (PyJWT refuses to make these)."""
        head = b64url(json.dumps(header).encode())
        body = b64url(json.dumps(payload).encode())
        return f"{head}.{body}.{b64url(signature)}"

    def hmac_signed(self, header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
        head = b64url(json.dumps(header).encode())
        body = b64url(json.dumps(payload).encode())
        mac = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        return f"{head}.{body}.{b64url(mac)}"


@dataclass
class JWKSServer:
    """A real HTTP server on 127.0.0.1 serving a JWKS that a test can change or break."""

    url: str
    body: bytes
    status: int = 200
    requests: list[str] = field(default_factory=list)

    def serve(self, document: Any, status: int = 200) -> None:
        self.body = document if isinstance(document, bytes) else json.dumps(document).encode()
        self.status = status

    @property
    def hits(self) -> int:
        return len(self.requests)


@contextmanager
def start_jwks_server(document: Any) -> Iterator[JWKSServer]:
    state = JWKSServer(url="", body=json.dumps(document).encode())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def authorizer_event(
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    query: dict[str, str] | None = None,
    method_arn: str = METHOD_ARN,
) -> dict[str, Any]:
    """A REQUEST authorizer event shaped as aws-behaviour.md §4.2 (repeated headers allowed)."""
    pairs = [
        ("Connection", "upgrade"),
        ("content-length", "0"),
        ("Host", "abcdef1234.execute-api.us-east-1.amazonaws.com"),
        ("Sec-WebSocket-Key", "dA/DoGiMXDXpD0sTx0ihiQ=="),
        ("Sec-WebSocket-Version", "13"),
        ("Upgrade", "websocket"),
    ]
    pairs += list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        multi.setdefault(name, []).append(value)
    event: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": dict(pairs),
        "multiValueHeaders": multi,
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "K5trbG04joEFzdg=",
            "requestId": "K5trbG04joEFzdg=",
            "requestTime": "25/Dec/2021:10:45:28 +0000",
            "requestTimeEpoch": 1640429128939,
            "messageDirection": "IN",
            "stage": "local",
            "connectedAt": 1640429128939,
            "identity": {"sourceIp": "127.0.0.1"},
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "connectionId": "K5trbcorjoECIfA=",
            "apiId": "abcdef1234",
        },
    }
    if query:
        event["queryStringParameters"] = dict(query)
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return event


class RunningEmulator(ThreadedEmulator):
    """A real ``wsgate.local`` emulator on a free loopback port, run on a background loop."""

    def __init__(self, app: Any, **config: Any) -> None:
        from wsgate.local import EmulatorConfig
        from wsgate.local.server import Emulator

        config.setdefault("port", 0)
        emulator = Emulator(app, EmulatorConfig(**config), configure_environment=False)
        super().__init__(emulator, name="auth-emulator")


class EventLog:
    """Collects the events an app's handlers see (thread-safe)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def add(self, raw: dict[str, Any]) -> None:
        with self.lock:
            self.events.append(raw)

    def of(self, event_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e["requestContext"]["eventType"] == event_type]
