"""A narrow HTTP/1.1 client on :mod:`selectors`: keep-alive pool, many requests in flight, TLS.

No asyncio: importing asyncio costs more than the whole rest of the send path (≈ 80 ms on a
2-core machine, against a ≤ 50 ms budget for the send path's import) and its futures and
tasks cost CPU on every send. Here a :class:`Batch` runs in the calling thread: it writes
requests on non-blocking sockets, waits for any of them with one ``select`` call, parses
answers with :mod:`wsgate.aws.response`, and hands each finished exchange back to its
caller, which may start the next request at once. One ``Batch`` per call (a single send or
a whole broadcast), so any number of threads can send at the same time without a loop
thread; they share the idle keep-alive connections of one :class:`ConnectionPool`.

A reused connection that the server had closed while idle (EOF or reset before any byte of
the answer) gets the request again on a fresh connection, which is safe: the server never
saw it. Idle connections older than ``idle_timeout`` are not reused. TLS verifies the
certificate chain and the host name (``ssl.create_default_context()`` unless a context is
given); :mod:`ssl` is imported with the first https connection.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import threading
import time

from wsgate.aws.response import HTTPProtocolError, HttpResponse, ResponseParser

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    import ssl
    from typing import Any

    #: A finished exchange: the caller's token and the response or the error that ended it.
    Outcome = tuple[Any, HttpResponse | Exception]

__all__ = ["Batch", "ConnectionClosed", "ConnectionPool"]

_READ_SIZE = 65536  # one buffer per Batch; an answer is ~400 bytes
_EVENT_READ = selectors.EVENT_READ
_EVENT_WRITE = selectors.EVENT_WRITE
_CONNECTING, _HANDSHAKE, _WRITING, _READING, _FREE = range(5)
_IN_PROGRESS = (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN, errno.EALREADY)
_ADDRESS_TTL = 30.0  # seconds a host's resolved addresses are reused

Key = tuple[str, str, int]


class ConnectionClosed(ConnectionError):
    """The server closed the connection before a complete response.

    Attributes:
        got_bytes: Whether any byte of a response had arrived (if not, and the connection
            was reused, the request was never processed and may be sent again).
    """

    def __init__(self, got_bytes: bool) -> None:
        super().__init__("connection closed before a complete response")
        self.got_bytes = got_bytes


class _Conn:
    """One keep-alive connection: a non-blocking socket and the exchange it carries."""

    __slots__ = (
        "deadline",
        "events",
        "got_bytes",
        "key",
        "last_used",
        "out",
        "parser",
        "request",
        "reused",
        "sock",
        "state",
        "token",
    )

    def __init__(self, sock: socket.socket, key: Key, max_body: int) -> None:
        self.sock: socket.socket | ssl.SSLSocket = sock
        self.key = key
        self.parser = ResponseParser(max_body)
        self.state = _CONNECTING
        self.request = b""
        self.out: memoryview | bytes = b""
        self.token: Any = None
        self.deadline = 0.0
        self.events = 0
        self.got_bytes = False
        self.reused = False
        self.last_used = 0.0

    def close(self) -> None:
        self.sock.close()


class ConnectionPool:
    """Idle keep-alive connections per (scheme, host, port), shared by every :class:`Batch`.

    Args:
        ssl_context: Used for ``https``; defaults to ``ssl.create_default_context()``
            (certificate and host-name verification on).
        connect_timeout: Seconds for TCP connect plus TLS handshake.
        read_timeout: Seconds from starting a request to its complete response.
        max_idle: Idle connections kept per host (the rest are closed).
        idle_timeout: Idle connections older than this are not reused (servers close idle
            keep-alive connections; API Gateway does after some tens of seconds).
        max_body: Largest response body accepted (a bigger one is an ``HTTPProtocolError``):
            4 MiB for the Management API's small answers, 16 MiB + for DynamoDB's batches.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        max_idle: int = 512,
        idle_timeout: float = 30.0,
        max_body: int = 4 * 1024 * 1024,
    ) -> None:
        self._ssl_context = ssl_context
        self.max_body = max_body
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self._lock = threading.Lock()
        self._idle: dict[Key, list[_Conn]] = {}
        self._addresses: dict[tuple[str, int], tuple[float, list[tuple[int, tuple[str, int]]]]] = {}
        self._next_address = 0
        self._pid = os.getpid()
        self.connections_opened = 0
        self._closed = False

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context (created, and :mod:`ssl` imported, on first use)."""
        if self._ssl_context is None:
            import ssl

            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def take(self, key: Key, now: float) -> _Conn | None:
        """An idle connection to ``key`` (most recently used first), or ``None``."""
        with self._lock:
            if self._pid != os.getpid():
                # A forked child shares the parent's sockets: using one would interleave two
                # processes' requests on one connection. Forget them (closing the child's
                # copies leaves the parent's connections open).
                for conns in self._idle.values():
                    for conn in conns:
                        conn.close()
                self._idle = {}
                self._pid = os.getpid()
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                if now - conn.last_used <= self.idle_timeout:
                    return conn
                conn.close()
        return None

    def give_back(self, conns: list[_Conn]) -> None:
        """Takes back idle, healthy connections (beyond ``max_idle`` per host they are closed).

        After :meth:`close` every connection given back is closed: one still in use while
        the pool closed would otherwise sit in a pool nobody closes again (an "unclosed
        socket" ResourceWarning whenever garbage collection finds it).
        """
        with self._lock:
            for conn in conns:
                if self._closed:
                    conn.close()
                    continue
                idle = self._idle.get(conn.key)
                if idle is None:
                    idle = self._idle[conn.key] = []
                if len(idle) < self.max_idle:
                    idle.append(conn)
                else:
                    conn.close()

    def open(self, key: Key) -> _Conn:
        """Starts a non-blocking TCP connect (TLS follows once it completes).

        Raises:
            OSError: The host cannot be resolved or refused at once.
        """
        _, host, port = key
        addresses = self._resolve(host, port)
        error: OSError | None = None
        for i in range(len(addresses)):
            family, address = addresses[(self._next_address + i) % len(addresses)]
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                code = sock.connect_ex(address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            if code == 0 or code in _IN_PROGRESS:
                with self._lock:
                    self.connections_opened += 1
                    self._next_address += 1
                return _Conn(sock, key, self.max_body)
            sock.close()
            error = OSError(code, f"{errno.errorcode.get(code, code)} connecting to {address}")
        assert error is not None
        raise error

    def _resolve(self, host: str, port: int) -> list[tuple[int, tuple[str, int]]]:
        now = time.monotonic()
        cached = self._addresses.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [(info[0], info[4][:2]) for info in infos]
        if not addresses:  # pragma: no cover - getaddrinfo raises instead
            raise OSError(f"no address for {host}")
        self._addresses[(host, port)] = (now + _ADDRESS_TTL, addresses)  # type: ignore[assignment]
        return addresses  # type: ignore[return-value]

    def idle_count(self) -> int:
        """Idle connections currently kept (for tests and metrics)."""
        with self._lock:
            return sum(len(conns) for conns in self._idle.values())

    def close(self) -> None:
        """Closes every idle connection (connections in use close when their batch ends)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


class Batch:
    """Requests in flight from one thread; use as a context manager.

    :meth:`start` sends a request (complete bytes) to ``(scheme, host, port)`` and
    :meth:`poll` waits and returns the exchanges that finished, each as ``(token, response
    or error)``. The errors are ``OSError`` (connect, reset, TLS verification),
    ``TimeoutError``, :class:`ConnectionClosed` and
    :class:`~wsgate.aws.response.HTTPProtocolError`. Leaving the ``with`` block returns
    the healthy idle connections to the pool and aborts any exchange still in flight.
    """

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self._selector = selectors.DefaultSelector()
        # This batch's idle connections per host, still registered: an EOF drops them.
        self._free: dict[Key, list[_Conn]] = {}
        self._busy: set[_Conn] = set()
        self._done: list[Outcome] = []
        self._buffer = bytearray(_READ_SIZE)
        self._view = memoryview(self._buffer)
        self._sweep_interval = max(0.01, min(0.1, pool.read_timeout / 4))
        self._next_sweep = 0.0
        # The time as of the last poll: what starts and finishes use (they happen in bursts
        # right after a poll; timeouts are swept every ~0.1 s anyway).
        self._now = time.monotonic()

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def active(self) -> int:
        """Exchanges in flight (started, not yet returned by :meth:`poll`)."""
        return len(self._busy) + len(self._done)

    def tokens(self) -> list[Any]:
        """The tokens of the exchanges in flight (finished ones not yet polled included)."""
        return [conn.token for conn in self._busy] + [token for token, _ in self._done]

    def start(self, key: Key, request: bytes, token: Any) -> None:
        """Starts one exchange; its outcome comes back from :meth:`poll` with ``token``."""
        now = self._now
        free = self._free.get(key)
        if free:
            conn: _Conn | None = free.pop()
        else:
            conn = self._pool.take(key, now)
            if conn is not None:
                self._selector.register(conn.sock, _EVENT_READ, conn)
                conn.events = _EVENT_READ
        if conn is None:
            try:
                conn = self._open(key, now)
            except OSError as exc:
                self._done.append((token, exc))
                return
        else:
            conn.reused = True
        conn.request = request
        conn.token = token
        self._busy.add(conn)
        if conn.state == _CONNECTING:
            return  # written once the connect (and TLS handshake) completes
        self._begin(conn, now)

    def _open(self, key: Key, now: float) -> _Conn:
        conn = self._pool.open(key)
        conn.deadline = now + self._pool.connect_timeout
        self._selector.register(conn.sock, _EVENT_WRITE, conn)
        conn.events = _EVENT_WRITE
        return conn

    def _watch(self, conn: _Conn, events: int) -> None:
        if conn.events != events:
            self._selector.modify(conn.sock, events, conn)
            conn.events = events

    def _begin(self, conn: _Conn, now: float) -> None:
        """Writes the request (what fits now; the rest when the socket is writable)."""
        conn.state = _WRITING
        conn.got_bytes = False
        conn.deadline = now + self._pool.read_timeout
        conn.out = conn.request
        self._write(conn)

    def _write(self, conn: _Conn) -> None:
        out = conn.out
        try:
            sent = conn.sock.send(out)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            if _want(exc) is not None:  # TLS: SSLWantWrite/ReadError, retry with the same bytes
                self._watch(conn, _EVENT_READ | _EVENT_WRITE)
                return
            self._failed(conn, exc, stale_possible=True)
            return
        if sent == len(out):
            conn.out = b""
            conn.state = _READING
            self._watch(conn, _EVENT_READ)
            return
        conn.out = memoryview(out)[sent:]
        self._watch(conn, _EVENT_WRITE)

    def poll(self, timeout: float | None) -> list[Outcome]:
        """Waits up to ``timeout`` seconds for activity; returns the exchanges that ended."""
        done = self._done
        if done:
            timeout = 0.0
        elif self._busy:
            if timeout is None or timeout > self._sweep_interval:
                timeout = self._sweep_interval  # request timeouts are checked that often
        elif not any(self._free.values()):
            if timeout:
                time.sleep(timeout)
            return []
        events = self._selector.select(timeout)
        now = self._now = time.monotonic()
        for selector_key, _ in events:
            conn: _Conn = selector_key.data
            state = conn.state
            if state == _READING:
                self._read(conn)
            elif state == _WRITING:
                self._write(conn)
            elif state == _FREE:
                self._idle_readable(conn)
            elif state == _CONNECTING:
                self._connected(conn)
            else:
                self._handshake(conn)
        if now >= self._next_sweep:
            self._next_sweep = now + self._sweep_interval
            for conn in [c for c in self._busy if c.deadline <= now]:
                what = "connecting" if conn.state in (_CONNECTING, _HANDSHAKE) else "answer"
                self._finish(conn, TimeoutError(f"no {what} within the timeout"))
        self._done = []
        return done

    def _connected(self, conn: _Conn) -> None:
        code = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            error = OSError(code, f"{errno.errorcode.get(code, code)} connecting to {conn.key[1]}")
            self._finish(conn, error)
            return
        if conn.key[0] == "https":
            self._selector.unregister(conn.sock)
            conn.events = 0
            try:
                conn.sock = self._pool.ssl_context().wrap_socket(
                    conn.sock, server_hostname=conn.key[1], do_handshake_on_connect=False
                )
            except (OSError, ValueError) as exc:  # e.g. an unusable CA file
                self._finish(conn, exc)
                return
            self._selector.register(conn.sock, _EVENT_WRITE, conn)  # the same descriptor
            conn.events = _EVENT_WRITE
            conn.state = _HANDSHAKE
            self._handshake(conn)
            return
        self._begin(conn, time.monotonic())

    def _handshake(self, conn: _Conn) -> None:
        try:
            conn.sock.do_handshake()  # type: ignore[union-attr]
        except OSError as exc:
            want = _want(exc)
            if want is None:
                self._finish(conn, exc)  # e.g. certificate verification failed
            else:
                self._watch(conn, want)
            return
        self._begin(conn, time.monotonic())

    def _read(self, conn: _Conn) -> None:
        view = self._view
        sock = conn.sock
        while True:
            try:
                n = sock.recv_into(view)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                want = _want(exc)
                if want is not None:
                    if want != _EVENT_READ:  # pragma: no cover - TLS renegotiation
                        self._watch(conn, _EVENT_READ | _EVENT_WRITE)
                    return
                self._failed(conn, exc, stale_possible=not conn.got_bytes)
                return
            if n == 0:
                self._eof(conn)
                return
            conn.got_bytes = True
            try:
                responses = conn.parser.feed(bytes(view[:n]))
            except HTTPProtocolError as exc:
                self._finish(conn, exc)
                return
            if responses:
                if len(responses) > 1 or not conn.parser.idle:
                    self._finish(conn, HTTPProtocolError("unsolicited response"))
                    return
                response = responses[0]
                if not response.keep_alive:
                    self._finish(conn, response)
                    return
                # The usual end of an exchange, inlined (it is most of the per-send work
                # here): report, and keep the connection for this batch's next request.
                self._busy.discard(conn)
                self._done.append((conn.token, response))
                conn.token = None
                conn.request = b""
                conn.state = _FREE
                conn.last_used = self._now
                free = self._free.get(conn.key)
                if free is None:
                    free = self._free[conn.key] = []
                free.append(conn)
                return
            if n < len(view) and not getattr(sock, "pending", _no_pending)():
                return  # nothing more buffered: wait for the next readable event

    def _eof(self, conn: _Conn) -> None:
        try:
            response = conn.parser.feed_eof()
        except HTTPProtocolError as exc:
            self._finish(conn, exc)
            return
        if response is not None:
            self._finish(conn, response)
            return
        self._failed(conn, ConnectionClosed(conn.got_bytes), stale_possible=True)

    def _failed(self, conn: _Conn, exc: Exception, *, stale_possible: bool) -> None:
        """A send or receive failed: retry on a fresh connection if it was a stale one."""
        if stale_possible and conn.reused and not conn.got_bytes:
            # A reused connection the server had closed while idle: the request never got
            # there, so it may go again on a fresh connection (once: that one is not reused).
            self._busy.discard(conn)
            self._discard(conn)
            request, token = conn.request, conn.token
            try:
                fresh = self._open(conn.key, time.monotonic())
            except OSError as error:
                self._done.append((token, error))
                return
            fresh.request, fresh.token = request, token
            self._busy.add(fresh)
            return
        self._finish(conn, exc)

    def _finish(self, conn: _Conn, outcome: HttpResponse | Exception) -> None:
        """Reports an exchange that ended the connection's use (kept ones: see _read)."""
        self._busy.discard(conn)
        self._done.append((conn.token, outcome))
        conn.token = None
        conn.request = b""
        self._discard(conn)

    def _idle_readable(self, conn: _Conn) -> None:
        """An idle connection became readable: EOF or stray bytes drop it.

        (With TLS 1.3 it may be a session ticket, which the TLS layer consumes: then the
        read wants more and the connection stays.)
        """
        try:
            n = conn.sock.recv_into(self._view)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if _want(exc) is not None:
                return
            n = 0
        del n  # EOF (0) or bytes nobody asked for: either way the connection is done
        self._free[conn.key].remove(conn)
        self._discard(conn)

    def _discard(self, conn: _Conn) -> None:
        if conn.events:
            self._selector.unregister(conn.sock)
            conn.events = 0
        conn.close()

    def close(self) -> None:
        """Returns idle connections to the pool; aborts exchanges still in flight."""
        for conn in list(self._busy):
            self._discard(conn)
        self._busy.clear()
        keep = []
        for conns in self._free.values():
            for conn in conns:
                self._selector.unregister(conn.sock)
                conn.events = 0
                keep.append(conn)
        self._free = {}
        self._selector.close()
        if keep:
            self._pool.give_back(keep)


def _no_pending() -> int:
    return 0


def _want(exc: OSError) -> int | None:
    """For TLS's "try again" errors, the event to wait for; ``None`` for real errors."""
    name = type(exc).__name__
    if name == "SSLWantReadError":
        return _EVENT_READ
    if name == "SSLWantWriteError":
        return _EVENT_WRITE
    return None
