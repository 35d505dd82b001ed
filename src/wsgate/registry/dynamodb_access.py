"""The DynamoDB registry's requests to one table: updates, batches, queries and scans."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping

from wsgate.registry.base import Connection
from wsgate.registry.dynamodb_items import (
    ConditionFailed,
    batch_delete,
    batch_get,
    call,
    encode_value,
)
from wsgate.registry.dynamodb_scan import parallel_scan
from wsgate.registry.dynamodb_table import TableCodec

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["TableAccess"]


class TableAccess:
    """Sends the registry's requests to one table, building keys and expressions with a codec.

    Args:
        client: Returns the boto3 client (built lazily by the registry).
        codec: Keys, expression names/values and record decoding for the table's layout.
        scan_page_size: ``Limit`` of each Scan page (``None``: DynamoDB's 1 MB pages).
        scan_segments: Parallel Scan segments.
        max_batch_attempts: Tries of a batch whose items keep coming back unprocessed.
    """

    def __init__(
        self,
        client: Callable[[], Any],
        codec: TableCodec,
        *,
        scan_page_size: int | None,
        scan_segments: int,
        max_batch_attempts: int,
    ) -> None:
        self._client = client
        self.codec = codec
        self.table_name = codec.table_name
        self.scan_page_size = scan_page_size
        self.scan_segments = max(1, scan_segments)
        self.max_batch_attempts = max(1, max_batch_attempts)

    def call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        """One request on this table (see :func:`~wsgate.registry.dynamodb_items.call`)."""
        return call(self._client(), operation, TableName=self.table_name, **kwargs)

    def update(
        self,
        connection_id: str,
        sets: Mapping[str, Any],
        removes: Iterable[str],
        condition: str,
        now: float,
        extra_names: Mapping[str, str] | None = None,
        condition_values: Mapping[str, Any] | None = None,
    ) -> Connection:
        """A conditional UpdateItem of a connection item, returning the new record.

        ``condition_values`` are attribute values (already in DynamoDB's form) the condition
        refers to, e.g. ``{":old": item["metadata"]}``.

        Raises:
            ConditionFailed: ``condition`` was false.
        """
        values: dict[str, Any] = dict(condition_values or {})
        assignments = []
        for index, (path, value) in enumerate(sets.items()):
            values[f":v{index}"] = encode_value(value)
            assignments.append(f"{path} = :v{index}")
        expression = "SET " + ", ".join(assignments) if assignments else ""
        removed = list(removes)
        if removed:
            expression += " REMOVE " + ", ".join(removed)
        answer = self.call(
            "update_item",
            Key=self.codec.key(connection_id),
            UpdateExpression=expression.strip(),
            ConditionExpression=condition,
            ExpressionAttributeNames={
                **self.codec.names_in(expression, condition),
                **(extra_names or {}),
            },
            ExpressionAttributeValues=self.codec.values_in(values, expression, condition, now=now),
            ReturnValues="ALL_NEW",
        )
        return self.codec.record(answer["Attributes"])

    def refresh(
        self, keys: Iterable[dict[str, Any]], expires_at: int, endpoint: str | None
    ) -> None:
        """Copy the record's expiry and endpoint onto existing membership items.

        The group index projects both, so an ids-only lookup needs nothing else.
        """
        expression = "SET #ex = :ex, #ep = :ep" if endpoint else "SET #ex = :ex REMOVE #ep"
        values: dict[str, Any] = {":ex": encode_value(expires_at)}
        if endpoint:
            values[":ep"] = {"S": endpoint}
        for key in keys:
            try:
                self.call(
                    "update_item",
                    Key=key,
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(#pk)",
                    ExpressionAttributeNames=self.codec.names_in("#ex #pk #ep"),
                    ExpressionAttributeValues=values,
                )
            except ConditionFailed:
                continue

    def query_pages(self, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The pages of one Query, each requested when the previous one has been used."""
        request = dict(request, TableName=self.table_name)
        while True:
            page = call(self._client(), "query", **request)
            yield page
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last

    def batch_delete(self, keys: list[dict[str, Any]]) -> None:
        """Delete items with BatchWriteItem, 25 at a time, retrying unprocessed ones."""
        if keys:
            batch_delete(self._client(), self.table_name, keys, self.max_batch_attempts)

    def batch_get(self, connection_ids: list[str]) -> list[Connection]:
        """Consistent reads of connection items, 100 per BatchGetItem (missing ids skipped)."""
        if not connection_ids:
            return []
        keys = [self.codec.key(cid) for cid in connection_ids]
        items = batch_get(self._client(), self.table_name, keys, self.max_batch_attempts)
        return [self.codec.record(item) for item in items]

    def query(
        self,
        index: str,
        key_condition: str,
        values: Mapping[str, Any],
        *,
        filter_expression: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of a Query on ``index``, following pages."""
        expressions = [key_condition] + ([filter_expression] if filter_expression else [])
        request: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeNames": self.codec.names_in(*expressions),
            "ExpressionAttributeValues": self.codec.values_in(values, *expressions),
        }
        if filter_expression:
            request["FilterExpression"] = filter_expression
        items: list[dict[str, Any]] = []
        while True:
            page = self.call("query", **request)
            items.extend(page.get("Items", []))
            last = page.get("LastEvaluatedKey")
            if not last:
                return items
            request["ExclusiveStartKey"] = last

    def scan(
        self, filter_expression: str, values: Mapping[str, Any], *, select_count: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Consistent Scan pages matching ``filter_expression`` (parallel when configured)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": filter_expression,
            "ExpressionAttributeNames": self.codec.names_in(filter_expression),
            "ExpressionAttributeValues": self.codec.values_in(values, filter_expression),
            "ConsistentRead": True,
        }
        if self.scan_page_size:
            request["Limit"] = self.scan_page_size
        if select_count:
            request["Select"] = "COUNT"
        return parallel_scan(self._client(), request, self.scan_segments)

    def scan_records(
        self, filter_expression: str, values: Mapping[str, Any]
    ) -> Iterator[Connection]:
        """Records of the connection items a Scan finds, streamed page by page."""
        for page in self.scan(filter_expression, values):
            for item in page.get("Items", []):
                yield self.codec.record(item)
