"""A delivery store in DynamoDB: a table of its own beside the connection table.

Layout (see ``docs/delivery.md`` for the reasoning and the cost per operation)::

    pk                 sk                      item
    s#<stream>         #head                   seq (the stream's counter)
    s#<stream>         m#<seq, 16 digits>      one buffered message: id, data, createdAt, expiresAt
    p#<connection>     <stream>#<seq, 16 d.>   one pending ack: attempts, dueAt, dueShard, expiresAt
    i#<scope>          <ack id>                one ack id: status, reason, leaseUntil, expiresAt

    GSI byDue: dueShard (HASH, "d#0" … "d#N-1") + dueAt (RANGE, N), projection ALL

``expiresAt`` is the table's TTL attribute (epoch seconds); every read filters it in code,
because TTL deletion lags (docs/aws-behaviour.md §8). The client (wsgate's stdlib DynamoDB
client by default, or boto3's) is injected or built lazily.
"""

from __future__ import annotations

import contextlib
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wsgate.aws.dynamodb import error_code, make_client, service_errors
from wsgate.delivery.store import BufferedMessage, Claim, ClaimState, Pending, StreamSlice, chunks
from wsgate.exceptions import RegistryUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

__all__ = ["DynamoDBDeliveryStore"]

_HEAD = "#head"
_Item = dict[str, Any]


def _seq_key(seq: int) -> str:
    return f"{seq:016d}"


