"""The protocols of the sender: a :class:`Transport` (user-implementable) and the engine capability.

Kept apart from the modules that use them because :mod:`typing` costs ~5 ms to import on a
small Lambda and nothing on the send path needs it at run time; ``wsgate.sender`` (and
``wsgate.sender.transport`` / ``.credentials``) load this module on first access to either
name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from wsgate.aws.protocols import CredentialsProvider
from wsgate.sender.transport import ConnectionInfo

if TYPE_CHECKING:
    from wsgate.aws.retry import RetryPolicy
    from wsgate.sender.broadcast import BroadcastResult

__all__ = ["CredentialsProvider", "SynchronousTransport", "Transport"]


@runtime_checkable
class Transport(Protocol):
    """One attempt of one ``@connections`` call against one endpoint.

    ``endpoint`` is the management endpoint (``https://{api-id}.execute-api.{region}.
    amazonaws.com/{stage}`` or the emulator's ``http://127.0.0.1:PORT/{stage}``) and
    ``connection_id`` the raw (unencoded) id. Each method raises a
    :class:`~wsgate.exceptions.SendError` subclass on failure: ``ConnectionGoneError`` (410),
    ``ForbiddenError`` (403), ``PayloadTooLargeError`` (413), ``ThrottledError`` (429),
    ``ServerError`` (5xx), ``TransportError`` (network, timeout) or plain ``SendError``.
    Methods are called on the sender's event loop; an ``aclose()`` coroutine, when present,
    is awaited by :meth:`Sender.shutdown`.
    """

    async def post(self, endpoint: str, connection_id: str, data: bytes) -> None:
        """PostToConnection: deliver ``data`` (at most 131,072 bytes) as one message."""
        ...

    async def get(self, endpoint: str, connection_id: str) -> ConnectionInfo:
        """GetConnection: describe a live connection."""
        ...

    async def delete(self, endpoint: str, connection_id: str) -> None:
        """DeleteConnection: close the connection (the client sees close code 1000)."""
        ...


@runtime_checkable
class SynchronousTransport(Protocol):
    """A transport that runs whole calls — retries and fan-out included — in the caller's
    thread: the capability :class:`~wsgate.sender.Sender` looks for (``synchronous`` is
    ``True``). :class:`~wsgate.sender.HttpTransport` is one; any other transport is driven
    through :class:`~wsgate.sender.async_engine.AsyncEngine`, which offers the same methods.
    """

    synchronous: ClassVar[bool]

    def call(
        self,
        method: str,
        endpoint: str,
        connection_id: str,
        body: bytes,
        policy: RetryPolicy,
        deadline: float | None,
        stop: float | None = None,
    ) -> Any:
        """PostToConnection or DeleteConnection with retries; raises a ``SendError``."""
        ...

    def get_info(
        self,
        endpoint: str,
        connection_id: str,
        policy: RetryPolicy,
        deadline: float | None,
        stop: float | None = None,
    ) -> ConnectionInfo:
        """GetConnection with retries; raises a ``SendError``."""
        ...

    def post_many(
        self,
        work: list[tuple[str, str]],
        data: bytes,
        policy: RetryPolicy,
        deadline: float | None,
        max_concurrency: int,
        result: BroadcastResult,
    ) -> None:
        """PostToConnection to every ``(endpoint, id)``; fills ``result``, never raises."""
        ...

    def close(self) -> None:
        """Releases idle connections."""
        ...
