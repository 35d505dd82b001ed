"""Where delivery state lives: stream sequences, the replay buffer, pending acks, ack ids.

Three backends implement :class:`DeliveryStore` — :class:`MemoryDeliveryStore` (tests, one
process), :class:`~wsgate.delivery.store_sqlite.SQLiteDeliveryStore` (the emulator, several
processes) and :class:`~wsgate.delivery.store_dynamodb.DynamoDBDeliveryStore` (production).
They behave the same; ``tests/delivery/test_store_contract.py`` runs one suite against all.

Rules every backend follows:

* ``append`` hands out sequence numbers 1, 2, 3, … per stream, atomically, even under
  concurrent writers in several processes.
* The replay buffer is bounded twice: an entry older than ``ttl`` seconds or more than
  ``max_len`` behind the newest is never returned, whether or not it has been deleted yet.
* ``reschedule`` is a compare-and-set on the attempt count, so two sweepers running at once
  redeliver a message once, not twice.
* A ``claim`` of an ack id is exclusive for ``lease`` seconds; after ``complete`` it answers
  ``done`` with the stored outcome until ``ttl`` runs out.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, runtime_checkable

__all__ = [
    "BufferedMessage",
    "Claim",
    "ClaimState",
    "DeliveryStore",
    "MemoryDeliveryStore",
    "Pending",
    "StreamSlice",
]


@dataclass(frozen=True, slots=True)
class BufferedMessage:
    """One message in a stream's replay buffer.

    Attributes:
        stream: The stream (``room:<name>`` or ``user:<id>``).
        seq: Its sequence number in the stream, from 1.
        message_id: A unique id, sent to the client for deduplication.
        data: The app's payload as JSON text.
        created_at: When it was appended, epoch seconds.
        expires_at: When it leaves the buffer, epoch seconds.
    """

    stream: str
    seq: int
    message_id: str
    data: str
    created_at: float
    expires_at: int


@dataclass(frozen=True, slots=True)
class StreamSlice:
    """What the buffer holds after a position.

    Attributes:
        latest: The newest sequence number handed out for the stream (0: none yet).
        messages: The live buffered messages after the position asked for, in sequence order.
            Continuity holds when the first one is the position + 1 (or ``latest`` is the
            position); otherwise the buffer no longer reaches back far enough.
    """

    latest: int
    messages: list[BufferedMessage]

    @property
    def oldest(self) -> int | None:
        """The oldest sequence number returned, or ``None`` when nothing was."""
        return self.messages[0].seq if self.messages else None


@dataclass(frozen=True, slots=True)
class Pending:
    """A message sent to one connection and not acknowledged yet.

    Attributes:
        connection_id: The connection it was sent to.
        stream: The message's stream.
        seq: The message's sequence number.
        attempts: How many times it has been posted.
        due_at: When to post it again unless acked, epoch seconds.
        expires_at: When the store may forget it, epoch seconds.
    """

    connection_id: str
    stream: str
    seq: int
    attempts: int
    due_at: float
    expires_at: int


class ClaimState(enum.Enum):
    """The outcome of claiming an ack id."""

    NEW = "new"
    """Nobody handled this id yet: run the handler, then ``complete``."""
    IN_PROGRESS = "in_progress"
    """Another invocation holds the claim right now."""
    DONE = "done"
    """Already handled; ``Claim.status``/``Claim.reason`` hold the answer given."""


@dataclass(frozen=True, slots=True)
class Claim:
    """The state of an ack id in the idempotency window."""

    state: ClaimState
    status: str | None = None
    reason: str | None = None


@runtime_checkable
class DeliveryStore(Protocol):
    """What every delivery backend provides. Synchronous and safe to share between threads.

    Backend failures raise :class:`~wsgate.exceptions.RegistryUnavailable`.
    """

    def append(
        self, stream: str, message_id: str, data: str, *, now: float, ttl: int, max_len: int
    ) -> BufferedMessage:
        """Give the next sequence number of ``stream`` to a message and buffer it."""
        ...

    def latest(self, stream: str) -> int:
        """The newest sequence number of ``stream`` (0 when nothing was sent)."""
        ...

    def read_after(
        self, stream: str, after: int, *, now: float, limit: int, max_len: int
    ) -> StreamSlice:
        """Up to ``limit`` live buffered messages with ``seq > after``, oldest first."""
        ...

    def get_message(self, stream: str, seq: int, *, now: float) -> BufferedMessage | None:
        """One live buffered message, or ``None`` when it has left the buffer."""
        ...

    def add_pending(self, entries: Sequence[Pending]) -> None:
        """Record messages awaiting an ack (one entry per connection and message)."""
        ...

    def ack(self, connection_id: str, stream: str, seq: int) -> int:
        """Forget the connection's pending messages of ``stream`` up to ``seq``; how many."""
        ...

    def pending_of(self, connection_id: str) -> list[Pending]:
        """The connection's pending messages, by stream then sequence."""
        ...

    def due(self, now: float, limit: int) -> list[Pending]:
        """Up to ``limit`` pending messages of any connection whose ``due_at <= now``."""
        ...

    def reschedule(self, entry: Pending, *, attempts: int, due_at: float) -> bool:
        """Set the attempt count and due time if ``entry.attempts`` is still current.
        False when another sweeper got there first or the entry is gone (acked)."""
        ...

    def remove_pending(self, connection_id: str, stream: str, seq: int) -> bool:
        """Forget one pending message; True when it was there."""
        ...

    def drop_connection(self, connection_id: str) -> list[Pending]:
        """Forget every pending message of a connection (it disconnected); returns them."""
        ...

    def claim(self, scope: str, key: str, *, now: float, lease: float, ttl: int) -> Claim:
        """Claim an ack id for handling. NEW when claimed (also when an earlier claim's lease
        ran out without ``complete``), else IN_PROGRESS or DONE."""
        ...

    def complete(
        self, scope: str, key: str, status: str, reason: str | None, *, now: float, ttl: int
    ) -> None:
        """Record the answer given for a claimed ack id; it is kept ``ttl`` seconds."""
        ...

    def release(self, scope: str, key: str) -> None:
        """Drop a claim without an answer (the handler failed), so a retry runs again."""
        ...

    def close(self) -> None:
        """Release the backend's resources."""
        ...


