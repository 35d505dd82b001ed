"""The emulator's accept path: one port answers TLS (https, wss) and plain HTTP/WebSocket alike.

Each accepted socket is watched until its first byte arrives; the byte is peeked (left in the
socket), never read. A TLS ClientHello starts with the handshake record type ``0x16``, which no
HTTP request line can: such a socket is handed to asyncio with the server's
:class:`ssl.SSLContext`, any other one without. Above that, the emulator's protocol sees a
transport either way.

- A client that sends nothing within ``first_byte_timeout`` is closed (never held forever).
- A TLS handshake that does not finish within ``handshake_timeout`` is closed by asyncio.
- A TLS client while TLS is off (``--no-tls``) gets a fatal ``handshake_failure`` alert and the
  socket is closed at once, with a log line: its SDK fails fast instead of waiting out timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Listener"]

logger = logging.getLogger("wsgate.local")

TLS_HANDSHAKE = 0x16
#: A TLS record: alert (21), TLS 1.2 framing, 2 bytes: fatal (2), handshake_failure (40).
TLS_ALERT_HANDSHAKE_FAILURE = bytes([21, 3, 3, 0, 2, 2, 40])
_ACCEPT_PAUSE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_REFUSAL_LOG_INTERVAL = 5.0


class Listener:
    """Listening sockets whose connections are handed to ``protocol_factory``, with or without TLS.

    The subset of :class:`asyncio.Server` the emulator uses: :attr:`sockets`, :meth:`close`,
    :meth:`wait_closed`, :meth:`serve_forever`.

    Args:
        protocol_factory: Makes the protocol of each connection.
        tls: Server context for TLS connections; ``None`` refuses them.
        first_byte_timeout: Seconds a new connection may stay silent.
        handshake_timeout: Seconds a TLS handshake may take.
    """

    def __init__(
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        *,
        tls: ssl.SSLContext | None,
        first_byte_timeout: float = 10.0,
        handshake_timeout: float = 10.0,
    ) -> None:
        self._factory = protocol_factory
        self._tls = tls
        self._first_byte_timeout = first_byte_timeout
        self._handshake_timeout = handshake_timeout
        self.sockets: list[socket.socket] = []
        self._waiting: dict[socket.socket, tuple[asyncio.TimerHandle, Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unstarted: dict[asyncio.Task[Any], socket.socket] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed: asyncio.Future[None] | None = None
        self._last_refusal_log = -_REFUSAL_LOG_INTERVAL

    async def start(self, host: str, port: int, *, backlog: int = 100) -> None:
        """Bind every address ``host`` resolves to (as :meth:`asyncio.loop.create_server`).

        Raises:
            OSError: An address cannot be bound (nothing stays bound then).
        """
        loop = self._loop = asyncio.get_running_loop()
        self._closed = loop.create_future()
        infos = await loop.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        try:
            for family, kind, proto, _name, address in dict.fromkeys(infos):
                sock = socket.socket(family, kind, proto)
                self.sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.bind(address)
                sock.listen(backlog)
                sock.setblocking(False)
        except OSError:
            for sock in self.sockets:
                sock.close()
            self.sockets.clear()
            raise
        for sock in self.sockets:
            loop.add_reader(sock.fileno(), self._accept, sock, backlog)

    # --- accepting ---------------------------------------------------------------------------

    def _accept(self, listening: socket.socket, backlog: int) -> None:
        loop = self._loop
        assert loop is not None
        for _ in range(backlog):
            try:
                conn, peer = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:
                if exc.errno not in _ACCEPT_PAUSE_ERRNOS:
                    raise
                # Out of file descriptors: stop accepting for a second (as asyncio does).
                logger.error("cannot accept connections (%s); retrying in 1 s", exc)
                loop.remove_reader(listening.fileno())
                loop.call_later(1.0, self._resume_accept, listening, backlog)
                return
            conn.setblocking(False)
            try:
                head = conn.recv(1, socket.MSG_PEEK)  # often there already: decide at once
            except (BlockingIOError, InterruptedError):
                timer = loop.call_later(self._first_byte_timeout, self._silent, conn)
                self._waiting[conn] = (timer, peer)
                loop.add_reader(conn.fileno(), self._first_byte, conn)
            except OSError:
                conn.close()
            else:
                self._dispatch(conn, head, peer)

    def _resume_accept(self, listening: socket.socket, backlog: int) -> None:
        if self._loop is not None and listening.fileno() >= 0:
            self._loop.add_reader(listening.fileno(), self._accept, listening, backlog)

    def _silent(self, conn: socket.socket) -> None:
        _timer, peer = self._forget(conn)
        logger.debug("closing %s: nothing sent within %.1f s", peer, self._first_byte_timeout)
        conn.close()

    def _forget(self, conn: socket.socket) -> tuple[asyncio.TimerHandle, Any]:
        assert self._loop is not None
        self._loop.remove_reader(conn.fileno())
        timer, peer = self._waiting.pop(conn)
        timer.cancel()
        return timer, peer

    def _first_byte(self, conn: socket.socket) -> None:
        if conn not in self._waiting:
            return  # already closed (timer, or close()) in this same loop turn
        try:
            head = conn.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return  # spurious wake-up: keep waiting (the timer still runs)
        except OSError:
            head = b""
        _timer, peer = self._forget(conn)
        self._dispatch(conn, head, peer)

    def _dispatch(self, conn: socket.socket, head: bytes, peer: Any) -> None:
        if not head:
            conn.close()  # closed (or reset) before sending anything
            return
        if head[0] != TLS_HANDSHAKE:
            self._hand_over(conn, None)
        elif self._tls is not None:
            self._hand_over(conn, self._tls)
        else:
            self._refuse_tls(conn, peer)

    def _hand_over(self, conn: socket.socket, context: ssl.SSLContext | None) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._connect(conn, context))
        self._tasks.add(task)
        self._unstarted[task] = conn
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        conn = self._unstarted.pop(task, None)
        if conn is not None:
            conn.close()  # cancelled before its first step: the socket is still ours

    async def _connect(self, conn: socket.socket, context: ssl.SSLContext | None) -> None:
        assert self._loop is not None
        self._unstarted.pop(asyncio.current_task(), None)  # type: ignore[arg-type]
        try:
            if context is None:
                await self._loop.connect_accepted_socket(self._factory, conn)
            else:
                await self._loop.connect_accepted_socket(
                    self._factory, conn, ssl=context, ssl_handshake_timeout=self._handshake_timeout
                )
        except asyncio.CancelledError:
            conn.close()
            raise
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            conn.close()
            logger.debug("connection not established: %r", exc)

    def _refuse_tls(self, conn: socket.socket, peer: Any) -> None:
        now = time.monotonic()
        if now - self._last_refusal_log >= _REFUSAL_LOG_INTERVAL:
            self._last_refusal_log = now
            logger.warning(
                "refused a TLS connection from %s: TLS is off (--no-tls); use http:// and ws://",
                peer,
            )
        with contextlib.suppress(OSError):
            conn.recv(65536)  # the ClientHello: read, so the close is a FIN, not a reset
            conn.send(TLS_ALERT_HANDSHAKE_FAILURE)
        conn.close()

    # --- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Stop accepting; close connections not yet handed over. Established ones stay."""
        loop = self._loop
        if loop is None:
            return
        for sock in self.sockets:
            if sock.fileno() >= 0:
                loop.remove_reader(sock.fileno())
            sock.close()
        for conn in list(self._waiting):
            self._forget(conn)
            conn.close()
        for task in self._tasks:
            task.cancel()
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    async def wait_closed(self) -> None:
        """Wait until connections that were being handed over are settled (and closed)."""
        if self._tasks:
            # A cancelled hand-over closes its transport (the socket goes in a callback queued
            # before the task ends); one cancelled before it started closes its socket in
            # _settled. Nothing is left for the garbage collector.
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def serve_forever(self) -> None:
        """Wait until :meth:`close`; when cancelled, close and re-raise."""
        assert self._closed is not None
        try:
            await asyncio.shield(self._closed)
        except asyncio.CancelledError:
            self.close()
            await self.wait_closed()
            raise
