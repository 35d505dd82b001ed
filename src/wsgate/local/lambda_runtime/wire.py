"""HTTP/1.1 for the Runtime API's four routes: one ``asyncio.Protocol`` per runtime connection.

The Runtime API is spoken by one runtime client per instance over one kept-alive loopback
connection, one request at a time. Serving it with a protocol of its own rather than aiohttp
lets the endpoint answer a pending ``GET /next`` inside the hand-over itself and saves aiohttp's
per-request work (the measurement and the reason: docs/lambda-runtime.md, "The warm path").

What is read: a request line and headers (at most 64 KB), then a body by ``Content-Length`` or
chunked ``Transfer-Encoding`` (at most ``limit`` bytes; over it the request is marked
``too_large`` as soon as that is known and the connection is closed after its answer), with
``Expect: 100-continue`` answered. Requests that arrive while one is being answered wait for it
(bounded). Anything malformed gets ``400`` (or ``431``/``501``/``505``) and the connection closes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import unquote

__all__ = ["Connection", "Request"]

_MAX_HEAD = 64 * 1024


@dataclass
class Request:
    """One request: ``path`` percent-decoded, header names lower-case."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    too_large: bool = False


class _Malformed(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Connection(asyncio.Protocol):
    """One runtime client's connection.

    Args:
        on_request: ``on_request(connection, request)``; it (or something it schedules) calls
            :meth:`respond` exactly once per request.
        on_lost: Called when the connection is gone.
        limit: Most bytes of a request body.
    """

    def __init__(
        self,
        on_request: Callable[[Connection, Request], None],
        on_lost: Callable[[Connection], None],
        limit: int,
    ) -> None:
        self.on_request = on_request
        self.on_lost = on_lost
        self.limit = limit
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._busy = False  # a request was handed on and is not answered yet
        self._close_after = False
        self._continued = False
        self._draining = False  # a body over the limit: what follows is read and dropped

    # --- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._draining:
            return
        self._buffer += data
        if len(self._buffer) > self.limit + _MAX_HEAD:  # pipelined past any single request
            self.close()
            return
        self._process()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.on_lost(self)

    # --- answers -----------------------------------------------------------------------------

    def respond(
        self,
        status: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        """Answer the request in hand (JSON ``body``), then read the next one."""
        self._busy = False
        if self.transport is None or self.transport.is_closing():
            return
        close = close or self._close_after
        lines = [f"HTTP/1.1 {status} {_reason(status)}", "Content-Type: application/json"]
        lines.append(f"Content-Length: {len(body)}")
        lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
        if close:
            lines.append("Connection: close")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        if close and self._draining:
            # The client may still be sending the body it was refused: closing now would reset
            # the connection before it reads the answer. It closes when it has read it.
            asyncio.get_running_loop().call_later(10, self.close)
        elif close:
            self.close()
        elif self._buffer:
            self._process()

    def close(self) -> None:
        """Close the connection (what was written is still sent)."""
        if self.transport is not None:
            self.transport.close()

    # --- parsing -----------------------------------------------------------------------------

    def _process(self) -> None:
        while not self._busy and self._buffer and self.transport is not None:
            try:
                request = self._parse()
            except _Malformed as exc:
                self._close_after = True
                self.respond(exc.status, _error(exc.status, str(exc)), close=True)
                return
            if request is None:  # not all there yet
                return
            self._busy = True
            self.on_request(self, request)

    def _parse(self) -> Request | None:
        end = self._buffer.find(b"\r\n\r\n", 0, _MAX_HEAD + 4)
        if end < 0:
            if len(self._buffer) > _MAX_HEAD:
                raise _Malformed(431, "request headers over 64 KB")
            return None
        lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[1].startswith("/"):
            raise _Malformed(400, f"bad request line: {lines[0][:100]!r}")
        method, target, version = parts
        if version not in ("HTTP/1.1", "HTTP/1.0"):
            raise _Malformed(505, f"unsupported HTTP version: {version[:20]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise _Malformed(400, f"bad header line: {line[:100]!r}")
            key = name.lower()
            if key in headers and key in ("content-length", "transfer-encoding"):
                raise _Malformed(400, f"repeated {name} header")
            headers[key] = value.strip()
        request = Request(method, unquote(target.partition("?")[0]), headers)
        connection = headers.get("connection", "").lower()
        self._close_after = connection == "close" or (
            version == "HTTP/1.0" and connection != "keep-alive"
        )
        body_start = end + 4
        if "transfer-encoding" in headers:
            if "content-length" in headers:
                raise _Malformed(400, "both Content-Length and Transfer-Encoding")
            if headers["transfer-encoding"].lower() != "chunked":
                raise _Malformed(
                    501, f"unsupported Transfer-Encoding: {headers['transfer-encoding']}"
                )
            return self._chunked(request, body_start)
        length_text = headers.get("content-length", "0")
        if not length_text.isdigit():
            raise _Malformed(400, f"bad Content-Length: {length_text[:20]!r}")
        length = int(length_text)
        if length > self.limit:
            return self._too_large(request)
        if len(self._buffer) < body_start + length:
            self._continue(request)
            return None
        request.body = bytes(self._buffer[body_start : body_start + length])
        del self._buffer[: body_start + length]
        self._continued = False
        return request

    def _chunked(self, request: Request, position: int) -> Request | None:
        spans: list[tuple[int, int]] = []  # copied only once the whole body is there
        total = 0
        while True:
            line_end = self._buffer.find(b"\r\n", position)
            if line_end < 0:
                if len(self._buffer) - position > 1024:
                    raise _Malformed(400, "bad chunk size line")
                self._continue(request)
                return None
            size_text = bytes(self._buffer[position:line_end]).split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _Malformed(400, f"bad chunk size: {size_text[:20]!r}") from None
            if size < 0:
                raise _Malformed(400, "bad chunk size")
            position = line_end + 2
            if size == 0:
                break
            total += size
            if total > self.limit:
                return self._too_large(request)
            if len(self._buffer) < position + size + 2:
                self._continue(request)
                return None
            if self._buffer[position + size : position + size + 2] != b"\r\n":
                raise _Malformed(400, "chunk not followed by CRLF")
            spans.append((position, size))
            position += size + 2
        while True:  # trailers, up to the empty line
            line_end = self._buffer.find(b"\r\n", position)
            if line_end < 0:
                if len(self._buffer) - position > _MAX_HEAD:
                    raise _Malformed(431, "trailers over 64 KB")
                return None
            empty = line_end == position
            position = line_end + 2
            if empty:
                break
        request.body = b"".join(bytes(self._buffer[at : at + size]) for at, size in spans)
        del self._buffer[:position]
        self._continued = False
        return request

    def _continue(self, request: Request) -> None:
        if request.headers.get("expect", "").lower() == "100-continue" and not self._continued:
            self._continued = True
            if self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _too_large(self, request: Request) -> Request:
        # The rest of the body is read and dropped; answered, then the connection closes.
        request.too_large = True
        self._close_after = True
        self._draining = True
        self._buffer.clear()
        return request


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _error(status: int, message: str) -> bytes:
    return json.dumps(
        {"errorType": _reason(status).replace(" ", ""), "errorMessage": message}
    ).encode()
