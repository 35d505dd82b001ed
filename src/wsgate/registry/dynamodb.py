"""DynamoDB registry: the production backend. One table, two item types, two sparse indexes.

Table design (details and costs in ``docs/registry.md``):

* **Connection item** — key ``(connectionId, sk="connection")``: the seed's attributes
  (``userId``, ``connectedAt``, ``lastActivity``, ``metadata`` map, ``expiresAt`` TTL,
  ``endpoint``) plus string sets ``rooms`` and ``topics``, so ``get`` is one GetItem.
* **Membership item** — key ``(connectionId, sk="room#<name>" | "topic#<name>")`` with
  ``groupKey`` equal to its ``sk`` and a copy of ``expiresAt`` so TTL also collects it.
* GSI ``byUser`` (``userId`` → ``connectionId``, projection ALL): only connection items carry
  ``userId``, so it is sparse and ``by_user`` is one Query.
* GSI ``byGroup`` (``groupKey`` → ``connectionId``, keys only): only membership items carry
  ``groupKey``; ``room_members`` is one Query plus a consistent BatchGetItem per 100 members.
  The index also projects ``endpoint`` and ``expiresAt``, so ``group_pages`` (what a
  broadcast reads) is one Query per 1 MB page and nothing else.

Writes that need a live connection are conditional (``attribute_exists`` and ``expiresAt >
now``), so ``update`` never re-creates a deleted connection. ``join`` writes the membership item
*before* the conditional update of the connection and removes it again when that fails, so a
join racing a delete leaves no membership behind; readers also drop memberships whose
connection is gone. No transactions are used (dynalite has none), so every server works.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping

from wsgate.exceptions import ConfigurationError, ConnectionNotFound, RegistryUnavailable
from wsgate.registry.base import (
    DEFAULT_TOUCH_INTERVAL,
    DEFAULT_TTL,
    UNSET,
    Connection,
    Unset,
    check_id,
    check_store,
    check_timestamp,
    check_ttl,
    check_update,
    normalize_metadata,
)
from wsgate.registry.dynamodb_access import TableAccess
from wsgate.registry.dynamodb_groups import Groups
from wsgate.registry.dynamodb_items import (
    ConditionFailed,
    encode_value,
)
from wsgate.registry.dynamodb_table import TableCodec, TableLayout, create_table
from wsgate.registry.paging import Member, check_page_args

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)

if TYPE_CHECKING:
    from typing import Any, Final

    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["DynamoDBRegistry", "TableLayout"]

_TOUCH_CACHE: Final = 10_000

_UPDATE_NAMES: Final = {"user_id": "#u", "expires_at": "#ex", "endpoint": "#ep"}
"""Expression attribute names of the fields ``update`` sets or clears."""

_LIVE: Final = "attribute_exists(#pk) AND #ex > :now"
"""Condition of every update: the connection exists and has not expired."""

_MERGE_ATTEMPTS: Final = 10
"""Reads and conditional writes of one metadata merge racing other writers."""


def _revision() -> str:
    # As random as uuid4().hex, without importing uuid (which loads platform: ~5 ms cold).
    return os.urandom(16).hex()


class DynamoDBRegistry:
    """A registry in a DynamoDB table (or dynalite / moto_server / DynamoDB Local).

    Build it once per Lambda container (module level) so warm invocations reuse the client.

    Args:
        table_name: The table (``WSGATE_TABLE``). Create it with :meth:`create_table` locally,
            or from the template (``docs/registry.md`` lists the keys and indexes).
        client: A DynamoDB client object (boto3's, or wsgate's
            :class:`~wsgate.aws.dynamodb.DynamoDBClient`), or which one to build on first use:
            ``"stdlib"`` (wsgate's: no boto3 import, the default) or ``"boto3"`` (botocore's
            standard retries). ``None`` reads ``WSGATE_DYNAMODB_CLIENT``. Either honours
            ``AWS_ENDPOINT_URL_DYNAMODB`` / ``AWS_ENDPOINT_URL``.
        ttl: Default seconds until a stored connection expires.
        layout: Attribute and index names.
        region: Region for the client built here.
        endpoint_url: Endpoint for the client built here (dynalite, moto_server).
        scan_page_size: ``Limit`` of each Scan page (``None``: DynamoDB's 1 MB pages).
        scan_segments: Parallel Scan segments for ``all``/``count``/``cleanup``.
        max_batch_attempts: Tries of a BatchWriteItem/BatchGetItem whose items keep coming back
            unprocessed (exponential backoff with full jitter in between).
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: DynamoDBClient | Any = None,
        ttl: int = DEFAULT_TTL,
        layout: TableLayout | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        scan_page_size: int | None = None,
        scan_segments: int = 1,
        max_batch_attempts: int = 8,
    ) -> None:
        if not table_name:
            raise ConfigurationError("DynamoDB registry needs a table name")
        self.table_name = table_name
        self.ttl = check_ttl(ttl)
        self.layout = layout or TableLayout()
        self._client = None if client is None or isinstance(client, str) else client
        self._client_kind = client if isinstance(client, str) else None
        self._owns_client = self._client is None
        self._region = region
        self._endpoint_url = endpoint_url
        self._client_lock = threading.Lock()
        self._touched: OrderedDict[str, float] = OrderedDict()
        self._touch_lock = threading.Lock()
        self._codec = TableCodec(table_name, self.layout)
        self._table = TableAccess(
            lambda: self.client,
            self._codec,
            scan_page_size=scan_page_size,
            scan_segments=scan_segments,
            max_batch_attempts=max_batch_attempts,
        )
        self._rooms = Groups(self._table, "room")
        self._topics = Groups(self._table, "topic")

    def __repr__(self) -> str:
        return f"DynamoDBRegistry({self.table_name!r}, ttl={self.ttl})"

    def __enter__(self) -> DynamoDBRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- client and table ------------------------------------------------------------------

    @property
    def client(self) -> DynamoDBClient:
        """The DynamoDB client (built on first use when none was injected).

        Raises:
            ConfigurationError: No region is configured, or boto3 is missing for ``"boto3"``.
        """
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._build_client()
        client: DynamoDBClient = self._client
        return client

    def _build_client(self) -> Any:
        from wsgate.aws.dynamodb import make_client

        return make_client(self._client_kind, region=self._region, endpoint_url=self._endpoint_url)

    def create_table(self, *, wait: bool = True, ttl: bool = True) -> None:
        """Create the table with its two indexes (on-demand billing) and enable TTL.

        For local servers and tests; production tables come from the template. TTL is enabled
        only where the server supports it (dynalite does not; that is not an error).

        Raises:
            RegistryUnavailable: The table exists already or the server refused.
        """
        create_table(self.client, self.table_name, self.layout, wait=wait, ttl=ttl)

    def delete_table(self) -> None:
        """Delete the table (tests and local tools)."""
        self._table.call("delete_table")

    # --- records ---------------------------------------------------------------------------

    def store(
        self,
        connection_id: str,
        *,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        expires_at: int | None = None,
        endpoint: str | None = None,
        connected_at: float | None = None,
    ) -> Connection:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.store`. One UpdateItem."""
        args = check_store(
            connection_id,
            user_id=user_id,
            metadata=metadata,
            expires_at=expires_at,
            endpoint=endpoint,
            connected_at=connected_at,
            ttl=self.ttl,
        )
        now = args.now
        sets = {"#ca": args.connected_at, "#la": now, "#md": args.metadata, "#ex": args.expires_at}
        sets["#mr"] = _revision()
        removes = []
        for name, value in (("#u", args.user_id), ("#ep", args.endpoint)):
            if value is None:
                removes.append(name)
            else:
                sets[name] = value
        self._forget_touch(connection_id)
        for _ in range(3):
            try:
                # Upsert, keeping rooms and topics, unless the existing record has expired.
                record = self._table.update(
                    connection_id, sets, removes, "attribute_not_exists(#pk) OR #ex > :now", now
                )
            except ConditionFailed:
                self._remove_expired(connection_id, now)
                continue
            if record.rooms or record.topics:  # a repeated store: memberships follow it
                keys = self._codec.membership_keys(record)
                self._table.refresh(keys, record.expires_at, record.endpoint)
            return record
        raise RegistryUnavailable(f"could not store {connection_id!r}: it kept changing")

    def get(self, connection_id: str) -> Connection | None:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.get`. One consistent GetItem."""
        check_id(connection_id)
        answer = self._table.call(
            "get_item",
            Key=self._codec.key(connection_id),
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if item is None:
            return None
        record = self._codec.record(item)
        return record if record.expires_at > time.time() else None

    def update(
        self,
        connection_id: str,
        *,
        user_id: str | Unset | None = UNSET,
        metadata: Mapping[str, Any] | Unset = UNSET,
        expires_at: int | Unset = UNSET,
        endpoint: str | Unset | None = UNSET,
        merge_metadata: bool = False,
    ) -> Connection:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.update`. One conditional
        UpdateItem (plus one per room/topic when ``expires_at`` changes); a metadata merge
        reads the item first (consistent GetItem) to check the merged map's limits."""
        args = check_update(
            connection_id,
            user_id=user_id,
            metadata=metadata,
            expires_at=expires_at,
            endpoint=endpoint,
        )
        sets: dict[str, Any] = {}
        removes: list[str] = []
        for field_name, checked in args.fields.items():
            name = _UPDATE_NAMES[field_name]
            if checked is None:
                removes.append(name)
            else:
                sets[name] = checked
        if args.metadata is not None and merge_metadata:
            record = self._merge(connection_id, sets, removes, args.metadata)
        else:
            if args.metadata is not None:
                sets["#md"] = args.metadata
                sets["#mr"] = _revision()
            if not sets and not removes:
                found = self.get(connection_id)
                if found is None:
                    raise ConnectionNotFound(connection_id)
                return found
            try:
                record = self._table.update(connection_id, sets, removes, _LIVE, time.time())
            except ConditionFailed:
                raise ConnectionNotFound(connection_id) from None
        if "#ex" in sets or "endpoint" in args.fields:
            keys = self._codec.membership_keys(record)
            self._table.refresh(keys, record.expires_at, record.endpoint)
        return record

    def _merge(
        self,
        connection_id: str,
        sets: dict[str, Any],
        removes: list[str],
        metadata: dict[str, Any],
    ) -> Connection:
        """``update(merge_metadata=True)``: read, merge and check, then write if unchanged.

        The merged map is checked like any metadata (size, nesting) before the write; the
        write is conditional on the metadata revision being the one read (every metadata
        write sets a fresh one), and a concurrent change makes it read and merge again.
        """
        name = self.layout.metadata_revision
        for attempt in range(_MERGE_ATTEMPTS):
            if attempt:
                # Full jitter, so merges racing on one connection stop colliding.
                import random  # only on a retry

                time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))
            item = self._table.call(
                "get_item", Key=self._codec.key(connection_id), ConsistentRead=True
            ).get("Item")
            current = self._codec.record(item) if item is not None else None
            if item is None or current is None or current.expires_at <= time.time():
                raise ConnectionNotFound(connection_id)
            merged = normalize_metadata({**current.metadata, **metadata})
            seen = item.get(name)
            same = "#mr = :seen" if seen is not None else "attribute_not_exists(#mr)"
            try:
                return self._table.update(
                    connection_id,
                    {**sets, "#md": merged, "#mr": _revision()},
                    removes,
                    f"{_LIVE} AND {same}",
                    time.time(),
                    condition_values={":seen": seen} if seen is not None else None,
                )
            except ConditionFailed:
                continue  # changed, deleted or expired since the read: look again
        raise RegistryUnavailable(
            f"metadata of {connection_id} kept changing during {_MERGE_ATTEMPTS} merges"
        )

    def delete(self, connection_id: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.delete`. One DeleteItem, plus a
        BatchWriteItem per 25 memberships."""
        check_id(connection_id)
        self._forget_touch(connection_id)
        answer = self._table.call(
            "delete_item",
            Key=self._codec.key(connection_id),
            ReturnValues="ALL_OLD",
        )
        old = answer.get("Attributes")
        if not old:
            return False
        record = self._codec.record(old)
        self._table.batch_delete(self._codec.membership_keys(record))
        return record.expires_at > time.time()

    def delete_many(self, connection_ids: Iterable[str]) -> int:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.delete_many`. A consistent
        BatchGetItem per 100 ids (to find memberships) and a BatchWriteItem per 25 deletes."""
        ids = list(dict.fromkeys(check_id(cid) for cid in connection_ids))
        if not ids:
            return 0
        records = self._table.batch_get(ids)
        keys: list[dict[str, Any]] = []
        for record in records:
            self._forget_touch(record.connection_id)
            keys.append(self._codec.key(record.connection_id))
            keys.extend(self._codec.membership_keys(record))
        self._table.batch_delete(keys)
        now = time.time()
        return sum(1 for record in records if record.expires_at > now)

    def touch(
        self,
        connection_id: str,
        now: float | None = None,
        *,
        min_interval: float = DEFAULT_TOUCH_INTERVAL,
    ) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.touch`.

        Throttled twice: in this process (no request at all within ``min_interval`` of the last
        write made here) and in the table (a conditional UpdateItem), so concurrent Lambda
        containers still write at most about once per interval.
        """
        check_id(connection_id)
        at = time.time() if now is None else check_timestamp(now, "now")
        with self._touch_lock:
            last = self._touched.get(connection_id)
        if last is not None and at - last < min_interval:
            return False
        try:
            self._table.call(
                "update_item",
                Key=self._codec.key(connection_id),
                UpdateExpression="SET #la = :at",
                ConditionExpression="attribute_exists(#pk) AND #ex > :at AND #la <= :before",
                ExpressionAttributeNames={
                    "#pk": self.layout.connection_id,
                    "#la": self.layout.last_activity,
                    "#ex": self.layout.expires_at,
                },
                ExpressionAttributeValues={
                    ":at": encode_value(at),
                    ":before": encode_value(at - min_interval),
                },
            )
        except ConditionFailed:
            return False
        with self._touch_lock:
            self._touched[connection_id] = at
            self._touched.move_to_end(connection_id)
            while len(self._touched) > _TOUCH_CACHE:
                self._touched.popitem(last=False)
        return True

    # --- queries ---------------------------------------------------------------------------

    def all(self) -> Iterator[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.all`. A paginated Scan (in
        ``scan_segments`` parallel segments), streamed page by page."""
        return self._table.scan_records("#sk = :rec AND #ex > :now", {})

    def by_user(self, user_id: str) -> list[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.by_user`. A Query on ``byUser``
        (eventually consistent, like every GSI read)."""
        check_id(user_id, "user_id")
        items = self._table.query(
            self.layout.by_user_index,
            "#u = :key",
            {":key": encode_value(user_id)},
            filter_expression="#ex > :now",
        )
        records = [self._codec.record(item) for item in items]
        return sorted(records, key=lambda record: record.connection_id)

    def active_since(self, since: float) -> Iterator[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.active_since`. A filtered Scan."""
        since = check_timestamp(since, "since")
        return self._table.scan_records(
            "#sk = :rec AND #ex > :now AND #la >= :since", {":since": encode_value(since)}
        )

    def count(self) -> int:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.count`. A ``Select=COUNT`` Scan."""
        pages = self._table.scan("#sk = :rec AND #ex > :now", {}, select_count=True)
        return sum(int(page.get("Count", 0)) for page in pages)

    # --- rooms and topics ------------------------------------------------------------------

    def join(self, connection_id: str, room: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.join`. PutItem + UpdateItem."""
        return self._rooms.add(connection_id, check_id(room, "room"), self.ttl)

    def leave(self, connection_id: str, room: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.leave`. UpdateItem + DeleteItem."""
        return self._rooms.discard(connection_id, check_id(room, "room"))

    def room_members(self, room: str) -> list[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.room_members`. A Query on
        ``byGroup`` plus a BatchGetItem per 100 members."""
        return self._rooms.members(check_id(room, "room"))

    def rooms_of(self, connection_id: str) -> frozenset[str]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.rooms_of`. One GetItem."""
        record = self.get(connection_id)
        return record.rooms if record else frozenset()

    def subscribe(self, connection_id: str, topic: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.subscribe`."""
        return self._topics.add(connection_id, check_id(topic, "topic"), self.ttl)

    def unsubscribe(self, connection_id: str, topic: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.unsubscribe`."""
        return self._topics.discard(connection_id, check_id(topic, "topic"))

    def subscribers(self, topic: str) -> list[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.subscribers`."""
        return self._topics.members(check_id(topic, "topic"))

    def topics_of(self, connection_id: str) -> frozenset[str]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.topics_of`. One GetItem."""
        record = self.get(connection_id)
        return record.topics if record else frozenset()

    def group_pages(
        self,
        kind: str,
        name: str,
        *,
        page_size: int | None = None,
        after: str | None = None,
    ) -> Iterator[list[Member]]:
        """Ids-only pages of a room or topic (see :mod:`wsgate.registry.paging`): one Query on
        ``byGroup`` per page (1 MB by default, or ``page_size`` items), reading only the index.

        Raises:
            InvalidRecordError: Bad arguments (before anything is read).
        """
        kind, name, size, cursor = check_page_args(kind, name, page_size, after)
        groups = self._rooms if kind == "room" else self._topics
        return groups.pages(name, size, cursor)

    # --- maintenance -----------------------------------------------------------------------

    def cleanup(self, now: float | None = None, *, max_age: float | None = None) -> int:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.cleanup`.

        One Scan for expired items of both types and idle connections; each doomed connection
        is removed with a conditional DeleteItem (so one refreshed meanwhile survives), and
        memberships go in BatchWriteItems. Run it from a scheduled function: DynamoDB TTL
        deletes expired items only within days.
        """
        at = time.time() if now is None else check_timestamp(now, "now")
        values = {":at": encode_value(at)}
        condition = "#ex <= :at"
        if max_age is not None:
            values[":idle"] = encode_value(at - check_timestamp(max_age, "max_age"))
            condition = "#ex <= :at OR (#sk = :rec AND #la < :idle)"
        removed = 0
        orphans: list[dict[str, Any]] = []
        for page in self._table.scan(condition, values):
            for item in page.get("Items", []):
                if item[self.layout.sort_key]["S"] != self.layout.record_sort_value:
                    orphans.append(
                        {k: item[k] for k in (self.layout.connection_id, self.layout.sort_key)}
                    )
                    continue
                cid = item[self.layout.connection_id]["S"]
                try:
                    answer = self._table.call(
                        "delete_item",
                        Key=self._codec.key(cid),
                        ConditionExpression=condition,
                        ExpressionAttributeNames=self._codec.names_in(condition),
                        ExpressionAttributeValues=self._codec.values_in(values, condition, now=at),
                        ReturnValues="ALL_OLD",
                    )
                except ConditionFailed:
                    continue
                self._forget_touch(cid)
                removed += 1
                orphans.extend(
                    self._codec.membership_keys(self._codec.record(answer["Attributes"]))
                )
        self._table.batch_delete(orphans)
        return removed

    def close(self) -> None:
        """Close the client if this registry built it; an injected client is left open."""
        if self._owns_client and self._client is not None:
            self._client.close()
            self._client = None

    # --- internals -------------------------------------------------------------------------

    def _remove_expired(self, connection_id: str, now: float) -> None:
        # Only an expired record is removed: a concurrent store may have made it live again.
        try:
            answer = self._table.call(
                "delete_item",
                Key=self._codec.key(connection_id),
                ConditionExpression="#ex <= :now",
                ExpressionAttributeNames=self._codec.names_in("#ex"),
                ExpressionAttributeValues=self._codec.values_in({}, ":now", now=now),
                ReturnValues="ALL_OLD",
            )
        except ConditionFailed:
            return
        if answer.get("Attributes"):
            old = self._codec.record(answer["Attributes"])
            self._table.batch_delete(self._codec.membership_keys(old))

    def _forget_touch(self, connection_id: str) -> None:
        with self._touch_lock:
            self._touched.pop(connection_id, None)
