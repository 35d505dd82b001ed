"""SQLite registry: the local default. Stdlib :mod:`sqlite3`, WAL, one file, survives restarts.

Safe from many threads (one SQLite connection per thread) and many processes (WAL plus a busy
timeout; every write is one ``BEGIN IMMEDIATE`` transaction). Memberships live in their own
table with ``ON DELETE CASCADE``, so deleting a connection leaves every room and topic in the
same transaction, and a join can only insert a row for a live connection.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from wsgate.exceptions import ConnectionNotFound, RegistryUnavailable
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

__all__ = ["SQLiteRegistry"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS connections (
    connection_id TEXT PRIMARY KEY,
    user_id       TEXT,
    connected_at  REAL NOT NULL,
    last_activity REAL NOT NULL,
    metadata      TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    endpoint      TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS connections_by_user ON connections (user_id)
    WHERE user_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS connections_by_expiry ON connections (expires_at);
CREATE TABLE IF NOT EXISTS memberships (
    kind          TEXT NOT NULL CHECK (kind IN ('room', 'topic')),
    name          TEXT NOT NULL,
    connection_id TEXT NOT NULL REFERENCES connections (connection_id) ON DELETE CASCADE,
    PRIMARY KEY (kind, name, connection_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS memberships_by_connection ON memberships (connection_id, kind);
"""

# Each record is read with its rooms and topics in one statement (correlated subqueries on the
# memberships_by_connection index).
_SELECT: Final = """
SELECT c.connection_id, c.user_id, c.connected_at, c.last_activity, c.metadata, c.expires_at,
       c.endpoint,
       (SELECT json_group_array(name) FROM memberships m
         WHERE m.connection_id = c.connection_id AND m.kind = 'room') AS rooms,
       (SELECT json_group_array(name) FROM memberships m
         WHERE m.connection_id = c.connection_id AND m.kind = 'topic') AS topics
FROM connections c
"""

_ROOM: Final = "room"
_TOPIC: Final = "topic"
_PAGE: Final = 500
_CHUNK: Final = 400  # ids per IN (...) list, under SQLite's 999-variable floor


def _names(text: str) -> frozenset[str]:
    # Most connections are in no topic and one or two rooms: skip the JSON parser for "[]".
    return frozenset(json.loads(text)) if text != "[]" else frozenset()


def _record(row: Sequence[Any]) -> Connection:
    return Connection(
        connection_id=row[0],
        user_id=row[1],
        connected_at=row[2],
        last_activity=row[3],
        metadata=json.loads(row[4]) if row[4] != "{}" else {},
        expires_at=row[5],
        endpoint=row[6],
        rooms=_names(row[7]),
        topics=_names(row[8]),
    )


class _Handle:
    """Owns one SQLite connection and closes it when dropped (its thread ended)."""

    __slots__ = ("__weakref__", "db")

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.db.close()


