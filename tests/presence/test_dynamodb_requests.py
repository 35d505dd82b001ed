"""DynamoDB requests of presence, counted at a real dynalite and moto_server through botocore's
``before-call`` hook: heartbeats write at most once per interval, nothing ever scans."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support.dynamodb import RequestLog
from wsgate.presence import Presence
from wsgate.registry.dynamodb import DynamoDBRegistry
from wsgate.sender import Sender
from wsgate.testing.servers import LocalServer

from .conftest import make_client, table_name

pytestmark = pytest.mark.dynamodb


class NullTransport:
    """Accepts every post (the frames are not what these tests count)."""

    async def post(self, endpoint: str, connection_id: str, data: bytes) -> None:
        return None

    async def get(self, endpoint: str, connection_id: str) -> Any:
        raise NotImplementedError

    async def delete(self, endpoint: str, connection_id: str) -> None:
        return None


@pytest.fixture(params=["dynalite", "moto"])
def counted(request: pytest.FixtureRequest) -> Iterator[tuple[DynamoDBRegistry, RequestLog]]:
    server: LocalServer = request.getfixturevalue(
        f"{request.param}_server".replace("moto_server", "moto_server")
    )
    client = make_client(server)
    registry = DynamoDBRegistry(table_name(), client=client)
    registry.create_table()
    yield registry, RequestLog(client)
    registry.delete_table()
    client.close()


def _presence(registry: DynamoDBRegistry, **options: Any) -> Presence:
    sender = Sender("http://127.0.0.1:9/local", transport=NullTransport(), registry=registry)
    return Presence(registry=registry, sender=sender, **options)


def test_heartbeats_write_once_per_interval(counted: tuple[DynamoDBRegistry, RequestLog]) -> None:
    registry, log = counted
    presence = _presence(registry, heartbeat=30.0)
    registry.store("c1", user_id="ann")
    presence.enter("c1", "lobby")
    log.take()
    start = registry.get("c1").last_activity
    log.take()
    # 30 heartbeats one second apart: one write when the interval has passed, none between.
    for second in range(30):
        presence.alive("c1", start + 31 + second)
    assert log.take() == ["UpdateItem"]
    assert registry.get("c1").last_activity == pytest.approx(start + 31)
    log.take()
    presence.alive("c1", start + 62)  # the next interval
    assert log.take() == ["UpdateItem"]


def test_a_second_process_adds_at_most_one_conditional_request_per_interval(
    counted: tuple[DynamoDBRegistry, RequestLog],
) -> None:
    registry, log = counted
    # Another Lambda container: its own registry object (own caches) on the same table.
    other = DynamoDBRegistry(registry.table_name, client=registry.client)
    one, two = _presence(registry, heartbeat=30.0), _presence(other, heartbeat=30.0)
    registry.store("c1")
    start = registry.get("c1").last_activity
    log.take()
    assert one.alive("c1", start + 31) is True
    # The other container's first heartbeat is refused by the table's condition (no second
    # write), then it too stays quiet for the interval.
    assert two.alive("c1", start + 32) is False
    for second in range(10):
        two.alive("c1", start + 33 + second)
    assert log.take() == ["UpdateItem", "UpdateItem"]
    assert registry.get("c1").last_activity == pytest.approx(start + 31)


def test_requests_per_operation_are_bounded_and_never_scan(
    counted: tuple[DynamoDBRegistry, RequestLog],
) -> None:
    registry, log = counted
    presence = _presence(registry)
    for cid, user in (("c1", "ann"), ("c2", "ann"), ("c3", "bob")):
        registry.store(cid, user_id=user)
    log.take()
    presence.enter("c1", "lobby")
    # GetItem; 2 joins (GetItem+PutItem+UpdateItem each: the membership copies the record's
    # endpoint and expiry); a metadata merge (GetItem + UpdateItem); then the room's members
    # (Query + BatchGetItem), read after the writes so concurrent entries see each other.
    first = log.take()
    join = ["GetItem", "PutItem", "UpdateItem"]
    merge = ["GetItem", "UpdateItem"]
    assert first == ["GetItem", *join, *join, *merge, "Query", "BatchGetItem"]
    presence.enter("c2", "lobby")
    presence.enter("c3", "lobby")
    log.take()
    presence.leave("c2", "lobby")
    leave = log.take()
    # GetItem; 2 leaves (UpdateItem + DeleteItem each); then the room's members.
    withdraw = ["UpdateItem", "DeleteItem", "UpdateItem", "DeleteItem"]
    assert leave == ["GetItem", *withdraw, "Query", "BatchGetItem"]
    presence.update("c1", "lobby", {"status": "away"})
    # The room (to find the user's connections), 1 merge per connection, the room again.
    update = log.take()
    assert update == ["Query", "BatchGetItem", "GetItem", "UpdateItem", "Query", "BatchGetItem"]
    presence.members("lobby")
    assert log.take() == ["Query", "BatchGetItem"]
    presence.sweep()
    assert log.take() == ["Query", "BatchGetItem"]  # nothing stale: reads only
    for op in first + leave + update:
        assert op != "Scan"


def test_messages_right_after_connect_make_no_request(
    counted: tuple[DynamoDBRegistry, RequestLog],
) -> None:
    registry, log = counted
    presence = _presence(registry, heartbeat=30.0)
    registry.store("c1")  # what $connect does
    presence.connected("c1")  # what the middleware then notes
    start = registry.get("c1").last_activity
    log.take()
    for second in range(25):
        presence.alive("c1", start + second)
    assert log.take() == []
    assert presence.alive("c1", start + 31) is True
    assert log.take() == ["UpdateItem"]
