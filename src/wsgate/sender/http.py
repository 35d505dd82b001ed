"""A narrow asyncio HTTP/1.1 client: keep-alive connection pool, timeouts, TLS.

Built on :class:`asyncio.Protocol` rather than streams: a request is one ``write`` and the
response is parsed in ``data_received`` (:mod:`wsgate.sender.response`), which resolves
one future. That is the cheapest path asyncio offers (see docs/sender.md for the figures).

Connections are kept alive and reused most-recently-used first. A reused connection that
the server had closed while idle (EOF before any response byte) is retried once on a fresh
connection, which is safe: the server never saw the request. Idle connections older than
``idle_timeout`` are dropped rather than reused. TLS verifies the certificate chain and the
host name (``ssl.create_default_context()`` unless a context is given).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from wsgate.sender.response import HTTPProtocolError, Response, ResponseParser

if TYPE_CHECKING:
    import ssl

__all__ = ["ConnectionClosed", "ConnectionPool", "HTTPConnection"]

_READ_BUFFER = 4096  # per connection: 1 MiB for 256 connections; an answer is ~400 bytes


class ConnectionClosed(ConnectionError):
    """The server closed the connection before a complete response.

    Attributes:
        got_bytes: Whether any byte of a response had arrived (if not, and the connection
            was reused, the request was never processed and may be sent again).
    """

    def __init__(self, got_bytes: bool) -> None:
        super().__init__("connection closed before a complete response")
        self.got_bytes = got_bytes


def _timeout(waiter: asyncio.Future[Response]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no response within the timeout"))


class _Sweeper:
    """One periodic timer for every request in flight, instead of one timer per request.

    A timer per request costs a heap push and a cancelled entry per exchange; at 10,000
    requests a second that is measurable. The price is precision: a timeout fires up to
    ``interval`` late.
    """

    __slots__ = ("_loop", "handle", "interval", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self._loop = loop
        self.interval = interval
        self.waiting: dict[asyncio.Future[Response], float] = {}
        self.handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Starts the timer (callers add to ``waiting`` and start it when ``handle`` is None)."""
        self.handle = self._loop.call_later(self.interval, self._sweep)

    def _sweep(self) -> None:
        now = self._loop.time()
        for waiter, deadline in self.waiting.items():
            if deadline <= now:
                _timeout(waiter)  # the awaiting request removes it from ``waiting``
        self.handle = self._loop.call_later(self.interval, self._sweep) if self.waiting else None


class HTTPConnection(asyncio.BufferedProtocol):
    """One keep-alive connection carrying one request at a time.

    A buffered protocol: asyncio's plain ``Protocol`` reads with ``recv(256 KiB)``, which
    allocates (and frees) a 256 KiB object for every ~400-byte answer; measured ≈ 15 µs per
    read here. Reading into this connection's own small buffer costs ≈ 1 µs. Longer answers
    simply take several reads.
    """

    __slots__ = (
        "_buffer",
        "_got_bytes",
        "_parser",
        "_transport",
        "_view",
        "_waiter",
        "closed",
        "last_used",
    )

    def __init__(self) -> None:
        self._buffer = bytearray(_READ_BUFFER)
        self._view = memoryview(self._buffer)
        self._transport: asyncio.Transport | None = None
        self._parser = ResponseParser()
        self._waiter: asyncio.Future[Response] | None = None
        self._got_bytes = False
        self.closed = False
        self.last_used = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        try:
            responses = self._parser.feed(data)
        except HTTPProtocolError as exc:
            self._fail(exc)
            return
        if responses:
            waiter = self._waiter
            if waiter is None or len(responses) > 1:
                self._fail(HTTPProtocolError("unsolicited response"))
                return
            self._waiter = None
            if not waiter.done():
                waiter.set_result(responses[0])

    def eof_received(self) -> bool:
        return False  # close our side too; connection_lost settles the waiter

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            return
        try:
            response = self._parser.feed_eof()
        except HTTPProtocolError as error:
            waiter.set_exception(error)
            return
        if response is not None:
            waiter.set_result(response)
        else:
            waiter.set_exception(ConnectionClosed(self._got_bytes))

    def _fail(self, exc: Exception) -> None:
        self.closed = True
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self._transport is not None:
            self._transport.abort()

    def start(self, request: bytes, loop: asyncio.AbstractEventLoop) -> asyncio.Future[Response]:
        """Writes one request; returns the future its response will resolve.

        The caller awaits the future and calls :meth:`abandon` if that raises. (A plain
        method rather than a coroutine: one coroutine frame less on every send.)

        Raises:
            ConnectionClosed: The connection is closed already (nothing was written).
        """
        transport = self._transport
        if transport is None or self.closed or transport.is_closing():
            raise ConnectionClosed(False)
        waiter: asyncio.Future[Response] = loop.create_future()
        self._waiter = waiter
        self._got_bytes = False
        transport.write(request)
        return waiter

    def abandon(self) -> None:
        """After a timeout, cancellation or failure: the state is unknown, so abort."""
        self._waiter = None
        self.closed = True
        if self._transport is not None:
            self._transport.abort()

    def close(self) -> None:
        """Closes the connection (idempotent)."""
        self.closed = True
        if self._transport is not None:
            self._transport.close()