class SQLiteRegistry:
    """A registry in one SQLite file, shared by the threads and processes that open it.

    Args:
        path: Database file (its folder is created), or ``":memory:"`` for a private
            in-memory database (one connection behind a lock).
        ttl: Default seconds until a stored connection expires.
        timeout: Seconds a write waits for another process's write lock before failing.
    """

    def __init__(self, path: str | Path, *, ttl: int = DEFAULT_TTL, timeout: float = 10.0) -> None:
        self.ttl = check_ttl(ttl)
        self.path = str(path)
        self._timeout = timeout
        self._local = threading.local()
        # Each thread's connection lives in its thread-local handle, so it is closed when the
        # thread ends; the weak set lets close() reach the ones still open.
        self._handles: weakref.WeakSet[_Handle] = weakref.WeakSet()
        self._shared: _Handle | None = None
        self._opened_lock = threading.Lock()
        self._closed = False
        self._in_memory = self.path == ":memory:"
        self._guard: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self._in_memory else contextlib.nullcontext()
        )
        if not self._in_memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        with self._guard, self._errors():
            self._db().executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"SQLiteRegistry({self.path!r}, ttl={self.ttl})"

    def __enter__(self) -> SQLiteRegistry:
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
        data = json.dumps(args.metadata, separators=(",", ":"))
        with self._write() as db:
            # An expired record is dead: its id starts afresh (the cascade drops old rooms).
            db.execute(
                "DELETE FROM connections WHERE connection_id = ? AND expires_at <= ?",
                (connection_id, now),
            )
            db.execute(
                "INSERT INTO connections VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (connection_id) DO UPDATE SET user_id = excluded.user_id,"
                " connected_at = excluded.connected_at, last_activity = excluded.last_activity,"
                " metadata = excluded.metadata, expires_at = excluded.expires_at,"
                " endpoint = excluded.endpoint",
                (
                    connection_id,
                    args.user_id,
                    args.connected_at,
                    now,
                    data,
                    args.expires_at,
                    args.endpoint,
                ),
            )
            return self._fetch_one(db, connection_id, float("-inf"))  # type: ignore[return-value]

    def get(self, connection_id: str) -> Connection | None:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.get`."""
        check_id(connection_id)
        with self._read() as db:
            return self._fetch_one(db, connection_id, time.time())

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
        sets = dict(args.fields)  # the field names are the column names
        new_metadata = args.metadata
        with self._write() as db:
            old = self._fetch_one(db, connection_id, time.time())
            if old is None:
                raise ConnectionNotFound(connection_id)
            if new_metadata is not None:
                merged = {**old.metadata, **new_metadata} if merge_metadata else new_metadata
                sets["metadata"] = json.dumps(normalize_metadata(merged), separators=(",", ":"))
            if sets:
                columns = ", ".join(f"{name} = ?" for name in sets)
                db.execute(
                    f"UPDATE connections SET {columns} WHERE connection_id = ?",
                    (*sets.values(), connection_id),
                )
            return self._fetch_one(db, connection_id, float("-inf"))  # type: ignore[return-value]

    def delete(self, connection_id: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.delete`."""
        check_id(connection_id)
        with self._write() as db:
            row = db.execute(
                "DELETE FROM connections WHERE connection_id = ? RETURNING expires_at",
                (connection_id,),
            ).fetchone()
        return row is not None and row[0] > time.time()

    def delete_many(self, connection_ids: Iterable[str]) -> int:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.delete_many`."""
        ids = list(dict.fromkeys(check_id(cid) for cid in connection_ids))
        removed = 0
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            with self._write() as db:
                rows = db.execute(
                    f"DELETE FROM connections WHERE connection_id IN ({marks})"
                    " RETURNING expires_at",
                    chunk,
                ).fetchall()
            now = time.time()
            removed += sum(1 for (expiry,) in rows if expiry > now)
        return removed

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
        with self._write() as db:
            cursor = db.execute(
                "UPDATE connections SET last_activity = ? WHERE connection_id = ?"
                " AND expires_at > ? AND last_activity <= ?",
                (at, connection_id, at, at - min_interval),
            )
            return cursor.rowcount == 1

    # --- queries ---------------------------------------------------------------------------

    def all(self) -> Iterator[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.all`.

        Pages by key (500 rows a query), so no read transaction is held between pages.
        """
        after = ""
        while True:
            with self._read() as db:
                rows = db.execute(
                    f"{_SELECT} WHERE c.connection_id > ? AND c.expires_at > ?"
                    " ORDER BY c.connection_id LIMIT ?",
                    (after, time.time(), _PAGE),
                ).fetchall()
            yield from map(_record, rows)
            if len(rows) < _PAGE:
                return
            after = rows[-1][0]

    def by_user(self, user_id: str) -> list[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.by_user`."""
        check_id(user_id, "user_id")
        return self._fetch_where("c.user_id = ?", (user_id,))

    def active_since(self, since: float) -> Iterator[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.active_since`."""
        since = check_timestamp(since, "since")
        return (record for record in self.all() if record.last_activity >= since)

    def count(self) -> int:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.count`."""
        with self._read() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM connections WHERE expires_at > ?", (time.time(),)
            ).fetchone()
        return int(row[0])

    # --- rooms and topics ------------------------------------------------------------------

    def join(self, connection_id: str, room: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.join`."""
        return self._add(_ROOM, connection_id, check_id(room, "room"))

    def leave(self, connection_id: str, room: str) -> bool:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.leave`."""
        return self._discard(_ROOM, connection_id, check_id(room, "room"))

    def room_members(self, room: str) -> list[Connection]:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.room_members`."""
        return self._members(_ROOM, check_id(room, "room"))

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
        return self._members(_TOPIC, check_id(topic, "topic"))

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

        One indexed query per page (keyset on the memberships primary key), no read
        transaction held between pages.

        Raises:
            InvalidRecordError: Bad arguments (before anything is read).
        """
        kind, name, size, cursor = check_page_args(kind, name, page_size, after)
        return self._pages(kind, name, size or DEFAULT_PAGE_SIZE, cursor)

    def _pages(self, kind: str, name: str, size: int, cursor: str | None) -> Iterator[list[Member]]:
        last = cursor or ""
        while True:
            with self._read() as db:
                rows = db.execute(
                    "SELECT m.connection_id, c.endpoint, c.expires_at FROM memberships m"
                    " JOIN connections c ON c.connection_id = m.connection_id"
                    " WHERE m.kind = ? AND m.name = ? AND m.connection_id > ?"
                    " ORDER BY m.connection_id LIMIT ?",
                    (kind, name, last, size),
                ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            now = time.time()
            page = [Member(row[0], row[1]) for row in rows if row[2] > now]
            if page:
                yield page
            if len(rows) < size:
                return

    # --- maintenance -----------------------------------------------------------------------

    def cleanup(self, now: float | None = None, *, max_age: float | None = None) -> int:
        """See :meth:`wsgate.registry.base.ConnectionRegistry.cleanup`."""
        at = time.time() if now is None else check_timestamp(now, "now")
        idle_before = float("-inf")
        if max_age is not None:
            idle_before = at - check_timestamp(max_age, "max_age")
        with self._write() as db:
            cursor = db.execute(
                "DELETE FROM connections WHERE expires_at <= ? OR last_activity < ?",
                (at, idle_before),
            )
            return cursor.rowcount

    def close(self) -> None:
        """Close every thread's SQLite connection. The registry is unusable afterwards."""
        with self._opened_lock:
            self._closed = True
            handles = list(self._handles)
            self._handles.clear()
            self._shared = None
        for handle in handles:
            handle.db.close()

    # --- internals -------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._closed:
            raise RegistryUnavailable(f"registry {self.path!r} is closed")
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is None:
            if self._in_memory and self._shared is not None:
                handle = self._shared
            else:
                handle = _Handle(self._open())
                with self._opened_lock:
                    self._handles.add(handle)
                if self._in_memory:
                    self._shared = handle
            self._local.handle = handle
        return handle.db

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(
            self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        db.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
        db.execute("PRAGMA foreign_keys = ON")
        if not self._in_memory:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        return db

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise RegistryUnavailable(f"SQLite registry {self.path!r}: {exc}") from exc

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._guard, self._errors():
            yield self._db()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._guard, self._errors():
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _fetch_one(
        self, db: sqlite3.Connection, connection_id: str, now: float
    ) -> Connection | None:
        row = db.execute(
            f"{_SELECT} WHERE c.connection_id = ? AND c.expires_at > ?", (connection_id, now)
        ).fetchone()
        return None if row is None else _record(row)

    def _fetch_where(self, condition: str, params: Sequence[Any]) -> list[Connection]:
        with self._read() as db:
            rows = db.execute(
                f"{_SELECT} WHERE {condition} AND c.expires_at > ? ORDER BY c.connection_id",
                (*params, time.time()),
            ).fetchall()
        return [_record(row) for row in rows]

    def _members(self, kind: str, name: str) -> list[Connection]:
        return self._fetch_where(
            "c.connection_id IN"
            " (SELECT connection_id FROM memberships WHERE kind = ? AND name = ?)",
            (kind, name),
        )

    def _add(self, kind: str, connection_id: str, name: str) -> bool:
        check_id(connection_id)
        with self._write() as db:
            now = time.time()
            if self._fetch_one(db, connection_id, now) is None:
                raise ConnectionNotFound(connection_id)
            cursor = db.execute(
                "INSERT OR IGNORE INTO memberships VALUES (?, ?, ?)", (kind, name, connection_id)
            )
            return cursor.rowcount == 1

    def _discard(self, kind: str, connection_id: str, name: str) -> bool:
        check_id(connection_id)
        with self._write() as db:
            cursor = db.execute(
                "DELETE FROM memberships WHERE kind = ? AND name = ? AND connection_id IN"
                " (SELECT connection_id FROM connections WHERE connection_id = ?"
                " AND expires_at > ?)",
                (kind, name, connection_id, time.time()),
            )
            return cursor.rowcount == 1
