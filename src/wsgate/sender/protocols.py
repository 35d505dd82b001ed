"""The two protocols a user can implement: a :class:`Transport` and a :class:`CredentialsProvider`.

Kept apart from the modules that use them because :mod:`typing` costs ~5 ms to import on a
small Lambda and nothing on the send path needs it at run time; ``wsgate.sender`` (and
``wsgate.sender.transport`` / ``.credentials``) load this module on first access to either
name.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from wsgate.sender.credentials import Credentials
from wsgate.sender.transport import ConnectionInfo

__all__ = ["CredentialsProvider", "Transport"]


@runtime_checkable
class CredentialsProvider(Protocol):
    """Anything that hands out current credentials (called for every signature: be cheap)."""

    def get(self) -> Credentials:
        """Returns credentials valid now, or raises :class:`ConfigurationError`."""
        ...


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
