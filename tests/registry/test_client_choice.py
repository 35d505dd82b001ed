"""Which DynamoDB client the registry and the delivery store use: the stdlib one by default (a
cold write imports no boto3), boto3 when asked (an argument, a URL option or a setting)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from wsgate.aws.dynamodb import DynamoDBClient
from wsgate.delivery.store_dynamodb import DynamoDBDeliveryStore
from wsgate.exceptions import ConfigurationError
from wsgate.registry import open_registry
from wsgate.registry.dynamodb import DynamoDBRegistry
from wsgate.testing.servers import TEST_CREDENTIALS, LocalServer

pytestmark = pytest.mark.dynamodb

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, dynalite_server: LocalServer) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": TEST_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": TEST_CREDENTIALS["aws_secret_access_key"],
        "AWS_REGION": TEST_CREDENTIALS["region_name"],
        "AWS_ENDPOINT_URL_DYNAMODB": dynalite_server.endpoint_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("WSGATE_DYNAMODB_CLIENT", raising=False)
    return env


def test_a_cold_connect_stores_without_importing_boto3(
    aws_env: dict[str, str], dynalite_server: LocalServer
) -> None:
    table = f"cold-{uuid.uuid4().hex[:8]}"
    client = dynalite_server.stdlib_client()
    setup = DynamoDBRegistry(table, client=client)
    setup.create_table()
    code = (
        "import json, sys\n"
        "from wsgate.router import WebSocketApp\n"
        "from wsgate.gateway import ws_store_connection\n"
        "app = WebSocketApp()\n"
        "@app.connect\n"
        "def on_connect(event):\n"
        "    ws_store_connection(event.connection_id, user_id='ada')\n"
        "event = json.load(open(sys.argv[1]))\n"
        "answer = app(event, None)\n"
        "print(json.dumps([answer['statusCode'], sorted(m for m in sys.modules\n"
        "    if m.split('.')[0] in ('boto3', 'botocore', 'asyncio'))]))\n"
    )
    event = Path(__file__).resolve().parents[1] / "events" / "connect_query.json"
    env = {**os.environ, **aws_env, "WSGATE_TABLE": table, "PYTHONPATH": str(SRC)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(event)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    status, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert (status, loaded) == (200, [])
    connection_id = json.loads(event.read_text())["requestContext"]["connectionId"]
    stored = setup.get(connection_id)
    assert stored is not None and stored.user_id == "ada"
    setup.delete_table()
    client.close()


def test_the_stdlib_client_is_the_default(aws_env: dict[str, str]) -> None:
    registry = DynamoDBRegistry("T")
    assert isinstance(registry.client, DynamoDBClient)
    assert registry.client.endpoint_url == aws_env["AWS_ENDPOINT_URL_DYNAMODB"]
    registry.close()
    store = DynamoDBDeliveryStore("T-delivery")
    assert isinstance(store.client, DynamoDBClient)
    store.client.close()


@pytest.mark.parametrize("how", ["argument", "url", "setting"])
def test_boto3_stays_a_choice(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    registry: Any
    if how == "argument":
        registry = DynamoDBRegistry("T", client="boto3")
    elif how == "url":
        registry = open_registry("dynamodb://T?client=boto3")
    else:
        monkeypatch.setenv("WSGATE_DYNAMODB_CLIENT", "boto3")
        registry = open_registry("dynamodb://T")
    client = registry.client
    assert type(client).__module__.startswith("botocore")
    assert client.meta.endpoint_url == aws_env["AWS_ENDPOINT_URL_DYNAMODB"]
    registry.close()
    if how == "setting":
        store = DynamoDBDeliveryStore("T-delivery")
        assert type(store.client).__module__.startswith("botocore")


def test_an_unknown_client_kind_is_a_configuration_error(aws_env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError, match="stdlib"):
        _ = DynamoDBRegistry("T", client="aiobotocore").client
