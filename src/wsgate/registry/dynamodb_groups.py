"""Rooms and topics in the DynamoDB registry: membership items plus sets on the connection.

A membership is a read of the record and two writes without a transaction (dynalite has
none): the membership item first (with the record's expiry and endpoint), then a conditional
ADD to the connection's set. When the connection is gone the
membership item is deleted again, so a join racing a delete leaves nothing behind; readers
also drop any membership whose connection is gone or no longer lists the group.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from wsgate.exceptions import ConnectionNotFound
from wsgate.registry.base import Connection, check_id
from wsgate.registry.dynamodb_access import TableAccess
from wsgate.registry.dynamodb_items import ConditionFailed, encode_value
from wsgate.registry.paging import Member

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["Groups"]

FIELDS: Final = {"room": "rooms", "topic": "topics"}
_LIVE: Final = "attribute_exists(#pk) AND #ex > :now"


class Groups:
    """Join, leave and list one kind of group (``"room"`` or ``"topic"``)."""

    def __init__(self, table: TableAccess, kind: str) -> None:
        self._table = table
        self._codec = table.codec
        self.kind = kind
        self._field = FIELDS[kind]
        self._token = f"#{self._field}"

    def add(self, connection_id: str, name: str, ttl: int) -> bool:
        """GetItem (eventually consistent), PutItem membership, then a conditional UpdateItem
        ADD; True when newly added.

        The membership item carries the record's expiry and endpoint, which the group index
        projects, so a broadcast's lookup reads the index alone. The read costs half a read
        unit; writing the membership blind and correcting it afterwards would cost a write.

        Raises:
            ConnectionNotFound: The connection is unknown, deleted or expired.
        """
        check_id(connection_id)
        sort_value = f"{self.kind}#{name}"
        membership = self._codec.key(connection_id, sort_value)
        layout = self._codec.layout
        seen = self._table.call("get_item", Key=self._codec.key(connection_id)).get("Item")
        current = self._codec.record(seen) if seen else None
        if current is None or current.expires_at <= time.time():
            raise ConnectionNotFound(connection_id)
        item = {
            **membership,
            layout.group: {"S": sort_value},
            layout.expires_at: encode_value(current.expires_at),
        }
        if current.endpoint:
            item[layout.endpoint] = {"S": current.endpoint}
        self._table.call("put_item", Item=item)
        try:
            answer = self._table.call(
                "update_item",
                Key=self._codec.key(connection_id),
                UpdateExpression=f"ADD {self._token} :name",
                ConditionExpression=_LIVE,
                ExpressionAttributeNames=self._codec.names_in(self._token, _LIVE),
                ExpressionAttributeValues=self._codec.values_in(
                    {":name": {"SS": [name]}}, ":name", _LIVE
                ),
                ReturnValues="ALL_OLD",
            )
        except ConditionFailed:
            # The connection is gone: take the membership back so nothing dangles.
            self._table.call("delete_item", Key=membership)
            raise ConnectionNotFound(connection_id) from None
        old = self._codec.record(answer["Attributes"])
        if (old.expires_at, old.endpoint) != (current.expires_at, current.endpoint):
            # Changed between the read and the update (or the read was stale): follow it.
            self._table.refresh([membership], old.expires_at, old.endpoint)
        return name not in getattr(old, self._field)

    def discard(self, connection_id: str, name: str) -> bool:
        """Conditional UpdateItem DELETE, then DeleteItem membership; True when it was a member."""
        check_id(connection_id)
        try:
            answer = self._table.call(
                "update_item",
                Key=self._codec.key(connection_id),
                UpdateExpression=f"DELETE {self._token} :name",
                ConditionExpression=_LIVE,
                ExpressionAttributeNames=self._codec.names_in(self._token, _LIVE),
                ExpressionAttributeValues=self._codec.values_in(
                    {":name": {"SS": [name]}}, ":name", _LIVE
                ),
                ReturnValues="UPDATED_OLD",
            )
            attribute = getattr(self._codec.layout, self._field)
            was_member = name in answer.get("Attributes", {}).get(attribute, {}).get("SS", [])
        except ConditionFailed:
            was_member = False
        self._table.call("delete_item", Key=self._codec.key(connection_id, f"{self.kind}#{name}"))
        return was_member

    def members(self, name: str) -> list[Connection]:
        """A Query on the group index, then consistent BatchGetItems of the records."""
        layout = self._codec.layout
        items = self._table.query(
            layout.by_group_index, "#g = :key", {":key": {"S": f"{self.kind}#{name}"}}
        )
        ids = [item[layout.connection_id]["S"] for item in items]
        now = time.time()
        members = [
            record
            for record in self._table.batch_get(ids)
            if record.expires_at > now and name in getattr(record, self._field)
        ]
        return sorted(members, key=lambda record: record.connection_id)

    def pages(self, name: str, page_size: int | None, after: str | None) -> Iterator[list[Member]]:
        """Ids-only pages from the group index: one Query per page, nothing else read.

        ``page_size`` is the Query's ``Limit`` (``None``: DynamoDB's 1 MB pages); expired
        memberships are filtered out by the server, so a page may hold fewer members.
        """
        layout = self._codec.layout
        group = f"{self.kind}#{name}"
        condition = "#g = :key"
        projection = "#pk, #ep"
        request: dict[str, Any] = {
            "IndexName": layout.by_group_index,
            "KeyConditionExpression": condition,
            "FilterExpression": "#ex > :now",
            "ProjectionExpression": projection,
            "ExpressionAttributeNames": self._codec.names_in(condition, "#ex", projection),
            "ExpressionAttributeValues": self._codec.values_in(
                {":key": {"S": group}}, condition, "#ex > :now", now=time.time()
            ),
        }
        if page_size is not None:
            request["Limit"] = page_size
        if after is not None:
            request["ExclusiveStartKey"] = {
                **self._codec.key(after, group),
                layout.group: {"S": group},
            }
        pk, ep = layout.connection_id, layout.endpoint
        for answer in self._table.query_pages(request):
            page = [
                Member(item[pk]["S"], item[ep]["S"] if ep in item else None)
                for item in answer.get("Items", [])
            ]
            if page:
                yield page
