"""One in-process WebSocket connection of a :class:`~wsgate.testing.client.WebSocketTestClient`.

A :class:`WebSocketTestSession` is what ``client.connect(...)`` returns: the client side of one
connection. Sending runs the app's handler for the message in the calling thread (route
selection, two-way responses and error frames exactly as ``wsgate serve`` does them), and every
message the server side sends to this connection — a two-way response, an error frame, or a
``PostToConnection`` from any handler — waits in the session's inbox for ``receive_*``.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any

from wsgate.exceptions import ReceiveTimeout, SessionClosed
from wsgate.local.config import MAX_FRAME_BYTES
from wsgate.local.eventgen import DISCONNECT_REASONS
from wsgate.testing.base import BaseSession

if TYPE_CHECKING:
    from wsgate.testing.client import WebSocketTestClient
    from wsgate.testing.factories import ConnectionEvents

__all__ = ["WebSocketTestSession"]

_CLOSED = object()  # the inbox marker that the connection closed


class WebSocketTestSession(BaseSession):
    """The client side of one in-process WebSocket connection.

    Use it as a context manager (leaving the block closes with 1000 if still open), or call
    :meth:`close` yourself. Thread-safe: handlers running in other threads may deliver to it
    while the test thread receives.

    Attributes:
        connection_id: API Gateway's id for this connection (16 characters, ends in ``=``).
        subprotocol: The ``Sec-WebSocket-Protocol`` ``$connect`` answered with, if any.
        response_headers: Every header ``$connect`` put on the handshake response.
        events: The builder of this connection's events (its ids, domain, authorizer).
        close_code: The close code once closed, else ``None``.
        close_reason: The close reason once closed.
    """

    def __init__(
        self,
        client: WebSocketTestClient,
        events: ConnectionEvents,
        response_headers: dict[str, str],
    ) -> None:
        self._client = client
        self.events = events
        self.connection_id = events.connection_id
        self.connected_at_ms = events.connected_at
        self.last_active_ms = events.connected_at
        self.identity: dict[str, str] = {"sourceIp": events.source_ip}
        if events.user_agent is not None:
            self.identity["userAgent"] = events.user_agent
        self.response_headers = response_headers
        self.subprotocol: str | None = next(
            (v for k, v in response_headers.items() if k.lower() == "sec-websocket-protocol"),
            None,
        )
        self.close_code: int | None = None
        self.close_reason = ""
        self._inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()

    # --- sending ------------------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        """Send one text message; its handler runs before this returns.

        A message over API Gateway's 32 KB frame limit closes the connection with 1009, as on
        AWS; the next ``receive_*`` then raises :class:`~wsgate.exceptions.SessionClosed`.

        Raises:
            SessionClosed: The connection is already closed.
            TypeError: ``text`` is not a ``str``.
        """
        if not isinstance(text, str):
            raise TypeError(f"send_text takes a str, not {type(text).__name__}")
        self._check_open()
        if len(text.encode("utf-8")) > MAX_FRAME_BYTES:
            self._closed_by_server(1009, DISCONNECT_REASONS[1009])
            return
        self.last_active_ms = int(time.time() * 1000)
        self._client._on_message(self, text)

    def send_bytes(self, data: bytes) -> None:
        """Send a binary frame: API Gateway refuses it and closes the connection with 1003.

        Raises:
            SessionClosed: The connection is already closed.
        """
        self._check_open()
        self._closed_by_server(1003, DISCONNECT_REASONS[1003])

    # --- receiving ----------------------------------------------------------------------------

    def receive_text(self, timeout: float | None = None) -> str:
        """The next message the server sent to this connection, as text.

        Args:
            timeout: Seconds to wait; the client's ``timeout`` when omitted.

        Raises:
            ReceiveTimeout: Nothing arrived in time (also a ``TimeoutError``).
            SessionClosed: The connection is closed and every message has been read.
        """
        wait = self._client.timeout if timeout is None else timeout
        try:
            item = self._inbox.get(timeout=max(0.0, wait))
        except queue.Empty:
            raise ReceiveTimeout(self.connection_id, wait) from None
        if item is _CLOSED:
            self._inbox.put(_CLOSED)  # every later receive fails the same way
            raise SessionClosed(self.connection_id, self.close_code or 1006, self.close_reason)
        data: bytes = item
        return data.decode("utf-8", errors="replace")

    # --- closing ------------------------------------------------------------------------------

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side; ``$disconnect`` runs (with this code) before it returns.

        ``code=1005`` sends a close frame without a status (``$disconnect`` then reports
        ``"Client-side close frame status not set"``). Closing twice does nothing.
        """
        if not self._mark_closed(code, reason):
            return
        if code == 1005:
            reason = DISCONNECT_REASONS[1005]
        self._client._on_closed(self, code, reason)

    def drop(self) -> None:
        """Lose the connection without a close frame (``$disconnect`` sees 1006)."""
        if self._mark_closed(1006, ""):
            self._client._on_closed(self, 1006, "")

    # --- used by the client and the transport -------------------------------------------------

    def deliver(self, data: bytes) -> None:
        """Queue one server-to-client message (called by the client and the transport)."""
        with self._lock:
            if self.close_code is None:
                self.last_active_ms = int(time.time() * 1000)
                self._inbox.put(bytes(data))

    def server_close(self) -> None:
        """DeleteConnection: close with 1000 and run ``$disconnect``."""
        self._closed_by_server(1000, DISCONNECT_REASONS[1000])

    def _closed_by_server(self, code: int, reason: str) -> None:
        if self._mark_closed(code, reason):
            self._client._on_closed(self, code, reason)

    def _mark_closed(self, code: int, reason: str) -> bool:
        with self._lock:
            if self.close_code is not None:
                return False
            self.close_code = code
            self.close_reason = reason
            self._inbox.put(_CLOSED)
            return True

    def _check_open(self) -> None:
        if self.close_code is not None:
            raise SessionClosed(self.connection_id, self.close_code, self.close_reason)