@dataclass(slots=True)
class _Idem:
    status: str | None
    reason: str | None
    lease_until: float
    expires_at: float


class MemoryDeliveryStore:
    """A delivery store in this process's memory: for tests and single-process servers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._heads: dict[str, int] = {}
        self._buffers: dict[str, dict[int, BufferedMessage]] = {}
        self._pending: dict[str, dict[tuple[str, int], Pending]] = {}
        self._idem: dict[tuple[str, str], _Idem] = {}

    def append(
        self, stream: str, message_id: str, data: str, *, now: float, ttl: int, max_len: int
    ) -> BufferedMessage:
        with self._lock:
            seq = self._heads.get(stream, 0) + 1
            self._heads[stream] = seq
            message = BufferedMessage(stream, seq, message_id, data, now, int(now + ttl))
            buffer = self._buffers.setdefault(stream, {})
            buffer[seq] = message
            for old in [s for s in buffer if s <= seq - max_len or buffer[s].expires_at <= now]:
                del buffer[old]
            return message

    def latest(self, stream: str) -> int:
        with self._lock:
            return self._heads.get(stream, 0)

    def read_after(
        self, stream: str, after: int, *, now: float, limit: int, max_len: int
    ) -> StreamSlice:
        with self._lock:
            latest = self._heads.get(stream, 0)
            floor = latest - max_len
            live = sorted(
                (
                    m
                    for m in self._buffers.get(stream, {}).values()
                    if m.expires_at > now and m.seq > floor
                ),
                key=lambda m: m.seq,
            )
        return StreamSlice(latest, [m for m in live if m.seq > after][:limit])

    def get_message(self, stream: str, seq: int, *, now: float) -> BufferedMessage | None:
        with self._lock:
            message = self._buffers.get(stream, {}).get(seq)
        return message if message is not None and message.expires_at > now else None

    def add_pending(self, entries: Sequence[Pending]) -> None:
        with self._lock:
            for entry in entries:
                self._pending.setdefault(entry.connection_id, {})[(entry.stream, entry.seq)] = entry

    def ack(self, connection_id: str, stream: str, seq: int) -> int:
        with self._lock:
            mine = self._pending.get(connection_id, {})
            keys = [k for k in mine if k[0] == stream and k[1] <= seq]
            for key in keys:
                del mine[key]
            return len(keys)

    def pending_of(self, connection_id: str) -> list[Pending]:
        with self._lock:
            return sorted(self._pending.get(connection_id, {}).values(), key=_order)

    def due(self, now: float, limit: int) -> list[Pending]:
        with self._lock:
            found = [p for mine in self._pending.values() for p in mine.values() if p.due_at <= now]
        found.sort(key=lambda p: (p.due_at, p.connection_id, p.stream, p.seq))
        return found[:limit]

    def reschedule(self, entry: Pending, *, attempts: int, due_at: float) -> bool:
        with self._lock:
            mine = self._pending.get(entry.connection_id, {})
            current = mine.get((entry.stream, entry.seq))
            if current is None or current.attempts != entry.attempts:
                return False
            mine[(entry.stream, entry.seq)] = replace(current, attempts=attempts, due_at=due_at)
            return True

    def remove_pending(self, connection_id: str, stream: str, seq: int) -> bool:
        with self._lock:
            return self._pending.get(connection_id, {}).pop((stream, seq), None) is not None

    def drop_connection(self, connection_id: str) -> list[Pending]:
        with self._lock:
            return sorted(self._pending.pop(connection_id, {}).values(), key=_order)

    def claim(self, scope: str, key: str, *, now: float, lease: float, ttl: int) -> Claim:
        with self._lock:
            record = self._idem.get((scope, key))
            if record is not None and record.expires_at > now:
                if record.status is not None:
                    return Claim(ClaimState.DONE, record.status, record.reason)
                if record.lease_until > now:
                    return Claim(ClaimState.IN_PROGRESS)
            self._idem[(scope, key)] = _Idem(None, None, now + lease, now + ttl)
            if len(self._idem) > 4096:
                self._forget_expired(now)
            return Claim(ClaimState.NEW)

    def complete(
        self, scope: str, key: str, status: str, reason: str | None, *, now: float, ttl: int
    ) -> None:
        with self._lock:
            self._idem[(scope, key)] = _Idem(status, reason, now, now + ttl)

    def release(self, scope: str, key: str) -> None:
        with self._lock:
            self._idem.pop((scope, key), None)

    def close(self) -> None:
        """Nothing to release; the state stays readable."""

    def _forget_expired(self, now: float) -> None:
        for key in [k for k, v in self._idem.items() if v.expires_at <= now]:
            del self._idem[key]


def _order(entry: Pending) -> tuple[str, int]:
    return (entry.stream, entry.seq)


def chunks(items: Iterable[Pending], size: int) -> Iterable[list[Pending]]:
    """Split ``items`` into lists of at most ``size`` (for batched writes)."""
    batch: list[Pending] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
