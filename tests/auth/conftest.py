"""Fixtures for the auth tests: real keys, a token forge, and a real JWKS HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .kit import Forge, JWKSServer, Keys, start_jwks_server


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        rsa_private=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec_private=ec.generate_private_key(ec.SECP256R1()),
        other_rsa_private=rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture(scope="session")
def forge(keys: Keys) -> Forge:
    return Forge(keys)


@pytest.fixture
def jwks_server(keys: Keys) -> Iterator[JWKSServer]:
    with start_jwks_server(keys.jwks()) as server:
        yield server
