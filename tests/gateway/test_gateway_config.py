"""Configuration: lazily from the environment, explicitly with configure(), back with reset()."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from gateway_server import ConnectionsServer

from wsgate import config
from wsgate.exceptions import ConfigurationError, ConnectionGoneError, RegistryUnavailable
from wsgate.gateway import (
    ws_get_all_connections,
    ws_get_connection,
    ws_send_message,
    ws_store_connection,
)
from wsgate.registry import open_registry
from wsgate.sender import Sender


def test_registry_and_endpoint_from_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: ConnectionsServer
) -> None:
    db = tmp_path / "env.db"
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{db}")
    monkeypatch.setenv("WSGATE_ENDPOINT", api.endpoint)
    cid = api.open("EnvEnvEnvEnvEnv=")

    record = ws_store_connection(cid, user_id="env-user")
    ws_send_message(cid, {"hello": "env"})

    assert record["endpoint"] == api.endpoint
    assert api.json_messages(cid) == [{"hello": "env"}]
    # The record is really in the SQLite file the variable names.
    other = open_registry(f"sqlite:///{db}")
    try:
        stored = other.get(cid)
        assert stored is not None and stored.user_id == "env-user"
    finally:
        other.close()


def test_environment_is_read_lazily_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'first.db'}")
    ws_store_connection("Lazy1Lazy1Lazy1=")
    # Changing the variable later does not move a running process to another registry ...
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'second.db'}")
    assert ws_get_connection("Lazy1Lazy1Lazy1=") is not None
    # ... until reset(), which reads the environment again.
    config.reset()
    assert ws_get_connection("Lazy1Lazy1Lazy1=") is None
    assert (tmp_path / "second.db").exists()


def test_wsgate_table_means_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    monkeypatch.setenv("WSGATE_TABLE", "WebSocketConnections")
    monkeypatch.setattr(
        config, "_open", lambda url: opened.append(url) or open_registry("memory://")
    )
    config.get_registry()
    assert opened == ["dynamodb://WebSocketConnections"]


def test_wsgate_registry_wins_over_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGATE_TABLE", "WebSocketConnections")
    monkeypatch.setenv("WSGATE_REGISTRY", "memory://")
    assert type(config.get_registry()).__name__ == "MemoryRegistry"


def test_nothing_configured_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="WSGATE_TABLE") as caught:
        ws_get_all_connections()
    assert "configure(registry=" in str(caught.value)


def test_bad_registry_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGATE_REGISTRY", "postgres://db/connections")
    with pytest.raises(ConfigurationError, match="unknown registry URL"):
        ws_get_all_connections()


@pytest.mark.parametrize("value", ["soon", "0", "-5", "1.5"])
def test_bad_ttl_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WSGATE_REGISTRY", "memory://")
    monkeypatch.setenv("WSGATE_TTL", value)
    with pytest.raises(ConfigurationError, match="WSGATE_TTL"):
        ws_store_connection("TtlTtlTtlTtlTtl=")


def test_ttl_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGATE_REGISTRY", "memory://")
    monkeypatch.setenv("WSGATE_TTL", "900")
    before = int(time.time())
    record = ws_store_connection("TtlTtlTtlTtlTtl=")
    assert before + 900 <= record["expiresAt"] <= int(time.time()) + 900
    assert config.get_ttl() == 900


@pytest.mark.parametrize("value", ["wss://abc.execute-api.eu-west-1.amazonaws.com/prod", "abc"])
def test_bad_endpoint_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WSGATE_ENDPOINT", value)
    with pytest.raises(ConfigurationError, match="WSGATE_ENDPOINT"):
        config.get_endpoint()


def test_configure_arguments_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="endpoint"):
        config.configure(endpoint="abc.execute-api.eu-west-1.amazonaws.com/prod")
    with pytest.raises(ConfigurationError, match="ttl"):
        config.configure(ttl=0)
    with pytest.raises(ConfigurationError, match="registry"):
        config.configure(registry=42)  # type: ignore[arg-type]


def test_configure_wins_over_environment(
    monkeypatch: pytest.MonkeyPatch, api: ConnectionsServer
) -> None:
    monkeypatch.setenv("WSGATE_ENDPOINT", "https://abc123.execute-api.eu-west-1.amazonaws.com/x")
    monkeypatch.setenv("WSGATE_TTL", "100")
    config.configure(registry="memory://", endpoint=api.endpoint + "/", ttl=300)
    assert config.get_endpoint() == api.endpoint
    assert config.get_ttl() == 300


def test_configure_changes_only_what_is_passed(api: ConnectionsServer) -> None:
    config.configure(registry="memory://", endpoint=api.endpoint)
    registry = config.get_registry()
    config.configure(ttl=60)
    assert config.get_registry() is registry
    assert config.get_endpoint() == api.endpoint


def test_reset_closes_what_wsgate_built_but_not_yours(tmp_path: Path) -> None:
    yours = open_registry(f"sqlite:///{tmp_path / 'yours.db'}")
    config.configure(registry=yours)
    ws_store_connection("YoursYoursYours=")
    config.reset()
    assert yours.get("YoursYoursYours=") is not None  # still open and usable
    yours.close()

    config.configure(registry=f"sqlite:///{tmp_path / 'built.db'}")
    built = config.get_registry()
    config.reset()
    with pytest.raises(RegistryUnavailable, match="closed"):
        built.get("YoursYoursYours=")


def test_sender_is_rebuilt_for_a_new_registry(api: ConnectionsServer) -> None:
    first = open_registry("memory://")
    second = open_registry("memory://")
    config.configure(registry=first, endpoint=api.endpoint)
    sender = config.get_sender()
    assert sender.registry is first
    config.configure(registry=second)
    rebuilt = config.get_sender()
    assert rebuilt is not sender and rebuilt.registry is second


def test_your_sender_is_used(api: ConnectionsServer) -> None:
    registry = open_registry("memory://")
    mine = Sender(api.endpoint, registry=None)
    config.configure(registry=registry, sender=mine)
    assert config.get_sender() is mine
    cid = api.open("MineMineMineMin=")
    registry.store(cid)
    api.drop(cid)
    # Your sender prunes nothing (no registry), so the gateway prunes the gone record itself.
    with pytest.raises(ConnectionGoneError):
        ws_send_message(cid, "hi")
    assert registry.get(cid) is None


def test_import_is_light() -> None:
    code = (
        "import sys, wsgate.gateway, wsgate.config\n"
        "heavy = [m for m in ('boto3', 'botocore', 'asyncio', 'sqlite3') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_registry_url_is_opened_on_first_use(tmp_path: Path) -> None:
    db = tmp_path / "lazy.db"
    config.configure(registry=f"sqlite:///{db}")
    assert not db.exists()
    ws_get_all_connections()
    assert db.exists()


def test_first_use_from_many_threads_builds_one_registry(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import threading

    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'threads.db'}")
    registries: list[object] = []
    senders: list[object] = []
    barrier = threading.Barrier(8)

    def first_use() -> None:
        barrier.wait()
        registries.append(config.get_registry())
        senders.append(config.get_sender())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(registries) == len(senders) == 8
    assert len({id(r) for r in registries}) == 1
    assert len({id(s) for s in senders}) == 1
