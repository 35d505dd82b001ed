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


@pytest.fixture
def start_emulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start emulators on free loopback ports (stopped at teardown), with the ``ws_*``
    functions pointed at a SQLite registry: ``start_emulator(app, **config_fields)``."""
    from support import ThreadedEmulator
    from wsgate import config
    from wsgate.local import EmulatorConfig
    from wsgate.local.server import Emulator

    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("WSGATE_ENDPOINT", raising=False)
    config.reset()
    started: list[Any] = []

    def start(app: Any, **fields: Any) -> Any:
        fields.setdefault("port", 0)
        fields.setdefault("dashboard", False)
        running = ThreadedEmulator(Emulator(app, EmulatorConfig(**fields)))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
    config.reset()