class ConnectionPool:
    """Keep-alive connections per (scheme, host, port).

    Args:
        ssl_context: Used for ``https``; defaults to ``ssl.create_default_context()``
            (certificate and host-name verification on).
        connect_timeout: Seconds for TCP connect plus TLS handshake.
        read_timeout: Seconds from writing a request to its complete response.
        max_idle: Idle connections kept per host (the rest are closed).
        idle_timeout: Idle connections older than this are not reused (servers close idle
            keep-alive connections; API Gateway does after some tens of seconds).
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        max_idle: int = 512,
        idle_timeout: float = 30.0,
    ) -> None:
        self._ssl_context = ssl_context
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self._idle: dict[tuple[str, str, int], list[HTTPConnection]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sweeper: _Sweeper | None = None
        self.connections_opened = 0

    def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            import ssl

            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    async def _connect(self, scheme: str, host: str, port: int) -> HTTPConnection:
        loop = asyncio.get_running_loop()
        tls = scheme == "https"
        coro = loop.create_connection(
            HTTPConnection,
            host,
            port,
            ssl=self._ssl() if tls else None,
            server_hostname=host if tls else None,
        )
        _, conn = await asyncio.wait_for(coro, self.connect_timeout)
        self.connections_opened += 1
        return conn

    async def request(self, scheme: str, host: str, port: int, request: bytes) -> Response:
        """Sends ``request`` (complete bytes) and returns the response.

        Raises:
            OSError: Connecting failed (refused, unreachable, TLS verification).
            TimeoutError: Connecting or answering took too long.
            ConnectionClosed: The server closed the connection without answering.
            HTTPProtocolError: The server's answer was not valid HTTP/1.1.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # Connections belong to the loop that opened them (a new loop after a fork, or a
            # test calling asyncio.run twice): forget the old ones.
            self._drop_all()
            self._loop = loop
            interval = max(0.01, min(0.1, self.read_timeout / 4))
            self._sweeper = _Sweeper(loop, interval)
        sweeper = self._sweeper
        assert sweeper is not None
        key = (scheme, host, port)
        idle = self._idle.get(key)
        if idle is None:
            idle = self._idle[key] = []
        conn: HTTPConnection | None = None
        now = loop.time()
        while idle:
            candidate = idle.pop()
            if candidate.closed or now - candidate.last_used > self.idle_timeout:
                candidate.close()
                continue
            conn = candidate
            break
        fresh = conn is None
        while True:
            if conn is None:
                conn = await self._connect(scheme, host, port)
                fresh = True
            try:
                waiter = conn.start(request, loop)
            except ConnectionClosed:
                if fresh:  # pragma: no cover - closed between connect and write
                    raise
                conn = None  # stale keep-alive connection: the request never got there
                continue
            waiting = sweeper.waiting
            waiting[waiter] = loop.time() + self.read_timeout
            if sweeper.handle is None:
                sweeper.start()
            try:
                response = await waiter
            except BaseException as exc:
                conn.abandon()
                if isinstance(exc, ConnectionClosed) and not exc.got_bytes and not fresh:
                    # A reused connection the server had closed while idle: the request
                    # never got there, so it may go again on a fresh connection.
                    conn = None
                    continue
                raise
            finally:
                del waiting[waiter]
            self._release(idle, conn, response, loop.time())
            return response

    def _release(
        self, idle: list[HTTPConnection], conn: HTTPConnection, response: Response, now: float
    ) -> None:
        if response.keep_alive and not conn.closed and len(idle) < self.max_idle:
            conn.last_used = now
            idle.append(conn)
        else:
            conn.close()

    def idle_count(self) -> int:
        """Idle connections currently kept (for tests and metrics)."""
        return sum(1 for conns in self._idle.values() for c in conns if not c.closed)

    def close(self) -> None:
        """Closes every idle connection (in-flight ones close when their request ends)."""
        self._drop_all()

    def _drop_all(self) -> None:
        for conns in self._idle.values():
            for conn in conns:
                with contextlib.suppress(RuntimeError):  # its loop is closed already
                    conn.close()
        self._idle.clear()
