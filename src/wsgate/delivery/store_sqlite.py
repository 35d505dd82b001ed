"""A delivery store in a SQLite file: shared by every process on one machine (the emulator).

Stdlib ``sqlite3`` in WAL mode with one connection per thread and a busy timeout, so worker
threads and several processes can use the same file. Sequence numbers come from an
``INSERT … ON CONFLICT DO UPDATE … RETURNING`` inside ``BEGIN IMMEDIATE``, which makes them
atomic across processes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from wsgate.delivery.store import BufferedMessage, Claim, ClaimState, Pending, StreamSlice
from wsgate.exceptions import RegistryUnavailable

__all__ = ["SQLiteDeliveryStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS wsgate_stream_heads (
    stream TEXT PRIMARY KEY, seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS wsgate_stream_buffer (
    stream TEXT NOT NULL, seq INTEGER NOT NULL, message_id TEXT NOT NULL, data TEXT NOT NULL,
    created_at REAL NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (stream, seq)
);
CREATE TABLE IF NOT EXISTS wsgate_pending (
    connection_id TEXT NOT NULL, stream TEXT NOT NULL, seq INTEGER NOT NULL,
    attempts INTEGER NOT NULL, due_at REAL NOT NULL, expires_at INTEGER NOT NULL,
    PRIMARY KEY (connection_id, stream, seq)
);
CREATE INDEX IF NOT EXISTS wsgate_pending_due ON wsgate_pending (due_at);
CREATE TABLE IF NOT EXISTS wsgate_ack_ids (
    scope TEXT NOT NULL, key TEXT NOT NULL, status TEXT, reason TEXT,
    lease_until REAL NOT NULL, expires_at REAL NOT NULL, PRIMARY KEY (scope, key)
);
"""

_PENDING_COLUMNS = "connection_id, stream, seq, attempts, due_at, expires_at"


