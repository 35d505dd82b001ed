"""Building delivery stores from URLs and the environment; the package's public surface."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import wsgate.delivery as delivery
from wsgate.delivery import MemoryDeliveryStore, open_delivery_store, store_from_env
from wsgate.delivery.store_dynamodb import DynamoDBDeliveryStore
from wsgate.delivery.store_sqlite import SQLiteDeliveryStore
from wsgate.exceptions import ConfigurationError


def test_urls_pick_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_delivery_store("memory://"), MemoryDeliveryStore)
    sqlite = open_delivery_store(f"sqlite:///{tmp_path}/d.db")
    assert isinstance(sqlite, SQLiteDeliveryStore)
    assert sqlite.path == tmp_path / "d.db"
    sqlite.close()
    dynamo = open_delivery_store("dynamodb://Chat-delivery")
    assert isinstance(dynamo, DynamoDBDeliveryStore) and dynamo.table_name == "Chat-delivery"
    with pytest.raises(ConfigurationError):
        open_delivery_store("redis://x")


def test_the_environment_follows_the_registry(tmp_path: Path) -> None:
    explicit = store_from_env({"WSGATE_DELIVERY_STORE": "memory://", "WSGATE_TABLE": "T"})
    assert isinstance(explicit, MemoryDeliveryStore)
    table = store_from_env({"WSGATE_TABLE": "Connections"})
    assert isinstance(table, DynamoDBDeliveryStore) and table.table_name == "Connections-delivery"
    url = store_from_env({"WSGATE_REGISTRY": "dynamodb://Conn?region=eu-west-1"})
    assert isinstance(url, DynamoDBDeliveryStore) and url.table_name == "Conn-delivery"
    shared = store_from_env({"WSGATE_REGISTRY": f"sqlite:///{tmp_path}/registry.db"})
    assert isinstance(shared, SQLiteDeliveryStore) and shared.path == tmp_path / "registry.db"
    shared.close()
    with pytest.raises(ConfigurationError, match="WSGATE_DELIVERY_STORE"):
        store_from_env({})


def test_public_names() -> None:
    assert sorted(delivery.__all__) == [
        "Delivery",
        "DeliveryStore",
        "MemoryDeliveryStore",
        "SweepResult",
        "TrackedSend",
        "Undelivered",
        "client_js_path",
        "enable",
        "open_delivery_store",
        "room_stream",
        "store_for_registry",
        "store_from_env",
        "user_stream",
    ]
    assert delivery.client_js_path().read_text().startswith("/*")


def test_importing_delivery_loads_neither_boto3_nor_asyncio() -> None:
    # The Lambda-side path: boto3 only when a DynamoDB store first talks to DynamoDB.
    code = (
        "import sys, wsgate.delivery, wsgate.delivery.service, wsgate.delivery.middleware,"
        " wsgate.delivery.store_sqlite, wsgate.delivery.store_dynamodb;"
        "print(sorted(m for m in ('boto3', 'botocore', 'asyncio') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
