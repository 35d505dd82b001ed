"""In-process registry: a few dicts behind one lock. For tests and single-process tools."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from wsgate.exceptions import ConnectionNotFound
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
from wsgate.registry.paging import DEFAULT_PAGE_SIZE, Member, check_page_args

__all__ = ["MemoryRegistry"]

_ROOM = "rooms"
_TOPIC = "topics"


class MemoryRegistry:
    """A thread-safe registry held in this process's memory; lost when the process exits.

    Args:
        ttl: Default seconds until a stored connection expires.
    """

    def __init__(self, *, ttl: int = DEFAULT_TTL) -> None:
        self.ttl = check_ttl(ttl)
        self._lock = threading.RLock()
        self._records: dict[str, Connection] = {}
        self._by_user: dict[str, set[str]] = {}
        self._groups: dict[str, dict[str, set[str]]] = {_ROOM: {}, _TOPIC: {}}

    def __repr__(self) -> str:
        return f"MemoryRegistry(ttl={self.ttl})"

    def __enter__(self) -> MemoryRegistry:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
        """See :meth:`wsgate.registry.base.ConnectionRegistry.store`."""
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
        with self._lock:
            old = self._records.get(connection_id)
            if old is not None and old.expires_at <= now:
                # An expired record is dead: its id starts afresh, without the old rooms.
                self._remove(connection_id, now)
                old = None
            record = Connection(
                connection_id=connection_id,
                user_id=args.user_id,
                connected_at=args.connected_at,
                last_activity=now,
                metadata=args.metadata,
                expires_at=args.expires_at,
                endpoint=args.endpoint,
                rooms=old.rooms if old else frozenset(),
                topics=old.topics if old else frozenset(),
            )
            self._put(old, record)
            return record

    def get(self, connection_id: str) -> Connection | None:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.get`."""
        check_id(connection_id)
        with self._lock:
            return self._live(connection_id, time.time())

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
        """See :meth:`wsgate.registry.base.ConnectionRegistry.update`."""
        args = check_update(
            connection_id,
            user_id=user_id,
            metadata=metadata,
            expires_at=expires_at,
            endpoint=endpoint,
        )
        changes = dict(args.fields)
        new_metadata = args.metadata
        with self._lock:
            old = self._live(connection_id, time.time())
            if old is None:
                raise ConnectionNotFound(connection_id)
            if new_metadata is not None:
                changes["metadata"] = (
                    normalize_metadata({**old.metadata, **new_metadata})
                    if merge_metadata
                    else new_metadata
                )
            record = old.replace(**changes)
            self._put(old, record)
            return record

    def delete(self, connection_id: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.delete`."""
        check_id(connection_id)
        with self._lock:
            return self._remove(connection_id, time.time())

    def delete_many(self, connection_ids: Iterable[str]) -> int:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.delete_many`."""
        ids = [check_id(cid) for cid in connection_ids]
        with self._lock:
            now = time.time()
            return sum(self._remove(cid, now) for cid in dict.fromkeys(ids))

    def touch(
        self,
        connection_id: str,
        now: float | None = None,
        *,
        min_interval: float = DEFAULT_TOUCH_INTERVAL,
    ) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.touch`."""
        check_id(connection_id)
        at = time.time() if now is None else check_timestamp(now, "now")
        with self._lock:
            old = self._live(connection_id, at)
            if old is None or at - old.last_activity < min_interval:
                return False
            self._records[connection_id] = old.replace(last_activity=at)
            return True

    # --- queries ---------------------------------------------------------------------------

    def all(self) -> Iterator[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.all`."""
        with self._lock:
            now = time.time()
            snapshot = [r for r in self._records.values() if r.expires_at > now]
        yield from snapshot

    def by_user(self, user_id: str) -> list[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.by_user`."""
        check_id(user_id, "user_id")
        with self._lock:
            return self._live_many(self._by_user.get(user_id, ()))

    def active_since(self, since: float) -> Iterator[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.active_since`."""
        since = check_timestamp(since, "since")
        return (record for record in self.all() if record.last_activity >= since)

    def count(self) -> int:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.count`."""
        with self._lock:
            now = time.time()
            return sum(1 for r in self._records.values() if r.expires_at > now)

    # --- rooms and topics ------------------------------------------------------------------

    def join(self, connection_id: str, room: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.join`."""
        return self._add(_ROOM, connection_id, check_id(room, "room"))

    def leave(self, connection_id: str, room: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.leave`."""
        return self._discard(_ROOM, connection_id, check_id(room, "room"))

    def room_members(self, room: str) -> list[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.room_members`."""
        check_id(room, "room")
        with self._lock:
            return self._live_many(self._groups[_ROOM].get(room, ()))

    def rooms_of(self, connection_id: str) -> frozenset[str]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.rooms_of`."""
        record = self.get(connection_id)
        return record.rooms if record else frozenset()

    def subscribe(self, connection_id: str, topic: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.subscribe`."""
        return self._add(_TOPIC, connection_id, check_id(topic, "topic"))

    def unsubscribe(self, connection_id: str, topic: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.unsubscribe`."""
        return self._discard(_TOPIC, connection_id, check_id(topic, "topic"))

    def subscribers(self, topic: str) -> list[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.subscribers`."""
        check_id(topic, "topic")
        with self._lock:
            return self._live_many(self._groups[_TOPIC].get(topic, ()))

    def topics_of(self, connection_id: str) -> frozenset[str]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.topics_of`."""
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
        """Ids-only pages of a room or topic (see :mod:`wsgate.registry.paging`).

        The ids are sorted once; each page then keeps those still live members, so a member
        that leaves during the lookup is not sent to after it left.

        Raises:
            InvalidRecordError: Bad arguments (before anything is read).
        """
        kind, name, size, cursor = check_page_args(kind, name, page_size, after)
        return self._pages(_ROOM if kind == "room" else _TOPIC, name, size, cursor)

    def _pages(
        self, field: str, name: str, size: int | None, cursor: str | None
    ) -> Iterator[list[Member]]:
        with self._lock:
            ids = sorted(
                cid for cid in self._groups[field].get(name, ()) if not cursor or cid > cursor
            )
        step = size or DEFAULT_PAGE_SIZE
        for start in range(0, len(ids), step):
            with self._lock:
                now = time.time()
                members = self._groups[field].get(name, set())
                page = [
                    Member(cid, record.endpoint)
                    for cid in ids[start : start + step]
                    if cid in members and (record := self._live(cid, now)) is not None
                ]
            if page:
                yield page

    # --- maintenance -----------------------------------------------------------------------

    def cleanup(self, now: float | None = None, *, max_age: float | None = None) -> int:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.cleanup`."""
        at = time.time() if now is None else check_timestamp(now, "now")
        idle_before = None if max_age is None else at - check_timestamp(max_age, "max_age")
        with self._lock:
            doomed = [
                cid
                for cid, r in self._records.items()
                if r.expires_at <= at or (idle_before is not None and r.last_activity < idle_before)
            ]
            for cid in doomed:
                self._remove(cid, at)
            return len(doomed)

    def close(self) -> None:
        """Drop every record."""
        with self._lock:
            self._records.clear()
            self._by_user.clear()
            for groups in self._groups.values():
                groups.clear()

    # --- internals (callers hold the lock) -------------------------------------------------

    def _live(self, connection_id: str, now: float) -> Connection | None:
        record = self._records.get(connection_id)
        return record if record is not None and record.expires_at > now else None

    def _live_many(self, ids: Iterable[str]) -> list[Connection]:
        now = time.time()
        found = (self._live(cid, now) for cid in sorted(ids))
        return [record for record in found if record is not None]

    def _put(self, old: Connection | None, record: Connection) -> None:
        if old is not None and old.user_id is not None and old.user_id != record.user_id:
            self._unindex(self._by_user, old.user_id, old.connection_id)
        if record.user_id is not None:
            self._by_user.setdefault(record.user_id, set()).add(record.connection_id)
        self._records[record.connection_id] = record

    def _remove(self, connection_id: str, now: float) -> bool:
        record = self._records.pop(connection_id, None)
        if record is None:
            return False
        if record.user_id is not None:
            self._unindex(self._by_user, record.user_id, connection_id)
        for room in record.rooms:
            self._unindex(self._groups[_ROOM], room, connection_id)
        for topic in record.topics:
            self._unindex(self._groups[_TOPIC], topic, connection_id)
        return record.expires_at > now

    @staticmethod
    def _unindex(index: dict[str, set[str]], key: str, connection_id: str) -> None:
        members = index.get(key)
        if members is not None:
            members.discard(connection_id)
            if not members:
                del index[key]

    @staticmethod
    def _with(record: Connection, kind: str, names: frozenset[str]) -> Connection:
        return record.replace(rooms=names) if kind == _ROOM else record.replace(topics=names)

    def _add(self, kind: str, connection_id: str, name: str) -> bool:
        check_id(connection_id)
        with self._lock:
            record = self._live(connection_id, time.time())
            if record is None:
                raise ConnectionNotFound(connection_id)
            current: frozenset[str] = getattr(record, kind)
            if name in current:
                return False
            self._records[connection_id] = self._with(record, kind, current | {name})
            self._groups[kind].setdefault(name, set()).add(connection_id)
            return True

    def _discard(self, kind: str, connection_id: str, name: str) -> bool:
        check_id(connection_id)
        with self._lock:
            record = self._live(connection_id, time.time())
            current: frozenset[str] = getattr(record, kind) if record else frozenset()
            if record is None or name not in current:
                return False
            self._records[connection_id] = self._with(record, kind, current - {name})
            self._unindex(self._groups[kind], name, connection_id)
            return True
