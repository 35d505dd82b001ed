"""Fixtures for the DynamoDB registry tests: a client per server, a fresh table per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from wsgate.testing.servers import LocalServer

boto3 = pytest.importorskip("boto3")
from botocore.config import Config  # noqa: E402


def make_client(server: LocalServer, **config: Any) -> Any:
    """A DynamoDB client for a local server, with a small retry budget."""
    options: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": 3}}
    options.update(config)
    return boto3.client("dynamodb", config=Config(**options), **server.boto_kwargs)


@pytest.fixture(scope="session")
def dynalite_client(dynalite_server: LocalServer) -> Any:
    return make_client(dynalite_server, max_pool_connections=20)


@pytest.fixture(scope="session")
def moto_client(moto_server: LocalServer) -> Any:
    return make_client(moto_server, max_pool_connections=20)


def table_name() -> str:
    return f"wsgate-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("WSGATE_REGISTRY", "WSGATE_TABLE", "WSGATE_TTL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    yield
