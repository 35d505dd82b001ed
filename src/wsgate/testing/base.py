"""What the in-process and the over-the-socket test clients and sessions share.

:class:`~wsgate.testing.session.WebSocketTestSession` (in process) and
:class:`~wsgate.testing.remote.RemoteSession` (a real socket to ``wsgate serve``) differ in how
a text frame travels; everything built on top of sending and receiving text is here once, so
one test body behaves the same against both.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType
    from typing import Self

    from wsgate.sender import Sender

__all__ = ["BaseClient", "BaseSession"]


class BaseSession(ABC):
    """The session API: text primitives are abstract, JSON/bytes forms and lifecycle shared.

    Attributes:
        connection_id: API Gateway's id for this connection.
        close_code: The close code once closed, else ``None``.
        close_reason: The close reason once closed.
    """

    connection_id: str
    close_code: int | None
    close_reason: str

    def __repr__(self) -> str:
        state = "open" if self.close_code is None else f"closed {self.close_code}"
        return f"<{type(self).__name__} {self.connection_id} {state}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(1000)

    @property
    def closed(self) -> bool:
        """Whether the connection is closed (by either side)."""
        return self.close_code is not None

    @abstractmethod
    def send_text(self, text: str) -> None:
        """Send one text frame.

        Raises:
            SessionClosed: The connection is closed.
            TypeError: ``text`` is not a ``str``.
        """

    @abstractmethod
    def receive_text(self, timeout: float | None = None) -> str:
        """The next message the server sent to this connection, as text.

        Raises:
            ReceiveTimeout: Nothing arrived in time (also a ``TimeoutError``).
            SessionClosed: The connection is closed and every message has been read.
        """

    @abstractmethod
    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side with ``code``. Closing twice does nothing."""

    def send_json(self, value: Any) -> None:
        """Send ``value`` as compact JSON text (what a browser's ``JSON.stringify`` sends).

        Raises:
            SessionClosed: The connection is already closed.
            TypeError: ``value`` is not JSON-serialisable.
        """
        self.send_text(json.dumps(value, separators=(",", ":"), ensure_ascii=False))

    def receive_json(self, timeout: float | None = None) -> Any:
        """The next message, parsed as JSON.

        Raises:
            ReceiveTimeout, SessionClosed: As :meth:`receive_text`.
            ValueError: The message is not JSON (``json.JSONDecodeError``).
        """
        return json.loads(self.receive_text(timeout))

    def receive_bytes(self, timeout: float | None = None) -> bytes:
        """The next message as the bytes that were posted. Raises as :meth:`receive_text`."""
        return self.receive_text(timeout).encode("utf-8")


class BaseClient(ABC):
    """The test client API shared by ``WebSocketTestClient`` and ``RemoteTestClient``: server-side
    actions go through the client's :attr:`sender`, as a backend's would."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    @abstractmethod
    def sender(self) -> Sender:
        """The :class:`~wsgate.sender.Sender` aimed at this client's API."""

    @abstractmethod
    def close(self) -> None:
        """Close every open session and release what the client holds. Safe to call twice."""

    def send(self, connection_id: str, data: Any) -> None:
        """PostToConnection from outside any handler (bytes, str, or dict/list as JSON).

        Raises:
            ConnectionGoneError: No such open connection (410); it is pruned from the
                sender's registry.
        """
        self.sender.send(connection_id, data)

    def disconnect(self, connection_id: str) -> None:
        """DeleteConnection: the client sees 1000 and ``$disconnect`` runs (in process: before
        this returns; against a server: right after, so poll with ``wait_for`` for its effects).

        Raises:
            ConnectionGoneError: No such open connection (410).
        """
        self.sender.close(connection_id)
