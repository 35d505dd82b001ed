"""The contract every registry backend implements: :class:`ConnectionRegistry`.

A :class:`typing.Protocol` (``isinstance`` works: it is runtime-checkable), kept apart from
:mod:`wsgate.registry.base` so that storing a connection does not import :mod:`typing`;
``from wsgate.registry.base import ConnectionRegistry`` still works (and loads this module).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

from wsgate.registry.base import DEFAULT_TOUCH_INTERVAL, UNSET, Connection, Unset

__all__ = ["ConnectionRegistry"]


@runtime_checkable
class ConnectionRegistry(Protocol):
    """What every registry backend provides. Synchronous and safe to share between threads.

    Reads never return expired records. Writes that need an existing connection raise
    :class:`~wsgate.exceptions.ConnectionNotFound`; backend failures raise
    :class:`~wsgate.exceptions.RegistryUnavailable`; bad arguments raise
    :class:`~wsgate.exceptions.InvalidRecordError`.
    """

    ttl: int

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
        """Record a connection (call from ``$connect``). Storing an existing id again updates its
        fields and keeps its rooms and topics, so a retried ``$connect`` is harmless.
        ``expires_at`` defaults to now + ``ttl``."""
        ...

    def get(self, connection_id: str) -> Connection | None:
        """The live record, or ``None`` when it is unknown or expired."""
        ...

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
        """Change fields of a live connection; ``merge_metadata`` merges instead of replacing.
        Raises ``ConnectionNotFound`` (never re-creates a deleted connection)."""
        ...

    def delete(self, connection_id: str) -> bool:
        """Remove a connection and its memberships (call from ``$disconnect`` or on Gone).
        True when a live record was removed."""
        ...

    def delete_many(self, connection_ids: Iterable[str]) -> int:
        """Remove many connections in batches (the sender prunes Gone ones through this).
        Returns how many live records were removed."""
        ...

    def touch(
        self,
        connection_id: str,
        now: float | None = None,
        *,
        min_interval: float = DEFAULT_TOUCH_INTERVAL,
    ) -> bool:
        """Record activity, at most one write per ``min_interval`` seconds per connection.
        True when last-activity was written."""
        ...

    def all(self) -> Iterator[Connection]:
        """Every live connection, streamed page by page."""
        ...

    def by_user(self, user_id: str) -> list[Connection]:
        """The live connections of one user (one per device or tab)."""
        ...

    def active_since(self, since: float) -> Iterator[Connection]:
        """Live connections whose last activity is at or after ``since`` (epoch seconds)."""
        ...

    def join(self, connection_id: str, room: str) -> bool:
        """Add the connection to a room; True when it was not a member. Raises
        ``ConnectionNotFound``."""
        ...

    def leave(self, connection_id: str, room: str) -> bool:
        """Remove the connection from a room; True when it was a member."""
        ...

    def room_members(self, room: str) -> list[Connection]:
        """The live connections in a room."""
        ...

    def rooms_of(self, connection_id: str) -> frozenset[str]:
        """The rooms a live connection is in (empty when it is unknown)."""
        ...

    def subscribe(self, connection_id: str, topic: str) -> bool:
        """Subscribe the connection to a topic; True when it was not subscribed. Raises
        ``ConnectionNotFound``."""
        ...

    def unsubscribe(self, connection_id: str, topic: str) -> bool:
        """Unsubscribe the connection from a topic; True when it was subscribed."""
        ...

    def subscribers(self, topic: str) -> list[Connection]:
        """The live connections subscribed to a topic."""
        ...

    def topics_of(self, connection_id: str) -> frozenset[str]:
        """The topics a live connection subscribes to (empty when it is unknown)."""
        ...

    def cleanup(self, now: float | None = None, *, max_age: float | None = None) -> int:
        """Delete expired records and, with ``max_age``, those idle for longer than ``max_age``
        seconds. Returns how many connections were removed. Run it on a schedule."""
        ...

    def count(self) -> int:
        """How many live connections there are."""
        ...

    def close(self) -> None:
        """Release the backend's resources. The registry is unusable afterwards."""
        ...


# --- helpers shared by the backends ---------------------------------------------------------
