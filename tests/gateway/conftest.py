"""Fixtures for the gateway tests: a real registry (SQLite, DynamoDB on dynalite), a real
``@connections`` server on loopback, and events built exactly as API Gateway (and the
emulator) builds them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from gateway_server import ConnectionsServer, serve

from wsgate import config
from wsgate.local.eventgen import (
    build_connect_event,
    build_disconnect_event,
    build_message_event,
    make_id,
)
from wsgate.registry.base import ConnectionRegistry

WSGATE_VARIABLES = ("WSGATE_REGISTRY", "WSGATE_TABLE", "WSGATE_ENDPOINT", "WSGATE_TTL")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Dummy AWS credentials (nothing here talks to AWS), no wsgate variables, fresh config."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    for name in WSGATE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config.reset()
    yield
    config.reset()


@pytest.fixture
def api() -> Iterator[ConnectionsServer]:
    """A real ``@connections`` server on a free loopback port."""
    with serve("test") as server:
        yield server


def _dynamodb_registry(request: pytest.FixtureRequest) -> ConnectionRegistry:
    from wsgate.registry.dynamodb import DynamoDBRegistry

    server = request.getfixturevalue("dynalite_server")
    import boto3

    client = boto3.client("dynamodb", **server.boto_kwargs)
    table = f"gateway-{uuid.uuid4().hex[:12]}"
    registry = DynamoDBRegistry(table, client=client)
    registry.create_table()
    return registry


@pytest.fixture(params=["sqlite", pytest.param("dynamodb", marks=pytest.mark.dynamodb)])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConnectionRegistry]:
    """The registry on SQLite (a file in tmp_path) and on DynamoDB (a fresh dynalite table)."""
    if request.param == "sqlite":
        from wsgate.registry import open_registry

        reg = open_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    else:
        reg = _dynamodb_registry(request)
    yield reg
    reg.close()


@dataclass
class Harness:
    """The parts a seed example runs against, and helpers to play API Gateway's part."""

    api: ConnectionsServer
    registry: ConnectionRegistry

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.api.port}"

    def connect_event(
        self,
        connection_id: str | None = None,
        *,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        authorizer: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A client opens a connection: API Gateway's CONNECT event for it (the client is live
        on the ``@connections`` server from now on, as after the handshake)."""
        cid = connection_id or make_id()
        self.api.open(cid)
        return build_connect_event(
            connection_id=cid,
            connected_at=int(time.time() * 1000),
            stage=self.api.stage,
            api_id="gatewaytst",
            domain_name=self.domain,
            headers=list((headers or {"User-Agent": "pytest-client/1.0"}).items()),
            query=list((query or {}).items()),
            user_agent=(headers or {}).get("User-Agent", "pytest-client/1.0"),
            authorizer=authorizer,
        )

    def message_event(self, connection_id: str, body: str) -> dict[str, Any]:
        return build_message_event(
            connection_id=connection_id,
            connected_at=int(time.time() * 1000),
            stage=self.api.stage,
            api_id="gatewaytst",
            domain_name=self.domain,
            body=body,
        )

    def disconnect_event(self, connection_id: str, code: int = 1001) -> dict[str, Any]:
        self.api.drop(connection_id)
        return build_disconnect_event(
            connection_id=connection_id,
            connected_at=int(time.time() * 1000),
            stage=self.api.stage,
            api_id="gatewaytst",
            domain_name=self.domain,
            status_code=code,
        )

    def stored(
        self,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        *,
        connected_at: float | None = None,
    ) -> str:
        """A connection that is open and already recorded (its ``$connect`` ran earlier)."""
        cid = self.api.open(make_id())
        self.registry.store(
            cid,
            user_id=user_id,
            metadata=metadata,
            endpoint=self.api.endpoint,
            connected_at=connected_at,
        )
        return cid


@pytest.fixture
def gw(api: ConnectionsServer, registry: ConnectionRegistry) -> Harness:
    """The gateway configured as ``wsgate serve`` configures an app: registry + endpoint."""
    config.configure(registry=registry, endpoint=api.endpoint)
    return Harness(api, registry)
