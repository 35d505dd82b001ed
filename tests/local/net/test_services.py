"""LocalServices: a moto server with the template's tables and queues, or a given endpoint."""

from __future__ import annotations

import gc
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from wsgate.exceptions import ConfigurationError
from wsgate.local.services import LocalServices, function_network
from wsgate.local.tls import LocalCA
from wsgate.testing.servers import LocalServer, free_port

from .conftest import sdk_v3_node_modules

pytestmark = pytest.mark.dynamodb


@dataclass(frozen=True)
class TableSpec:  # the shape of wsgate.local.apptemplate.TableSpec
    logical_id: str
    name: str
    create_table_kwargs: Mapping[str, Any]


@dataclass(frozen=True)
class QueueSpec:  # the shape of wsgate.local.apptemplate.QueueSpec
    logical_id: str
    name: str
    attributes: Mapping[str, str] = field(default_factory=dict)


CONNECTIONS = TableSpec(
    "ConnectionsTable",
    "chat-connections",
    {
        "AttributeDefinitions": [
            {"AttributeName": "connectionId", "AttributeType": "S"},
            {"AttributeName": "roomId", "AttributeType": "S"},
        ],
        "KeySchema": [{"AttributeName": "connectionId", "KeyType": "HASH"}],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "byRoom",
                "KeySchema": [{"AttributeName": "roomId", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
    },
)


@pytest.fixture(scope="module")
def services() -> Iterator[LocalServices]:
    with LocalServices(region="us-east-1") as running:
        yield running


def test_tables_are_created_with_keys_and_indexes(services: LocalServices) -> None:
    assert services.owns_server
    assert services.create_tables([CONNECTIONS]) == ["chat-connections"]
    client = services.client("dynamodb")
    try:
        table = client.describe_table(TableName="chat-connections")["Table"]
        ttl = client.describe_time_to_live(TableName="chat-connections")
    finally:
        client.close()
    assert table["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["byRoom"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "ttl"


def test_an_existing_table_is_kept_with_a_log_line(
    services: LocalServices, caplog: pytest.LogCaptureFixture
) -> None:
    services.create_tables([CONNECTIONS])
    client = services.client("dynamodb")
    try:
        client.put_item(TableName="chat-connections", Item={"connectionId": {"S": "kept"}})
    finally:
        client.close()
    caplog.set_level(logging.INFO, logger="wsgate.local")
    assert services.create_tables([CONNECTIONS]) == ["chat-connections"]
    assert "table chat-connections exists; kept as it is" in caplog.text
    client = services.client("dynamodb")
    try:
        assert client.get_item(TableName="chat-connections", Key={"connectionId": {"S": "kept"}})[
            "Item"
        ]
    finally:
        client.close()


def test_a_bad_table_definition_names_the_table(services: LocalServices) -> None:
    bad = TableSpec("Bad", "bad-table", {"KeySchema": [], "AttributeDefinitions": []})
    with pytest.raises(ConfigurationError, match="bad-table"):
        services.create_tables([bad])


def test_queues_are_created_and_kept(services: LocalServices) -> None:
    spec = QueueSpec("Jobs", "jobs", {"VisibilityTimeout": "45"})
    urls = services.create_queues([spec])
    assert set(urls) == {"Jobs"} and urls["Jobs"].endswith("/jobs")
    assert services.create_queues([spec]) == urls
    sqs = services.client("sqs")
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=urls["Jobs"], AttributeNames=["All"])
    finally:
        sqs.close()
    assert attributes["Attributes"]["VisibilityTimeout"] == "45"


def test_a_queue_that_exists_with_other_attributes_is_kept(
    services: LocalServices, caplog: pytest.LogCaptureFixture
) -> None:
    first = services.create_queues([QueueSpec("Q", "kept-queue", {"VisibilityTimeout": "45"})])
    caplog.set_level(logging.INFO, logger="wsgate.local")
    again = services.create_queues([QueueSpec("Q", "kept-queue", {"VisibilityTimeout": "60"})])
    assert again == first
    assert "queue kept-queue exists with other attributes; kept as it is" in caplog.text
    sqs = services.client("sqs")
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=first["Q"], AttributeNames=["All"])
    finally:
        sqs.close()
    assert attributes["Attributes"]["VisibilityTimeout"] == "45"


def test_a_bad_queue_definition_names_the_queue(services: LocalServices) -> None:
    with pytest.raises(ConfigurationError, match="bad-queue"):
        services.create_queues([QueueSpec("B", "bad-queue", {"FifoQueue": "true"})])  # no .fifo


FUNCTION = textwrap.dedent(
    """
    import boto3
    boto3.client("dynamodb").put_item(
        TableName="chat-connections", Item={"connectionId": {"S": "from-function"}}
    )
    boto3.client("sqs").send_message(
        QueueUrl=boto3.client("sqs").get_queue_url(QueueName="jobs")["QueueUrl"], MessageBody="m"
    )
    print("ok")
    """
)


def test_a_function_process_reaches_the_services_through_the_environment(
    services: LocalServices, ca: LocalCA
) -> None:
    services.create_tables([CONNECTIONS])
    services.create_queues([QueueSpec("Jobs", "jobs")])
    network = function_network(emulator_port=3001, api_hostnames=[], ca=ca, services=services)
    assert network.env["AWS_ENDPOINT_URL_DYNAMODB"] == services.endpoint
    assert network.env["NODE_EXTRA_CA_CERTS"] == str(ca.ca_bundle)
    assert Path(network.env["AWS_CA_BUNDLE"]).read_bytes().startswith(ca.ca_bundle.read_bytes())
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        **network.env,
    }
    done = subprocess.run(
        [sys.executable, "-c", FUNCTION], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "ok", done.stderr
    client = services.client("dynamodb")
    try:
        key = {"connectionId": {"S": "from-function"}}
        assert "Item" in client.get_item(TableName="chat-connections", Key=key)
    finally:
        client.close()


SDK_V3_FUNCTION = textwrap.dedent(
    """
    const { DynamoDBClient, PutItemCommand } = require('@aws-sdk/client-dynamodb');
    new DynamoDBClient({}).send(new PutItemCommand({
      TableName: 'chat-connections', Item: { connectionId: { S: 'from-sdk-v3' } },
    })).then(() => console.log('ok')).catch((e) => { console.error(e); process.exit(1); });
    """
)


def test_a_node_sdk_v3_function_reads_the_endpoint_variable(
    services: LocalServices, ca: LocalCA
) -> None:
    node, modules = shutil.which("node"), sdk_v3_node_modules()
    if node is None or modules is None:
        pytest.skip("node or the AWS SDK for JavaScript v3 (per-user cache) is missing")
    services.create_tables([CONNECTIONS])
    network = function_network(emulator_port=3001, api_hostnames=[], ca=ca, services=services)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NODE_PATH": str(modules),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_REGION": "us-east-1",
        **network.env,
    }
    done = subprocess.run(
        [node, "-e", SDK_V3_FUNCTION], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "ok", done.stderr
    client = services.client("dynamodb")
    try:
        key = {"connectionId": {"S": "from-sdk-v3"}}
        assert "Item" in client.get_item(TableName="chat-connections", Key=key)
    finally:
        client.close()


def test_stop_leaves_no_process_and_no_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        services = LocalServices()
        services.start()
        server = services._server
        assert server is not None
        services.stop()
        services.stop()  # twice is fine
        assert server.process.poll() is not None
        del server, services
        gc.collect()


def test_an_endpoint_given_starts_nothing(moto_server: LocalServer) -> None:
    services = LocalServices(endpoint=moto_server.endpoint_url + "/")
    with services:
        assert not services.owns_server
        assert services.endpoint == moto_server.endpoint_url
        spec = TableSpec("T", "given-endpoint-table", CONNECTIONS.create_table_kwargs)
        services.create_tables([spec])
    client = services.client("dynamodb")  # the server outlives stop(): it is not ours
    try:
        names = client.list_tables()["TableNames"]
    finally:
        client.close()
    assert "given-endpoint-table" in names


def test_an_unreachable_or_malformed_endpoint_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="--aws-endpoint"):
        LocalServices(endpoint=f"http://127.0.0.1:{free_port()}").start()
    with pytest.raises(ConfigurationError, match="--aws-endpoint"):
        LocalServices(endpoint="localhost:8000")
