"""A recording Management API transport that delivers to in-process test sessions.

:class:`RecordingTransport` implements :class:`wsgate.sender.Transport` (``post``, ``get``,
``delete``) the way API Gateway's ``@connections`` API answers, but instead of HTTP it hands
each message to the :class:`~wsgate.testing.client.WebSocketTestClient` session of that
connection and records every call. It raises what AWS would: 410
(:class:`~wsgate.exceptions.ConnectionGoneError`) for an unknown, closed or still-connecting
connection, 403 (:class:`~wsgate.exceptions.ForbiddenError`) for a wrong endpoint.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from wsgate.exceptions import ConnectionGoneError, ForbiddenError
from wsgate.sender.transport import ConnectionInfo

__all__ = ["ManagementCall", "Recipient", "RecordingTransport"]


class Recipient(Protocol):
    """What the transport needs from a live in-process session."""

    connection_id: str
    connected_at_ms: int
    last_active_ms: int
    identity: dict[str, str]

    def deliver(self, data: bytes) -> None:
        """Queue one server-to-client message."""

    def server_close(self) -> None:
        """Close from the server side (DeleteConnection): 1000, then ``$disconnect``."""


@dataclass(frozen=True, slots=True)
class ManagementCall:
    """One recorded ``@connections`` call.

    Attributes:
        method: ``"POST"`` (PostToConnection), ``"GET"`` or ``"DELETE"``.
        endpoint: The management endpoint the call went to.
        connection_id: The target connection.
        data: The posted bytes (``b""`` for GET and DELETE).
        status: The status API Gateway would have answered (200, 204, 403, 410).
    """

    method: str
    endpoint: str
    connection_id: str
    data: bytes
    status: int


class RecordingTransport:
    """``@connections`` in process: delivers posts to sessions, records every call.

    Args:
        lookup: Returns the live session for a connection id, or ``None`` when there is none
            (unknown, closed, or its ``$connect`` still running).
        endpoints: The management endpoints that belong to this API; a call to another one
            fails with 403 as on AWS (wrong stage or API id). Empty accepts any endpoint.
    """

    def __init__(
        self,
        lookup: Callable[[str], Recipient | None],
        endpoints: frozenset[str] = frozenset(),
    ) -> None:
        self._lookup = lookup
        self.endpoints = frozenset(e.rstrip("/") for e in endpoints)
        self._lock = threading.Lock()
        self._calls: list[ManagementCall] = []

    @property
    def calls(self) -> list[ManagementCall]:
        """Every call so far, in order (a copy)."""
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        """Forget the recorded calls."""
        with self._lock:
            self._calls.clear()

    def _record(
        self, method: str, endpoint: str, connection_id: str, data: bytes, status: int
    ) -> None:
        with self._lock:
            self._calls.append(ManagementCall(method, endpoint, connection_id, data, status))

    def _target(self, method: str, endpoint: str, connection_id: str, data: bytes) -> Recipient:
        if self.endpoints and endpoint.rstrip("/") not in self.endpoints:
            self._record(method, endpoint, connection_id, data, 403)
            raise ForbiddenError(connection_id, 403, f"ForbiddenException: unknown {endpoint}")
        session = self._lookup(connection_id)
        if session is None:
            self._record(method, endpoint, connection_id, data, 410)
            raise ConnectionGoneError(connection_id, 410, "GoneException")
        return session

    async def post(self, endpoint: str, connection_id: str, data: bytes) -> None:
        """PostToConnection: queue ``data`` on the session (raises 410/403 as AWS)."""
        session = self._target("POST", endpoint, connection_id, data)
        session.deliver(bytes(data))
        self._record("POST", endpoint, connection_id, bytes(data), 200)

    async def get(self, endpoint: str, connection_id: str) -> ConnectionInfo:
        """GetConnection: the session's connect time, last activity and identity."""
        session = self._target("GET", endpoint, connection_id, b"")
        self._record("GET", endpoint, connection_id, b"", 200)
        return ConnectionInfo(
            connection_id,
            datetime.fromtimestamp(session.connected_at_ms / 1000, UTC),
            datetime.fromtimestamp(session.last_active_ms / 1000, UTC),
            dict(session.identity),
        )

    async def delete(self, endpoint: str, connection_id: str) -> None:
        """DeleteConnection: close the session (1000) and run its ``$disconnect`` first.

        The ``$disconnect`` handler runs in a worker thread before this returns, so a test
        sees its effects as soon as the handler that disconnected the client returns.
        """
        session = self._target("DELETE", endpoint, connection_id, b"")
        self._record("DELETE", endpoint, connection_id, b"", 204)
        await asyncio.to_thread(session.server_close)
