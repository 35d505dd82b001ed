"""DynamoDB-only behaviour: requests per operation, table design, TTL, errors, batches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from support.dynamodb import RequestLog
from wsgate.exceptions import InvalidRecordError, RegistryError, RegistryUnavailable
from wsgate.registry import open_registry
from wsgate.registry.dynamodb import DynamoDBRegistry, TableLayout
from wsgate.registry.dynamodb_items import batch_delete, decode_value, encode_value
from wsgate.testing.servers import LocalServer, free_port

from .conftest import make_client, table_name

pytestmark = pytest.mark.dynamodb


@pytest.fixture(params=["dynalite", "moto"])
def server(request: pytest.FixtureRequest) -> LocalServer:
    name = "dynalite_server" if request.param == "dynalite" else "moto_server"
    found: LocalServer = request.getfixturevalue(name)
    return found


@pytest.fixture
def counted(server: LocalServer) -> Iterator[tuple[DynamoDBRegistry, RequestLog]]:
    client = make_client(server)
    registry = DynamoDBRegistry(table_name(), client=client)
    registry.create_table()
    log = RequestLog(client)
    yield registry, log
    registry.delete_table()
    client.close()


def test_requests_per_operation(counted: tuple[DynamoDBRegistry, RequestLog]) -> None:
    registry, log = counted
    for n in range(30):
        registry.store(f"c{n}", user_id="alice" if n < 3 else None)
    log.take()
    registry.store("c99", user_id="bob")
    assert log.take() == ["UpdateItem"]
    registry.get("c99")
    assert log.take() == ["GetItem"]
    registry.update("c99", metadata={"a": 1})
    assert log.take() == ["UpdateItem"]
    assert registry.touch("c99", now=time.time() + 120) is True
    assert log.take() == ["UpdateItem"]
    assert registry.touch("c99", now=time.time() + 130) is False
    assert log.take() == []  # throttled in-process: no request at all
    assert len(registry.by_user("alice")) == 3
    assert log.take() == ["Query"]
    registry.join("c1", "lobby")
    assert log.take() == ["GetItem", "PutItem", "UpdateItem"]
    registry.join("c2", "lobby")
    log.take()
    assert len(registry.room_members("lobby")) == 2
    assert log.take() == ["Query", "BatchGetItem"]
    assert len([m for page in registry.group_pages("room", "lobby") for m in page]) == 2
    assert log.take() == ["Query"]  # ids-only: the index alone
    registry.rooms_of("c1")
    assert log.take() == ["GetItem"]
    registry.leave("c1", "lobby")
    assert log.take() == ["UpdateItem", "DeleteItem"]
    registry.subscribe("c2", "news")
    log.take()
    assert registry.delete("c2") is True
    assert log.take() == ["DeleteItem", "BatchWriteItem"]
    assert registry.delete("c3") is True
    assert log.take() == ["DeleteItem"]
    assert registry.delete_many([f"c{n}" for n in range(4, 30)]) == 26
    assert log.take() == ["BatchGetItem", "BatchWriteItem", "BatchWriteItem"]
    per_read = {
        "all": lambda: list(registry.all()),
        "count": registry.count,
        "active_since": lambda: list(registry.active_since(0)),
        "cleanup": registry.cleanup,
    }
    for name, read in per_read.items():
        read()
        assert set(log.take()) == {"Scan"}, name


def test_only_whole_table_reads_scan(counted: tuple[DynamoDBRegistry, RequestLog]) -> None:
    registry, log = counted
    registry.store("c1", user_id="u")
    registry.join("c1", "r")
    registry.subscribe("c1", "t")
    registry.get("c1")
    registry.by_user("u")
    registry.room_members("r")
    registry.subscribers("t")
    registry.topics_of("c1")
    registry.update("c1", user_id="v")
    registry.unsubscribe("c1", "t")
    registry.delete_many(["c1"])
    assert "Scan" not in log.take()


def test_pages_are_read_one_request_each(server: LocalServer) -> None:
    client = make_client(server)
    registry = DynamoDBRegistry(table_name(), client=client, scan_page_size=10)
    registry.create_table()
    try:
        for n in range(35):
            registry.store(f"c{n:02d}")
        log = RequestLog(client)
        assert len(list(registry.all())) == 35
        assert log.take().count("Scan") >= 4
    finally:
        registry.delete_table()
        client.close()


def test_table_design(counted: tuple[DynamoDBRegistry, RequestLog], server: LocalServer) -> None:
    registry, _ = counted
    table = registry.client.describe_table(TableName=registry.table_name)["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {
        "connectionId": "HASH",
        "sk": "RANGE",
    }
    indexes = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert indexes["byUser"]["KeySchema"][0]["AttributeName"] == "userId"
    assert indexes["byUser"]["Projection"]["ProjectionType"] == "ALL"
    assert indexes["byGroup"]["KeySchema"][0]["AttributeName"] == "groupKey"
    registry.store("c1", user_id="u", metadata={"f": 1.5, "ok": True, "none": None})
    registry.join("c1", "lobby")
    items = registry.client.scan(TableName=registry.table_name, ConsistentRead=True)["Items"]
    by_sort = {item["sk"]["S"]: item for item in items}
    assert set(by_sort) == {"connection", "room#lobby"}
    record = by_sort["connection"]
    assert record["expiresAt"].keys() == {"N"}  # top-level Number: what TTL needs
    assert record["metadata"]["M"]["f"] == {"N": "1.5"}
    assert record["rooms"] == {"SS": ["lobby"]}
    membership = by_sort["room#lobby"]
    assert membership["groupKey"] == {"S": "room#lobby"}
    assert membership["expiresAt"] == record["expiresAt"] or int(
        membership["expiresAt"]["N"]
    ) >= int(record["expiresAt"]["N"])
    assert "userId" not in membership  # keeps the byUser index sparse


# dynalite has no UpdateTimeToLive/DescribeTimeToLive: moto only.
@pytest.mark.parametrize("server", ["moto"], indirect=True)
def test_ttl_is_enabled_where_supported(server: LocalServer) -> None:
    assert server.supports_ttl
    client = make_client(server)
    registry = DynamoDBRegistry(table_name(), client=client)
    registry.create_table()
    try:
        ttl = client.describe_time_to_live(TableName=registry.table_name)
        description = ttl["TimeToLiveDescription"]
        assert description["TimeToLiveStatus"] == "ENABLED"
        assert description["AttributeName"] == "expiresAt"
    finally:
        registry.delete_table()
        client.close()


def test_dangling_membership_is_never_returned_and_cleanup_removes_it(
    counted: tuple[DynamoDBRegistry, RequestLog],
) -> None:
    registry, _ = counted
    # What a process that died between the two writes of join() leaves behind.
    registry.client.put_item(
        TableName=registry.table_name,
        Item={
            "connectionId": {"S": "dead"},
            "sk": {"S": "room#lobby"},
            "groupKey": {"S": "room#lobby"},
            "expiresAt": {"N": str(int(time.time()) - 10)},
        },
    )
    registry.store("alive")
    registry.join("alive", "lobby")
    assert [c.connection_id for c in registry.room_members("lobby")] == ["alive"]
    assert registry.cleanup() == 0
    keys = registry.client.scan(TableName=registry.table_name, ConsistentRead=True)["Items"]
    assert {(k["connectionId"]["S"], k["sk"]["S"]) for k in keys} == {
        ("alive", "connection"),
        ("alive", "room#lobby"),
    }


def test_extending_expiry_moves_membership_expiry(
    counted: tuple[DynamoDBRegistry, RequestLog],
) -> None:
    registry, _ = counted
    registry.store("c1")
    registry.join("c1", "lobby")
    later = int(time.time()) + 50_000
    registry.update("c1", expires_at=later)
    item = registry.client.get_item(
        TableName=registry.table_name,
        Key={"connectionId": {"S": "c1"}, "sk": {"S": "room#lobby"}},
    )["Item"]
    assert int(item["expiresAt"]["N"]) == later


def test_custom_layout(server: LocalServer) -> None:
    client = make_client(server)
    layout = TableLayout(
        connection_id="pk",
        sort_key="kind",
        user_id="owner",
        expires_at="ttl",
        group="grp",
        by_user_index="owners",
        by_group_index="groups",
    )
    registry = DynamoDBRegistry(table_name(), client=client, layout=layout)
    registry.create_table()
    try:
        registry.store("c1", user_id="u")
        registry.join("c1", "r")
        assert [c.connection_id for c in registry.by_user("u")] == ["c1"]
        assert [c.connection_id for c in registry.room_members("r")] == ["c1"]
        item = client.get_item(
            TableName=registry.table_name, Key={"pk": {"S": "c1"}, "kind": {"S": "connection"}}
        )["Item"]
        assert {"pk", "kind", "owner", "ttl", "rooms"} <= set(item)
        assert registry.delete("c1") is True
        assert registry.room_members("r") == []
    finally:
        registry.delete_table()
        client.close()


def test_missing_table_is_registry_unavailable(dynalite_server: LocalServer) -> None:
    client = make_client(dynalite_server)
    registry = DynamoDBRegistry("no-such-table", client=client)
    with pytest.raises(RegistryUnavailable, match="ResourceNotFoundException"):
        registry.get("c1")
    with pytest.raises(RegistryUnavailable):
        registry.store("c1")
    client.close()


def test_unreachable_server_is_registry_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    closed = free_port()  # nothing listens there
    registry = open_registry(
        f"dynamodb://t?endpoint_url=http://127.0.0.1:{closed}&region=us-east-1"
    )
    assert isinstance(registry, DynamoDBRegistry)
    try:
        with pytest.raises(RegistryUnavailable, match=r"GetItem|get_item"):
            registry.get("c1")
    finally:
        registry.close()


# moto_server does not enforce the 400 KB item limit on UpdateItem: dynalite only.
@pytest.mark.parametrize("server", ["dynalite"], indirect=True)
def test_oversized_item_is_invalid_record(counted: tuple[DynamoDBRegistry, RequestLog]) -> None:
    registry, _ = counted
    registry.store("c1", metadata={"k0": "x" * 60_000})
    stored = 1
    with pytest.raises(InvalidRecordError):
        for n in range(1, 10):  # DynamoDB's 400 KB item limit falls within 7 merges
            registry.update("c1", metadata={f"k{n}": "y" * 60_000}, merge_metadata=True)
            stored += 1
    got = registry.get("c1")
    assert got is not None and len(got.metadata) == stored
    assert registry.update("c1", metadata={"small": 1}).metadata == {"small": 1}


def test_malformed_item_is_a_registry_error(counted: tuple[DynamoDBRegistry, RequestLog]) -> None:
    registry, _ = counted
    registry.client.put_item(
        TableName=registry.table_name,
        Item={"connectionId": {"S": "odd"}, "sk": {"S": "connection"}, "expiresAt": {"S": "x"}},
    )
    with pytest.raises(RegistryError, match="malformed"):
        registry.get("odd")


class FlakyBatchClient:
    """A recording stand-in for BatchWriteItem's one behaviour no local server produces:
    handing back part of a batch as UnprocessedItems (throttling)."""

    def __init__(self, unprocessed_rounds: int) -> None:
        self.calls: list[int] = []
        self.rounds = unprocessed_rounds

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        ((table, requests),) = RequestItems.items()
        self.calls.append(len(requests))
        if self.rounds > 0 and len(requests) > 1:
            self.rounds -= 1
            return {"UnprocessedItems": {table: requests[len(requests) // 2 :]}}
        return {"UnprocessedItems": {}}


def test_batch_delete_chunks_by_25_and_retries_unprocessed() -> None:
    client = FlakyBatchClient(unprocessed_rounds=2)
    keys = [{"connectionId": {"S": f"c{n}"}, "sk": {"S": "connection"}} for n in range(60)]
    batch_delete(client, "t", keys + keys[:5], max_attempts=5)
    # 25 -> 13 unprocessed -> 7 unprocessed -> done; then 25; then 10.
    assert client.calls == [25, 13, 7, 25, 10]


def test_batch_delete_gives_up_after_max_attempts() -> None:
    client = FlakyBatchClient(unprocessed_rounds=100)
    keys = [{"connectionId": {"S": f"c{n}"}, "sk": {"S": "connection"}} for n in range(8)]
    with pytest.raises(RegistryUnavailable, match="unprocessed"):
        batch_delete(client, "t", keys, max_attempts=3)
    assert len(client.calls) == 3


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -7, 12345678901234, 1.5, 1e-05, "", "text", [1, "a", None], {"m": {}}],
)
def test_attribute_values_round_trip(value: Any) -> None:
    assert decode_value(encode_value(value)) == value


def test_open_registry_builds_its_own_client(
    dynalite_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynalite_server.endpoint_url)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    name = table_name()
    registry = open_registry(f"dynamodb://{name}?ttl=60")
    assert isinstance(registry, DynamoDBRegistry) and registry.ttl == 60
    registry.create_table()
    try:
        stored = registry.store("c1")
        assert stored.expires_at <= time.time() + 61
        assert registry.get("c1") == stored
    finally:
        registry.delete_table()
        registry.close()