class DynamoDBDeliveryStore:
    """Delivery state in a DynamoDB table (create it with :meth:`create_table` or a template).

    Args:
        table_name: The delivery table (e.g. ``"Connections-delivery"``).
        client: A DynamoDB client object (boto3's or wsgate's), or which one to build on
            first use: ``"stdlib"`` (the default) or ``"boto3"``; ``None`` reads
            ``WSGATE_DYNAMODB_CLIENT`` (``AWS_ENDPOINT_URL_DYNAMODB`` points either at
            dynalite or moto).
        due_shards: How many GSI partitions pending acks spread over (more shards: more write
            throughput for the index, one more Query per sweep each).

    Raises:
        RegistryUnavailable: From every method, when DynamoDB refuses or cannot be reached.
    """

    def __init__(
        self, table_name: str, *, client: DynamoDBClient | str | None = None, due_shards: int = 4
    ) -> None:
        if due_shards < 1:
            raise ValueError("due_shards must be at least 1")
        self.table_name = table_name
        self.due_shards = due_shards
        self._client: Any = None if client is None or isinstance(client, str) else client
        self._client_kind = client if isinstance(client, str) else None
        self._owns_client = self._client is None

    @property
    def client(self) -> DynamoDBClient:
        """The DynamoDB client, built on first use."""
        if self._client is None:
            self._client = make_client(self._client_kind)
        client: DynamoDBClient = self._client
        return client

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(TableName=self.table_name, **kwargs)
        except service_errors() as exc:
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                raise
            label = f"{code}: " if code else ""
            raise RegistryUnavailable(f"DynamoDB {self.table_name}: {label}{exc}") from exc

    def _conditional(self, method: Callable[..., Any], **kwargs: Any) -> bool:
        try:
            self._call(method, **kwargs)
        except service_errors() as exc:
            if error_code(exc) != "ConditionalCheckFailedException":  # pragma: no cover
                raise
            return False
        return True

    def create_table(self, *, wait: bool = True) -> None:
        """Create the table (on-demand billing), its ``byDue`` index and TTL on ``expiresAt``.

        Call once at deploy or test setup. Does nothing when the table exists.

        Raises:
            RegistryUnavailable: DynamoDB refused.
        """
        try:
            self.client.create_table(
                TableName=self.table_name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                    {"AttributeName": "dueShard", "AttributeType": "S"},
                    {"AttributeName": "dueAt", "AttributeType": "N"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "byDue",
                        "KeySchema": [
                            {"AttributeName": "dueShard", "KeyType": "HASH"},
                            {"AttributeName": "dueAt", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            )
        except service_errors() as exc:
            if error_code(exc) != "ResourceInUseException":
                raise RegistryUnavailable(f"cannot create {self.table_name}: {exc}") from exc
            return
        if wait:
            self.client.get_waiter("table_exists").wait(
                TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
        # dynalite has no TTL API; every read filters expiresAt anyway.
        with contextlib.suppress(*service_errors()):
            self.client.update_time_to_live(
                TableName=self.table_name,
                TimeToLiveSpecification={"AttributeName": "expiresAt", "Enabled": True},
            )

    # --- streams and the replay buffer ---------------------------------------------------

    def append(
        self, stream: str, message_id: str, data: str, *, now: float, ttl: int, max_len: int
    ) -> BufferedMessage:
        answer = self._call(
            self.client.update_item,
            Key={"pk": {"S": f"s#{stream}"}, "sk": {"S": _HEAD}},
            UpdateExpression="ADD #seq :one",
            ExpressionAttributeNames={"#seq": "seq"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        seq = int(answer["Attributes"]["seq"]["N"])
        message = BufferedMessage(stream, seq, message_id, data, now, int(now + ttl))
        self._call(
            self.client.put_item,
            Item={
                "pk": {"S": f"s#{stream}"},
                "sk": {"S": f"m#{_seq_key(seq)}"},
                "id": {"S": message_id},
                "data": {"S": data},
                "createdAt": {"N": repr(now)},
                "expiresAt": {"N": str(message.expires_at)},
            },
        )
        return message

    def latest(self, stream: str) -> int:
        answer = self._call(
            self.client.get_item,
            Key={"pk": {"S": f"s#{stream}"}, "sk": {"S": _HEAD}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return int(item["seq"]["N"]) if item else 0

    def read_after(
        self, stream: str, after: int, *, now: float, limit: int, max_len: int
    ) -> StreamSlice:
        latest = self.latest(stream)
        start = max(after, latest - max_len) + 1
        if start > latest or limit <= 0:
            return StreamSlice(latest, [])
        messages: list[BufferedMessage] = []
        for item in self._query(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": f"s#{stream}"},
                ":lo": {"S": f"m#{_seq_key(start)}"},
                ":hi": {"S": f"m#{_seq_key(latest)}"},
            },
            ConsistentRead=True,
            Limit=min(limit, 1000),
        ):
            message = _message(stream, item)
            if message.expires_at > now:
                messages.append(message)
                if len(messages) >= limit:
                    break
        return StreamSlice(latest, messages)

    def get_message(self, stream: str, seq: int, *, now: float) -> BufferedMessage | None:
        answer = self._call(
            self.client.get_item,
            Key={"pk": {"S": f"s#{stream}"}, "sk": {"S": f"m#{_seq_key(seq)}"}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if not item:
            return None
        message = _message(stream, item)
        return message if message.expires_at > now else None

    # --- pending acks ----------------------------------------------------------------------

    def _shard(self, connection_id: str) -> str:
        return f"d#{zlib.crc32(connection_id.encode()) % self.due_shards}"

    def _pending_item(self, entry: Pending) -> _Item:
        return {
            "pk": {"S": f"p#{entry.connection_id}"},
            "sk": {"S": f"{entry.stream}#{_seq_key(entry.seq)}"},
            "connectionId": {"S": entry.connection_id},
            "stream": {"S": entry.stream},
            "seq": {"N": str(entry.seq)},
            "attempts": {"N": str(entry.attempts)},
            "dueAt": {"N": repr(entry.due_at)},
            "dueShard": {"S": self._shard(entry.connection_id)},
            "expiresAt": {"N": str(entry.expires_at)},
        }

    def add_pending(self, entries: Sequence[Pending]) -> None:
        self._batch_write([{"PutRequest": {"Item": self._pending_item(e)}} for e in entries])

    def ack(self, connection_id: str, stream: str, seq: int) -> int:
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self._query(
                KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                ExpressionAttributeValues={
                    ":pk": {"S": f"p#{connection_id}"},
                    ":lo": {"S": f"{stream}#{_seq_key(0)}"},
                    ":hi": {"S": f"{stream}#{_seq_key(seq)}"},
                },
                ProjectionExpression="pk, sk",
                ConsistentRead=True,  # sees pending acks written just before
            )
        ]
        self._batch_write([{"DeleteRequest": {"Key": key}} for key in keys])
        return len(keys)

    def pending_of(self, connection_id: str) -> list[Pending]:
        items = self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"p#{connection_id}"}},
            ConsistentRead=True,
        )
        return [_pending(item) for item in items]

    def due(self, now: float, limit: int) -> list[Pending]:
        found: list[Pending] = []
        for shard in range(self.due_shards):
            for taken, item in enumerate(
                self._query(
                    IndexName="byDue",
                    KeyConditionExpression="dueShard = :shard AND dueAt <= :now",
                    ExpressionAttributeValues={
                        ":shard": {"S": f"d#{shard}"},
                        ":now": {"N": repr(now)},
                    },
                    Limit=min(limit, 1000),
                ),
                start=1,
            ):
                found.append(_pending(item))
                if taken >= limit:
                    break
        found.sort(key=lambda p: (p.due_at, p.connection_id, p.stream, p.seq))
        return found[:limit]

    def reschedule(self, entry: Pending, *, attempts: int, due_at: float) -> bool:
        return self._conditional(
            self.client.update_item,
            Key={
                "pk": {"S": f"p#{entry.connection_id}"},
                "sk": {"S": f"{entry.stream}#{_seq_key(entry.seq)}"},
            },
            UpdateExpression="SET attempts = :new, dueAt = :due",
            ConditionExpression="attempts = :old",
            ExpressionAttributeValues={
                ":new": {"N": str(attempts)},
                ":due": {"N": repr(due_at)},
                ":old": {"N": str(entry.attempts)},
            },
        )

    def remove_pending(self, connection_id: str, stream: str, seq: int) -> bool:
        answer = self._call(
            self.client.delete_item,
            Key={"pk": {"S": f"p#{connection_id}"}, "sk": {"S": f"{stream}#{_seq_key(seq)}"}},
            ReturnValues="ALL_OLD",
        )
        return bool(answer.get("Attributes"))

    def drop_connection(self, connection_id: str) -> list[Pending]:
        entries = self.pending_of(connection_id)
        self._batch_write(
            [
                {
                    "DeleteRequest": {
                        "Key": {
                            "pk": {"S": f"p#{e.connection_id}"},
                            "sk": {"S": f"{e.stream}#{_seq_key(e.seq)}"},
                        }
                    }
                }
                for e in entries
            ]
        )
        return entries

    # --- ack ids ---------------------------------------------------------------------------

    def claim(self, scope: str, key: str, *, now: float, lease: float, ttl: int) -> Claim:
        item_key = {"pk": {"S": f"i#{scope}"}, "sk": {"S": key}}
        claimed = self._conditional(
            self.client.put_item,
            Item={
                **item_key,
                "leaseUntil": {"N": repr(now + lease)},
                "expiresAt": {"N": str(int(now + ttl))},
            },
            ConditionExpression=(
                "attribute_not_exists(pk) OR expiresAt <= :now "
                "OR (attribute_not_exists(#st) AND leaseUntil <= :now)"
            ),
            ExpressionAttributeNames={"#st": "status"},
            ExpressionAttributeValues={":now": {"N": repr(now)}},
        )
        if claimed:
            return Claim(ClaimState.NEW)
        answer = self._call(self.client.get_item, Key=item_key, ConsistentRead=True)
        item = answer.get("Item") or {}
        if "status" in item:
            reason = item.get("reason", {}).get("S")
            return Claim(ClaimState.DONE, item["status"]["S"], reason)
        return Claim(ClaimState.IN_PROGRESS)

    def complete(
        self, scope: str, key: str, status: str, reason: str | None, *, now: float, ttl: int
    ) -> None:
        item: _Item = {
            "pk": {"S": f"i#{scope}"},
            "sk": {"S": key},
            "status": {"S": status},
            "leaseUntil": {"N": repr(now)},
            "expiresAt": {"N": str(int(now + ttl))},
        }
        if reason:
            item["reason"] = {"S": reason}
        self._call(self.client.put_item, Item=item)

    def release(self, scope: str, key: str) -> None:
        self._call(self.client.delete_item, Key={"pk": {"S": f"i#{scope}"}, "sk": {"S": key}})

    def close(self) -> None:
        """Closes the client this store built (an injected client belongs to the caller)."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    # --- helpers ---------------------------------------------------------------------------

    def _query(self, **kwargs: Any) -> Iterator[_Item]:
        while True:
            page = self._call(self.client.query, **kwargs)
            yield from page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _batch_write(self, requests: list[dict[str, Any]], *, max_rounds: int = 8) -> None:
        for batch in chunks(requests, 25):  # type: ignore[arg-type]
            todo: Mapping[str, Any] = {self.table_name: batch}
            for attempt in range(max_rounds):
                answer = self._unbound(self.client.batch_write_item, RequestItems=todo)
                todo = answer.get("UnprocessedItems") or {}
                if not todo:
                    break
                time.sleep(min(1.0, 0.025 * 2**attempt))
            else:
                raise RegistryUnavailable(
                    f"DynamoDB {self.table_name}: writes unprocessed after {max_rounds} rounds"
                )

    def _unbound(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return method(**kwargs)
        except service_errors() as exc:
            raise RegistryUnavailable(f"DynamoDB {self.table_name}: {exc}") from exc


def _message(stream: str, item: Mapping[str, Any]) -> BufferedMessage:
    return BufferedMessage(
        stream=stream,
        seq=int(item["sk"]["S"][2:]),
        message_id=item["id"]["S"],
        data=item["data"]["S"],
        created_at=float(item["createdAt"]["N"]),
        expires_at=int(item["expiresAt"]["N"]),
    )


def _pending(item: Mapping[str, Any]) -> Pending:
    return Pending(
        connection_id=item["connectionId"]["S"],
        stream=item["stream"]["S"],
        seq=int(item["seq"]["N"]),
        attempts=int(item["attempts"]["N"]),
        due_at=float(item["dueAt"]["N"]),
        expires_at=int(item["expiresAt"]["N"]),
    )
