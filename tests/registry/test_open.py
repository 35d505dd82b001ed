"""open_registry() URLs, registry_from_env(), the Connection record, and import weight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from wsgate.exceptions import ConfigurationError, InvalidRecordError, RegistryError
from wsgate.registry import (
    Connection,
    ConnectionRegistry,
    MemoryRegistry,
    SQLiteRegistry,
    open_registry,
    registry_from_env,
)


def test_memory_url() -> None:
    registry = open_registry("memory://", ttl=30)
    assert isinstance(registry, MemoryRegistry) and registry.ttl == 30


def test_sqlite_relative_and_absolute_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_registry("sqlite:///data/reg.db?ttl=99")
    assert isinstance(relative, SQLiteRegistry) and relative.ttl == 99
    relative.store("c1")
    relative.close()
    assert (tmp_path / "data" / "reg.db").exists()
    absolute = open_registry(f"sqlite:///{tmp_path / 'abs.db'}")
    assert isinstance(absolute, SQLiteRegistry)
    assert absolute.path == str(tmp_path / "abs.db")
    absolute.close()


@pytest.mark.parametrize(
    "url", ["redis://localhost", "sqlite:///", "dynamodb://", "nonsense", "memory://?ttl=0"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_registry(url)


def test_from_env_prefers_wsgate_registry(tmp_path: Path) -> None:
    env = {"WSGATE_REGISTRY": f"sqlite:///{tmp_path / 'r.db'}", "WSGATE_TABLE": "T"}
    registry = registry_from_env(env)
    assert isinstance(registry, SQLiteRegistry)
    registry.close()


def test_from_env_reads_ttl() -> None:
    registry = registry_from_env({"WSGATE_REGISTRY": "memory://", "WSGATE_TTL": "120"})
    assert registry.ttl == 120


def test_from_env_table_means_dynamodb() -> None:
    from wsgate.registry.dynamodb import DynamoDBRegistry

    registry = registry_from_env({"WSGATE_TABLE": "Connections"})
    assert isinstance(registry, DynamoDBRegistry) and registry.table_name == "Connections"


@pytest.mark.parametrize(
    "env",
    [{}, {"WSGATE_REGISTRY": "memory://", "WSGATE_TTL": "soon"}, {"WSGATE_TTL": "5"}],
)
def test_from_env_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        registry_from_env(env)


def test_every_backend_satisfies_the_protocol(tmp_path: Path) -> None:
    from wsgate.registry.dynamodb import DynamoDBRegistry

    backends = [
        MemoryRegistry(),
        SQLiteRegistry(tmp_path / "r.db"),
        DynamoDBRegistry("T", client=object()),
    ]
    for backend in backends:
        assert isinstance(backend, ConnectionRegistry), type(backend).__name__


def test_connection_item_round_trip() -> None:
    record = Connection(
        connection_id="R1kmxc2VNjMCFIA=",
        user_id="u",
        connected_at=1.5,
        last_activity=2.5,
        metadata={"a": [1]},
        expires_at=10,
        endpoint="https://x.execute-api.eu-west-1.amazonaws.com/prod",
        rooms=frozenset({"b", "a"}),
    )
    item = record.to_item()
    assert list(item) == [
        "connectionId",
        "userId",
        "connectedAt",
        "lastActivity",
        "metadata",
        "expiresAt",
        "endpoint",
        "rooms",
        "topics",
    ]
    assert item["rooms"] == ["a", "b"]
    item["metadata"]["a"].append(2)
    assert record.metadata == {"a": [1]}
    assert Connection.from_item(item).rooms == record.rooms
    assert record.as_dict() == record.to_item()
    assert record.is_live(now=9) and not record.is_live(now=10)


@pytest.mark.parametrize(
    "item", [{}, {"connectionId": ""}, {"connectionId": "c", "expiresAt": "x"}]
)
def test_connection_from_bad_item(item: dict[str, object]) -> None:
    with pytest.raises(InvalidRecordError) as info:
        Connection.from_item(item)
    assert isinstance(info.value, RegistryError) and isinstance(info.value, ValueError)


def test_importing_the_registry_loads_no_boto3_or_asyncio() -> None:
    code = (
        "import sys, wsgate.registry, wsgate.registry.base, wsgate.registry.memory; "
        "print(sorted(m for m in ('boto3', 'botocore', 'asyncio', 'sqlite3') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


def test_testing_plugin_and_servers_import_light() -> None:
    code = (
        "import sys, wsgate.testing.plugin, wsgate.testing.servers; "
        "print(sorted(m for m in ('boto3', 'botocore', 'moto') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
