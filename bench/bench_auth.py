"""Cost of authentication: the JWT authorizer beside bare PyJWT, and a handshake with and without.

Two figures, each a ratio against a baseline measured in the same run:

1. Verifying one token through ``JWTAuthorizer`` (the whole Lambda handler: identity source,
   pinning, claims, policy document) against a bare ``jwt.decode`` with the same key — the
   price of wsgate's checks on top of the signature itself. HS256, RS256 (JWKS), ES256 (JWKS).
2. Opening a WebSocket through the emulator with a JWT authorizer on ``$connect`` against the
   same emulator with no authorizer — what emulating §4 adds to a connection.

Run: ``python bench/bench_auth.py [--n 2000] [--handshakes 200] [--write]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import jwt
from common import write_section
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from wsgate.auth.jwt import JWTAuthorizer
from wsgate.router import WebSocketApp

SECTION = "## Auth"
ISSUER, AUDIENCE, SECRET = "https://issuer.example", "bench", "b" * 48
ARN = "arn:aws:execute-api:us-east-1:123456789012:abc/local/$connect"


def claims() -> dict[str, Any]:
    now = int(time.time())
    return {"sub": "user-1", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 3600}


def event(token: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": ARN,
        "headers": {"Authorization": f"Bearer {token}"},
        "multiValueHeaders": {"Authorization": [f"Bearer {token}"]},
        "requestContext": {"connectionId": "R1kmxc2VNjMCFIA=", "eventType": "CONNECT"},
    }


def per_call_us(fn: Callable[[], Any], n: int, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best * 1e6


def bench_verify(n: int) -> list[tuple[str, float, float]]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_key.public_key()))
    rsa_jwk.update(kid="r")
    ec_jwk.update(kid="e")
    jwks = {"keys": [rsa_jwk, ec_jwk]}
    cases = [
        ("HS256", jwt.encode(claims(), SECRET, "HS256"), SECRET, {"secret": SECRET}),
        (
            "RS256 (JWKS)",
            jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "r"}),
            rsa_key.public_key(),
            {"jwks": jwks},
        ),
        (
            "ES256 (JWKS)",
            jwt.encode(claims(), ec_key, "ES256", headers={"kid": "e"}),
            ec_key.public_key(),
            {"jwks": jwks},
        ),
    ]
    rows = []
    for name, token, key, source in cases:
        algorithm = jwt.get_unverified_header(token)["alg"]
        authorizer = JWTAuthorizer(issuer=ISSUER, audience=AUDIENCE, **source)
        raw = event(token)

        def bare(token: str = token, key: Any = key, algorithm: str = algorithm) -> Any:
            return jwt.decode(token, key, [algorithm], issuer=ISSUER, audience=AUDIENCE)

        def wsgate(raw: dict[str, Any] = raw, authorizer: JWTAuthorizer = authorizer) -> Any:
            return authorizer(raw)

        assert wsgate()["principalId"] == "user-1"
        # Interleaved repeats (best of each), so machine load hits both sides alike.
        baseline = measured = float("inf")
        for _ in range(7):
            baseline = min(baseline, per_call_us(bare, n, repeats=1))
            measured = min(measured, per_call_us(wsgate, n, repeats=1))
        rows.append((name, baseline, measured))
    return rows


class _Running:
    """An emulator on its own loop thread (127.0.0.1, free port)."""

    def __init__(self, app: WebSocketApp) -> None:
        from wsgate.local import EmulatorConfig
        from wsgate.local.server import Emulator

        self.emulator = Emulator(
            app, EmulatorConfig(port=0, dashboard=False), configure_environment=False
        )
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.emulator.start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()
        ready.wait(15)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


def bench_handshakes(count: int) -> tuple[float, float]:
    from websockets.sync.client import connect

    token = jwt.encode(claims(), SECRET, "HS256")
    plain = WebSocketApp(observe=False)
    guarded = WebSocketApp(observe=False)
    guarded.authorizer(JWTAuthorizer(secret=SECRET, issuer=ISSUER, audience=AUDIENCE))
    for app in (plain, guarded):

        @app.connect
        def on_connect(event: Any) -> None:
            return None

    header = [("Authorization", f"Bearer {token}")]
    servers = [_Running(plain), _Running(guarded)]
    samples: list[list[float]] = [[], []]
    try:
        for round_ in range(count + 10):
            for index, server in enumerate(servers):  # interleaved, so load hits both alike
                start = time.perf_counter()
                with connect(server.emulator.ws_url, additional_headers=header):
                    elapsed = time.perf_counter() - start
                if round_ >= 10:  # the first rounds warm up imports and thread pools
                    samples[index].append(elapsed)
    finally:
        for server in servers:
            server.stop()
    return statistics.median(samples[0]) * 1000, statistics.median(samples[1]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000, help="verifications per repeat")
    parser.add_argument("--handshakes", type=int, default=200, help="handshakes per contender")
    parser.add_argument("--write", action="store_true", help=f"write the {SECTION} section")
    args = parser.parse_args()
    verify = bench_verify(args.n)
    plain_ms, guarded_ms = bench_handshakes(args.handshakes)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        SECTION,
        "",
        f"Command: `python bench/bench_auth.py --n {args.n} --handshakes {args.handshakes} "
        f"--write` (CPython {platform.python_version()}, 2 CPUs shared with other work; {stamp}).",
        "",
        "Verifying one token, best of 7 interleaved repeats; the baseline is a bare "
        "`jwt.decode` with the "
        "same key, issuer and audience:",
        "",
        "| token | bare `jwt.decode` µs (baseline) | `JWTAuthorizer(event)` µs | ratio |",
        "|---|---|---|---|",
    ]
    for name, baseline, measured in verify:
        lines.append(f"| {name} | {baseline:.1f} | {measured:.1f} | {measured / baseline:.2f} |")
    lines += [
        "",
        f"Opening a WebSocket through the emulator, median of {args.handshakes} handshakes "
        "(127.0.0.1, `websockets` sync client), HS256 token in `Authorization`:",
        "",
        "| contender | median ms | ratio |",
        "|---|---|---|",
        f"| no authorizer (baseline) | {plain_ms:.2f} | 1.00 |",
        f"| `@app.authorizer(JWTAuthorizer(...))`, emulated per §4 | {guarded_ms:.2f} | "
        f"{guarded_ms / plain_ms:.2f} |",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
