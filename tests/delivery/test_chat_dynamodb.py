"""The production path end to end: the chat example under ``wsgate serve`` (its own process)
with the DynamoDB registry and the DynamoDB delivery store beside it (dynalite), a real sender
over HTTP, and a client whose socket dies mid-stream."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from websockets.sync.client import connect

from support import wait_until
from wsgate.delivery.store_dynamodb import DynamoDBDeliveryStore
from wsgate.registry.dynamodb import DynamoDBRegistry
from wsgate.testing.remote import EmulatorProcess

from .pyclient import ProtocolClient

pytestmark = pytest.mark.dynamodb

CHAT_APP = Path(__file__).resolve().parents[2] / "examples" / "chat" / "app.py"


@pytest.fixture
def chat_on_dynamodb(dynalite_server: Any) -> Iterator[tuple[EmulatorProcess, Any]]:
    table = f"chat-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", **dynalite_server.boto_kwargs)
    DynamoDBRegistry(table, client=client).create_table()
    DynamoDBDeliveryStore(f"{table}-delivery", client=client).create_table()
    env = {
        "AWS_ENDPOINT_URL_DYNAMODB": dynalite_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "WSGATE_METRICS": "off",
    }
    with EmulatorProcess(str(CHAT_APP), registry=f"dynamodb://{table}", env=env) as server:
        yield server, client


def test_chat_on_dynamodb_resumes_a_killed_socket(chat_on_dynamodb: Any) -> None:
    server, client = chat_on_dynamodb
    reader = ProtocolClient(server.ws_url, ["lobby"])
    try:
        wait_until(reader.joined, message="reader joined")
        with connect(server.ws_url + "?name=writer") as writer:

            def request(body: dict[str, Any]) -> None:
                writer.send(json.dumps(body))
                while True:  # wait for the ack: one at a time keeps the order
                    frame = json.loads(writer.recv(timeout=30))
                    assert frame.get("type") != "error", frame
                    if frame.get("ackId") == body["ackId"]:
                        assert frame["status"] == "accepted", frame
                        return

            request({"action": "join", "room": "lobby", "ackId": "w-join"})

            def say(n: int) -> None:
                request(
                    {"action": "sendMessage", "room": "lobby", "text": f"m{n}", "ackId": f"w-{n}"}
                )

            for n in range(1, 6):
                say(n)
            wait_until(lambda: len(reader.texts("room:lobby")) >= 3, message="first messages")
            reader.kill(stay_offline=True)
            for n in range(6, 56):
                say(n)
            reader.go_online()
            try:
                wait_until(lambda: len(reader.texts("room:lobby")) >= 55, 90, "all 55 messages")
            except AssertionError:
                raise AssertionError(
                    f"got {reader.texts('room:lobby')}, connects {reader.connects}, "
                    f"frames {reader.log[-8:]}, log {server.log[-2000:]}"
                ) from None
        assert reader.texts("room:lobby") == [f"m{n}" for n in range(1, 56)]
        assert reader.lost == []
    finally:
        reader.stop()
    # The state really is in the delivery table: 55 buffered messages of room:lobby.
    items = client.query(
        TableName=f"{server.registry_url.split('//')[1]}-delivery",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
        ExpressionAttributeValues={":pk": {"S": "s#room:lobby"}, ":m": {"S": "m#"}},
        Select="COUNT",
    )
    assert items["Count"] == 55