class SQLiteDeliveryStore:
    """Delivery state in a SQLite database file (created on first use).

    Args:
        path: The database file; the registry's file is fine, the tables are prefixed
            ``wsgate_``. ``":memory:"`` is refused because each thread would see its own.
        timeout: Seconds to wait for another writer's lock before failing.

    Raises:
        RegistryUnavailable: The file cannot be opened or is not a database.
    """

    def __init__(self, path: str | Path, *, timeout: float = 10.0) -> None:
        if str(path) == ":memory:":
            raise ValueError("SQLiteDeliveryStore needs a file; use MemoryDeliveryStore instead")
        self.path = Path(path)
        self._timeout = timeout
        self._local = threading.local()
        self._all: list[tuple[sqlite3.Connection, threading.Lock]] = []
        self._all_lock = threading.Lock()
        self._closed = False
        try:
            self._db()[0].executescript(_SCHEMA)  # runs its own transaction
        except sqlite3.Error as exc:
            raise RegistryUnavailable(f"SQLite delivery store {self.path}: {exc}") from exc

    def _db(self) -> tuple[sqlite3.Connection, threading.Lock]:
        pair: tuple[sqlite3.Connection, threading.Lock] | None = getattr(self._local, "db", None)
        if pair is None:
            if self._closed:
                raise RegistryUnavailable("the SQLite delivery store is closed")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
            # The lock lets close() wait for a transaction another thread is running.
            pair = (db, threading.Lock())
            self._local.db = pair
            with self._all_lock:
                self._all.append(pair)
        return pair

    @contextmanager
    def _tx(self, immediate: bool = False) -> Iterator[sqlite3.Connection]:
        db, lock = self._db()
        with lock:
            if self._closed:
                raise RegistryUnavailable("the SQLite delivery store is closed")
            try:
                db.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            except sqlite3.Error as exc:
                raise RegistryUnavailable(f"SQLite delivery store {self.path}: {exc}") from exc
            try:
                yield db
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise RegistryUnavailable(f"SQLite delivery store {self.path}: {exc}") from exc
            except BaseException:
                db.execute("ROLLBACK")
                raise
            else:
                db.execute("COMMIT")

    def append(
        self, stream: str, message_id: str, data: str, *, now: float, ttl: int, max_len: int
    ) -> BufferedMessage:
        with self._tx(immediate=True) as db:
            (seq,) = db.execute(
                "INSERT INTO wsgate_stream_heads (stream, seq) VALUES (?, 1) "
                "ON CONFLICT (stream) DO UPDATE SET seq = seq + 1 RETURNING seq",
                (stream,),
            ).fetchone()
            message = BufferedMessage(stream, int(seq), message_id, data, now, int(now + ttl))
            db.execute(
                "INSERT OR REPLACE INTO wsgate_stream_buffer VALUES (?, ?, ?, ?, ?, ?)",
                (stream, message.seq, message_id, data, now, message.expires_at),
            )
            db.execute(
                "DELETE FROM wsgate_stream_buffer "
                "WHERE stream = ? AND (seq <= ? OR expires_at <= ?)",
                (stream, message.seq - max_len, now),
            )
        return message

    def latest(self, stream: str) -> int:
        with self._tx() as db:
            row = db.execute(
                "SELECT seq FROM wsgate_stream_heads WHERE stream = ?", (stream,)
            ).fetchone()
        return int(row[0]) if row else 0

    def read_after(
        self, stream: str, after: int, *, now: float, limit: int, max_len: int
    ) -> StreamSlice:
        with self._tx() as db:
            row = db.execute(
                "SELECT seq FROM wsgate_stream_heads WHERE stream = ?", (stream,)
            ).fetchone()
            latest = int(row[0]) if row else 0
            floor = latest - max_len
            rows = db.execute(
                "SELECT stream, seq, message_id, data, created_at, expires_at "
                "FROM wsgate_stream_buffer WHERE stream = ? AND seq > ? AND expires_at > ? "
                "ORDER BY seq LIMIT ?",
                (stream, max(after, floor), now, limit),
            ).fetchall()
        return StreamSlice(latest, [BufferedMessage(*r) for r in rows])

    def get_message(self, stream: str, seq: int, *, now: float) -> BufferedMessage | None:
        with self._tx() as db:
            row = db.execute(
                "SELECT stream, seq, message_id, data, created_at, expires_at "
                "FROM wsgate_stream_buffer WHERE stream = ? AND seq = ? AND expires_at > ?",
                (stream, seq, now),
            ).fetchone()
        return BufferedMessage(*row) if row else None

    def add_pending(self, entries: Sequence[Pending]) -> None:
        if not entries:
            return
        with self._tx(immediate=True) as db:
            db.executemany(
                f"INSERT OR REPLACE INTO wsgate_pending ({_PENDING_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (p.connection_id, p.stream, p.seq, p.attempts, p.due_at, p.expires_at)
                    for p in entries
                ],
            )

    def ack(self, connection_id: str, stream: str, seq: int) -> int:
        with self._tx(immediate=True) as db:
            cursor = db.execute(
                "DELETE FROM wsgate_pending WHERE connection_id = ? AND stream = ? AND seq <= ?",
                (connection_id, stream, seq),
            )
            return cursor.rowcount

    def pending_of(self, connection_id: str) -> list[Pending]:
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {_PENDING_COLUMNS} FROM wsgate_pending WHERE connection_id = ? "
                "ORDER BY stream, seq",
                (connection_id,),
            ).fetchall()
        return [Pending(*r) for r in rows]

    def due(self, now: float, limit: int) -> list[Pending]:
        with self._tx() as db:
            rows = db.execute(
                f"SELECT {_PENDING_COLUMNS} FROM wsgate_pending WHERE due_at <= ? "
                "ORDER BY due_at, connection_id, stream, seq LIMIT ?",
                (now, limit),
            ).fetchall()
        return [Pending(*r) for r in rows]

    def reschedule(self, entry: Pending, *, attempts: int, due_at: float) -> bool:
        with self._tx(immediate=True) as db:
            cursor = db.execute(
                "UPDATE wsgate_pending SET attempts = ?, due_at = ? WHERE connection_id = ? "
                "AND stream = ? AND seq = ? AND attempts = ?",
                (attempts, due_at, entry.connection_id, entry.stream, entry.seq, entry.attempts),
            )
            return cursor.rowcount == 1

    def remove_pending(self, connection_id: str, stream: str, seq: int) -> bool:
        with self._tx(immediate=True) as db:
            cursor = db.execute(
                "DELETE FROM wsgate_pending WHERE connection_id = ? AND stream = ? AND seq = ?",
                (connection_id, stream, seq),
            )
            return cursor.rowcount == 1

    def drop_connection(self, connection_id: str) -> list[Pending]:
        with self._tx(immediate=True) as db:
            rows = db.execute(
                f"DELETE FROM wsgate_pending WHERE connection_id = ? RETURNING {_PENDING_COLUMNS}",
                (connection_id,),
            ).fetchall()
        return sorted((Pending(*r) for r in rows), key=lambda p: (p.stream, p.seq))

    def claim(self, scope: str, key: str, *, now: float, lease: float, ttl: int) -> Claim:
        with self._tx(immediate=True) as db:
            row = db.execute(
                "SELECT status, reason, lease_until FROM wsgate_ack_ids "
                "WHERE scope = ? AND key = ? AND expires_at > ?",
                (scope, key, now),
            ).fetchone()
            if row is not None:
                if row[0] is not None:
                    return Claim(ClaimState.DONE, row[0], row[1])
                if row[2] > now:
                    return Claim(ClaimState.IN_PROGRESS)
            db.execute(
                "INSERT OR REPLACE INTO wsgate_ack_ids VALUES (?, ?, NULL, NULL, ?, ?)",
                (scope, key, now + lease, now + ttl),
            )
            if row is None and hash(key) % 64 == 0:
                db.execute("DELETE FROM wsgate_ack_ids WHERE expires_at <= ?", (now,))
        return Claim(ClaimState.NEW)

    def complete(
        self, scope: str, key: str, status: str, reason: str | None, *, now: float, ttl: int
    ) -> None:
        with self._tx(immediate=True) as db:
            db.execute(
                "INSERT OR REPLACE INTO wsgate_ack_ids VALUES (?, ?, ?, ?, ?, ?)",
                (scope, key, status, reason, now, now + ttl),
            )

    def release(self, scope: str, key: str) -> None:
        with self._tx(immediate=True) as db:
            db.execute("DELETE FROM wsgate_ack_ids WHERE scope = ? AND key = ?", (scope, key))

    def close(self) -> None:
        """Close every thread's database connection. The store is unusable afterwards."""
        self._closed = True
        with self._all_lock:
            connections, self._all = self._all, []
        for db, lock in connections:
            with lock:
                db.close()
