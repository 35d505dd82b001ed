"""The DynamoDB registry's table: attribute names, item encoding, and table creation."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Mapping

from wsgate.aws.dynamodb import service_errors
from wsgate.aws.record import Record
from wsgate.exceptions import RegistryError, RegistryUnavailable
from wsgate.registry.base import Connection
from wsgate.registry.dynamodb_items import call, decode_map, encode_value

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["TableCodec", "TableLayout", "create_table"]


class TableLayout(Record):
    """Attribute and index names of the connection table; change any to match your table.

    ``metadata_revision``: a fresh token on every metadata write: a metadata merge writes only
    if it is unchanged.
    """

    __slots__ = (
        "by_group_index",
        "by_user_index",
        "connected_at",
        "connection_id",
        "endpoint",
        "expires_at",
        "group",
        "last_activity",
        "metadata",
        "metadata_revision",
        "record_sort_value",
        "rooms",
        "sort_key",
        "topics",
        "user_id",
    )
    __match_args__ = (
        "connection_id",
        "sort_key",
        "user_id",
        "connected_at",
        "last_activity",
        "metadata",
        "metadata_revision",
        "expires_at",
        "endpoint",
        "rooms",
        "topics",
        "group",
        "by_user_index",
        "by_group_index",
        "record_sort_value",
    )

    connection_id: str
    sort_key: str
    user_id: str
    connected_at: str
    last_activity: str
    metadata: str
    metadata_revision: str
    expires_at: str
    endpoint: str
    rooms: str
    topics: str
    group: str
    by_user_index: str
    by_group_index: str
    record_sort_value: str

    def __init__(
        self,
        connection_id: str = "connectionId",
        sort_key: str = "sk",
        user_id: str = "userId",
        connected_at: str = "connectedAt",
        last_activity: str = "lastActivity",
        metadata: str = "metadata",
        metadata_revision: str = "metadataRevision",
        expires_at: str = "expiresAt",
        endpoint: str = "endpoint",
        rooms: str = "rooms",
        topics: str = "topics",
        group: str = "groupKey",
        by_user_index: str = "byUser",
        by_group_index: str = "byGroup",
        record_sort_value: str = "connection",
    ) -> None:
        object.__setattr__(self, "connection_id", connection_id)
        object.__setattr__(self, "sort_key", sort_key)
        object.__setattr__(self, "user_id", user_id)
        object.__setattr__(self, "connected_at", connected_at)
        object.__setattr__(self, "last_activity", last_activity)
        object.__setattr__(self, "metadata", metadata)
        object.__setattr__(self, "metadata_revision", metadata_revision)
        object.__setattr__(self, "expires_at", expires_at)
        object.__setattr__(self, "endpoint", endpoint)
        object.__setattr__(self, "rooms", rooms)
        object.__setattr__(self, "topics", topics)
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "by_user_index", by_user_index)
        object.__setattr__(self, "by_group_index", by_group_index)
        object.__setattr__(self, "record_sort_value", record_sort_value)


def _whole(number: str) -> int:
    """A DynamoDB ``N`` value as an int (truncated), without ``decimal`` for plain digits."""
    if number.lstrip("-").isdigit():
        return int(number)
    from decimal import Decimal

    return int(Decimal(number))


class TableCodec:
    """Builds keys, expression names/values and records for one table layout."""

    def __init__(self, table_name: str, layout: TableLayout) -> None:
        self.table_name = table_name
        self.layout = layout
        lay = layout
        self._names = {
            "#pk": lay.connection_id,
            "#sk": lay.sort_key,
            "#u": lay.user_id,
            "#ca": lay.connected_at,
            "#la": lay.last_activity,
            "#md": lay.metadata,
            "#mr": lay.metadata_revision,
            "#ex": lay.expires_at,
            "#ep": lay.endpoint,
            "#rooms": lay.rooms,
            "#topics": lay.topics,
            "#g": lay.group,
        }

    def key(self, connection_id: str, sort_value: str | None = None) -> dict[str, Any]:
        return {
            self.layout.connection_id: {"S": connection_id},
            self.layout.sort_key: {"S": sort_value or self.layout.record_sort_value},
        }

    def membership_keys(self, record: Connection) -> list[dict[str, Any]]:
        keys = [self.key(record.connection_id, f"room#{room}") for room in record.rooms]
        keys += [self.key(record.connection_id, f"topic#{topic}") for topic in record.topics]
        return keys

    def record(self, item: Mapping[str, Any]) -> Connection:
        lay = self.layout
        try:
            return Connection(
                connection_id=item[lay.connection_id]["S"],
                user_id=item[lay.user_id]["S"] if lay.user_id in item else None,
                connected_at=float(item[lay.connected_at]["N"]),
                last_activity=float(item[lay.last_activity]["N"]),
                metadata=decode_map(item[lay.metadata]["M"]) if lay.metadata in item else {},
                expires_at=_whole(item[lay.expires_at]["N"]),
                endpoint=item[lay.endpoint]["S"] if lay.endpoint in item else None,
                rooms=frozenset(item[lay.rooms]["SS"]) if lay.rooms in item else frozenset(),
                topics=frozenset(item[lay.topics]["SS"]) if lay.topics in item else frozenset(),
            )
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise RegistryError(
                f"malformed connection item in {self.table_name!r}: {exc!r}"
            ) from None

    def names_in(self, *expressions: str) -> dict[str, str]:
        used = set(re.findall(r"#\w+", " ".join(expressions)))
        return {token: name for token, name in self._names.items() if token in used}

    def values_in(
        self, values: Mapping[str, Any], *expressions: str, now: float | None = None
    ) -> dict[str, Any]:
        used = set(re.findall(r":\w+", " ".join(expressions)))
        known = dict(values)
        known[":rec"] = {"S": self.layout.record_sort_value}
        known[":now"] = encode_value(time.time() if now is None else now)
        return {token: value for token, value in known.items() if token in used}


def create_table(
    client: Any, table_name: str, layout: TableLayout, *, wait: bool = True, ttl: bool = True
) -> None:
    """Create the connection table: key ``(connectionId, sk)``, GSIs ``byUser`` (projection
    ALL) and ``byGroup`` (keys plus ``endpoint`` and ``expiresAt``), on-demand billing; then
    enable TTL on ``expiresAt`` where the server supports it.

    Raises:
        RegistryUnavailable: The table exists already or the server refused.
    """
    lay = layout
    # Membership items carry what a broadcast needs, so an ids-only lookup reads the index
    # alone: the endpoint, and the expiry to leave dead connections out.
    projection_group = {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": [lay.endpoint, lay.expires_at],
    }
    call(
        client,
        "create_table",
        TableName=table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": lay.connection_id, "AttributeType": "S"},
            {"AttributeName": lay.sort_key, "AttributeType": "S"},
            {"AttributeName": lay.user_id, "AttributeType": "S"},
            {"AttributeName": lay.group, "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": lay.connection_id, "KeyType": "HASH"},
            {"AttributeName": lay.sort_key, "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": lay.by_user_index,
                "KeySchema": [
                    {"AttributeName": lay.user_id, "KeyType": "HASH"},
                    {"AttributeName": lay.connection_id, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": lay.by_group_index,
                "KeySchema": [
                    {"AttributeName": lay.group, "KeyType": "HASH"},
                    {"AttributeName": lay.connection_id, "KeyType": "RANGE"},
                ],
                "Projection": projection_group,
            },
        ],
    )
    if wait:
        waiter_errors: tuple[type[Exception], ...] = service_errors()
        botocore_exc = sys.modules.get("botocore.exceptions")
        if botocore_exc is not None:
            waiter_errors += (botocore_exc.WaiterError,)
        try:
            client.get_waiter("table_exists").wait(
                TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        except waiter_errors as exc:
            raise RegistryUnavailable(f"table {table_name!r} did not become active: {exc}") from exc
    if ttl:
        try:
            call(
                client,
                "update_time_to_live",
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": lay.expires_at},
            )
        except RegistryUnavailable as exc:
            if "UnknownOperation" not in str(exc):
                raise
