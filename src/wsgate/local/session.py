"""One client WebSocket connection, driven through websockets' sans-I/O ``ServerProtocol``.

The sans-I/O protocol hands over individual frames, which is what API Gateway's limits need:
``max_size=(128 KiB, 32 KiB)`` makes the protocol close with 1009 on an oversized frame *or*
message, and fragments are reassembled here. Binary frames close with 1003.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from wsgate.local.config import MAX_FRAME_BYTES, MAX_MESSAGE_BYTES
from wsgate.local.eventgen import DISCONNECT_REASONS

if TYPE_CHECKING:
    from wsgate.local.http import HttpRequest

__all__ = ["Session"]

# websockets logs every open/close at INFO; thousands of connections would flood the console.
logger = logging.getLogger("wsgate.local")
_quiet = logging.getLogger("wsgate.local.protocol")
_quiet.setLevel(logging.WARNING)
_CLOSE_GRACE = 5.0  # seconds a client gets to answer our close frame
#: Backpressure: at this many messages waiting for a worker the socket is no longer read;
#: reading resumes at the low mark. Bytes already read wait unparsed meanwhile (at most one
#: read, 256 KiB), so a flooding client holds a bounded amount of the emulator's memory.
PENDING_HIGH = 64
PENDING_LOW = 16
_FEED_SLICE = 1024  # bytes parsed at a time, so the pending mark is checked between slices
#: Bytes of outbound data a client may leave unread before the emulator drops it (1006):
#: messages posted to a client that never reads would otherwise pile up without limit.
MAX_UNREAD_BYTES = 8 * 1024 * 1024


class Session:
    """A WebSocket connection from handshake to ``$disconnect``.

    Owned by the emulator's event loop: call its methods from that loop only.
    """

    def __init__(
        self,
        transport: asyncio.Transport,
        request: HttpRequest,
        *,
        connection_id: str,
        source_ip: str,
        domain_name: str,
        compression: bool,
        on_message: Callable[[Session, str], None],
        on_closed: Callable[[Session], None],
        on_ready: Callable[[Session], None] | None = None,
    ) -> None:
        extensions = (
            [
                ServerPerMessageDeflateFactory(
                    server_max_window_bits=12,
                    client_max_window_bits=12,
                    compress_settings={"memLevel": 5},
                )
            ]
            if compression
            else None
        )
        self.protocol = ServerProtocol(
            extensions=extensions,
            max_size=(MAX_MESSAGE_BYTES, MAX_FRAME_BYTES),
            logger=_quiet,
        )
        self.transport = transport
        self.http_request = request
        self.connection_id = connection_id
        self.source_ip = source_ip
        self.domain_name = domain_name
        self.user_agent = request.header("user-agent")
        self.connected_at = time.time()
        self.connected_at_ms = int(self.connected_at * 1000)
        self.last_active_at = self.connected_at
        self.authorizer: dict[str, Any] | None = None
        self.is_open = False
        self.closed = False
        self.messages_in = 0
        self.messages_out = 0
        self._on_message = on_message
        self._on_closed = on_closed
        self._fragments: list[bytes] | None = None
        self._server_close: tuple[int, str] | None = None
        self._grace_armed = False
        self._timers: list[asyncio.TimerHandle] = []
        self._idle_timeout = 0.0
        self._last_activity = 0.0
        #: Messages waiting for a worker, in arrival order (see :class:`Scheduler`).
        self.pending: deque[str] = deque()
        #: Whether the session is in the scheduler's ready queue.
        self.scheduled = False
        #: False while the client leaves too much of our output unread.
        self.writable = True
        self._unparsed = bytearray()
        self._reading = True
        self._feeding = False
        self._on_ready = on_ready
        self.protocol.receive_data(request.head)
        events = self.protocol.events_received()
        self.ws_request: Request | None = events[0] if events else None  # type: ignore[assignment]

    # --- handshake --------------------------------------------------------------------------

    def accept_response(self) -> Response:
        """Validate the handshake; a 101 to send once ``$connect`` allows it, or an error."""
        if self.ws_request is None:
            return self.protocol.reject(400, "Failed to open a WebSocket connection.\n")
        return self.protocol.accept(self.ws_request)

    def send_response(self, response: Response) -> None:
        """Send the handshake response (the 101, or a rejection that closes the socket)."""
        if self.protocol.eof_sent:
            # The handshake parser already refused the request head (e.g. a header line over
            # 8 KB) and ended the stream; send the rejection by hand instead of asserting.
            self.transport.write(response.serialize())
            self.transport.close()
            return
        self.protocol.send_response(response)
        self.flush()

    def open(self, idle_timeout: float, max_duration: float) -> None:
        """Mark the connection established after the 101 went out; start its timers."""
        self.is_open = True
        loop = asyncio.get_running_loop()
        self._idle_timeout = idle_timeout
        self._last_activity = loop.time()
        self._timers.append(loop.call_later(idle_timeout, self._check_idle))
        self._timers.append(loop.call_later(max_duration, self.close, 1001, "Going away"))

    # --- I/O --------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Feed bytes from the socket; complete text messages go to ``on_message``.

        While :attr:`pending` is at its high mark the bytes wait unparsed and the socket is
        not read (backpressure, as a real server applies it).
        """
        self._unparsed += data
        self._feed()

    def _feed(self) -> None:
        if self._feeding:
            return  # a message handed over while parsing came back here through the scheduler
        self._feeding = True
        view = memoryview(self._unparsed)
        offset = 0
        try:
            while offset < len(view) and len(self.pending) < PENDING_HIGH:
                self.protocol.receive_data(bytes(view[offset : offset + _FEED_SLICE]))
                offset += _FEED_SLICE
                for event in self.protocol.events_received():
                    if isinstance(event, Frame):
                        self._frame(event)
        finally:
            view.release()
            del self._unparsed[:offset]
            self._feeding = False
        self.flush()
        self._set_reading(not self._unparsed and len(self.pending) < PENDING_HIGH)

    def _set_reading(self, reading: bool) -> None:
        if reading == self._reading or self.closed or self.transport.is_closing():
            return
        self._reading = reading
        if reading:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    def taken(self) -> None:
        """The scheduler took a pending message: read again once the backlog is low."""
        if len(self.pending) <= PENDING_LOW and (self._unparsed or not self._reading):
            self._feed()

    def pause_writing(self) -> None:
        """The client is not reading: hold its messages until it catches up."""
        self.writable = False

    def resume_writing(self) -> None:
        """The client caught up with our output: its messages may run again."""
        self.writable = True
        if self._on_ready is not None:
            self._on_ready(self)

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT:
            if frame.fin:
                self._message(bytes(frame.data))
            else:
                self._fragments = [bytes(frame.data)]
        elif opcode is Opcode.CONT:
            if self._fragments is None:
                return  # the protocol already failed the connection on a stray continuation
            self._fragments.append(bytes(frame.data))
            if frame.fin:
                data, self._fragments = b"".join(self._fragments), None
                self._message(data)
        elif opcode is Opcode.BINARY:
            # API Gateway rejects binary frames by closing with 1003 (docs/aws-behaviour.md §1.7).
            self._fail(1003, DISCONNECT_REASONS[1003])

    def _message(self, data: bytes) -> None:
        if not self.is_open:
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(1007, "Invalid UTF-8")
            return
        self.messages_in += 1
        self.touch()
        self._on_message(self, text)

    def _fail(self, code: int, reason: str) -> None:
        if self._server_close is None:
            self._server_close = (code, reason)
        self.protocol.fail(code, reason)

    def flush(self) -> None:
        """Write what the protocol wants to send; close the socket when it asks for EOF."""
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.transport.write(chunk)
            else:
                self.transport.close()
        if not self._grace_armed and self.protocol.close_expected():
            self._grace_armed = True
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(_CLOSE_GRACE, self.transport.abort))

    def touch(self) -> None:
        """Record data traffic (either direction) for the idle timer and ``lastActiveAt``."""
        self.last_active_at = time.time()
        if self.is_open:
            self._last_activity = asyncio.get_running_loop().time()

    def send_text(self, data: bytes) -> bool:
        """Send a PostToConnection payload (text if UTF-8, else binary); False if closed."""
        if self.protocol.state is not State.OPEN:
            return False
        if self.transport.get_write_buffer_size() > MAX_UNREAD_BYTES:
            logger.warning(
                "dropping %s: it left more than %d bytes unread",
                self.connection_id,
                MAX_UNREAD_BYTES,
            )
            self.abort()
            return False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            self.protocol.send_binary(data)
        else:
            self.protocol.send_text(data)
        self.messages_out += 1
        self.touch()
        self.flush()
        return True

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start a server-side close (DeleteConnection, timeouts); ``$disconnect`` follows."""
        if self.protocol.state is not State.OPEN:
            return
        self._server_close = (code, reason)
        self.protocol.send_close(code, reason)
        self.flush()

    def abort(self) -> None:
        """Drop the TCP connection without a close frame (the random-close fault)."""
        self._server_close = (1006, "")
        self.transport.abort()

    def _check_idle(self) -> None:
        loop = asyncio.get_running_loop()
        due = self._last_activity + self._idle_timeout
        if loop.time() >= due:
            self.close(1001, "Going away")
        else:
            self._timers.append(loop.call_at(due, self._check_idle))

    # --- end --------------------------------------------------------------------------------

    def connection_lost(self) -> None:
        """The socket is gone: stop timers and report the close (once)."""
        if self.closed:
            return
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._unparsed and self.is_open:
            # Messages the client sent before it went away still reach the app (each has
            # its own invocation on AWS); they wait in ``pending`` like the others.
            self.protocol.receive_data(bytes(self._unparsed))
            self._unparsed.clear()
            for event in self.protocol.events_received():
                if isinstance(event, Frame):
                    self._frame(event)
        self.closed = True
        if self.protocol.state is not State.CLOSED:
            self.protocol.receive_eof()
        self._on_closed(self)
        if not self.writable:
            self.resume_writing()  # nobody reads any more: let its last messages run

    def disconnect_status(self) -> tuple[int, str]:
        """``disconnectStatusCode`` and ``disconnectReason`` for the ``$disconnect`` event."""
        if self._server_close is not None:
            return self._server_close
        sent, rcvd = self.protocol.close_sent, self.protocol.close_rcvd
        if sent is not None and (rcvd is None or not self.protocol.close_rcvd_then_sent):
            # The protocol failed the connection itself (1009 too big, 1002, 1007).
            return int(sent.code), DISCONNECT_REASONS.get(int(sent.code), sent.reason)
        if rcvd is None:
            return 1006, ""
        code = int(rcvd.code)
        if code == 1005:
            return 1005, DISCONNECT_REASONS[1005]
        return code, rcvd.reason
