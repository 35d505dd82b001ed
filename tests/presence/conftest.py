"""Fixtures for the presence tests: every registry backend, a DynamoDB client per server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from wsgate.registry.dynamodb import DynamoDBRegistry
from wsgate.registry.memory import MemoryRegistry
from wsgate.registry.sqlite import SQLiteRegistry
from wsgate.testing.servers import LocalServer

BACKENDS = ["memory", "sqlite", "dynalite", "moto"]


def make_client(server: LocalServer) -> Any:
    """A DynamoDB client for a local server, with a small retry budget."""
    config = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=20)
    return boto3.client("dynamodb", config=config, **server.boto_kwargs)


def table_name() -> str:
    return f"wsgate-presence-{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=BACKENDS)
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The connection registry under test: memory, SQLite, DynamoDB on dynalite and moto."""
    kind = request.param
    if kind == "memory":
        reg: Any = MemoryRegistry()
    elif kind == "sqlite":
        reg = SQLiteRegistry(str(tmp_path / "registry.db"))
    else:
        server = request.getfixturevalue("dynalite_server" if kind == "dynalite" else "moto_server")
        reg = DynamoDBRegistry(table_name(), client=make_client(server))
        reg.create_table()
    yield reg
    if isinstance(reg, DynamoDBRegistry):
        reg.delete_table()
    reg.close()
