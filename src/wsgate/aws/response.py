"""A sans-I/O parser for HTTP/1.1 responses: the narrow subset ``@connections`` and DynamoDB need.

Why hand-written: the send path's CPU budget is ~40 µs per message, and a general parser
(h11 measured ≈ 44 µs per exchange) alone would double it; see docs/sender.md. The subset:
a status line, headers, and a body framed by ``Content-Length``, by ``Transfer-Encoding:
chunked`` (with extensions and trailers), or by the end of the connection; ``1xx`` interim
answers skipped; ``204``/``304`` without a body. Anything else is an
:class:`HTTPProtocolError`, never another exception (``tests/sender/test_response.py``
fuzzes this with hypothesis).
"""

from __future__ import annotations

import re

__all__ = ["HTTPProtocolError", "HttpResponse", "ResponseParser"]

_MAX_HEAD = 64 * 1024
_MAX_BODY = 4 * 1024 * 1024
_MAX_CHUNK_LINE = 4 * 1024
_HEX = frozenset(b"0123456789abcdefABCDEF")
_is_token = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z").match
# A head the general parser accepts (a subset: no lone CR/LF, a 3-digit status, token names).
_FAST_HEAD = re.compile(
    rb"HTTP/1\.([01]) ([1-9][0-9][0-9])(?: ([^\r\n]*))?"
    rb"((?:\r\n[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n]*)*)\r\n\r\n"
).match

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _TRAILERS, _UNTIL_EOF, _DEAD = range(7)


class HTTPProtocolError(Exception):
    """The peer sent something that is not a valid HTTP/1.1 response."""


class HttpResponse:
    """One parsed response.

    Attributes:
        status: The status code.
        reason: The reason phrase.
        headers: Header names lower-cased; repeated headers joined with ``", "`` (built on
            first access when the fast path parsed the response: a 200 never needs them).
        body: The decoded body (chunked framing removed).
        keep_alive: Whether the connection may carry another request.
    """

    __slots__ = ("_headers", "_raw_head", "body", "keep_alive", "reason", "status")

    def __init__(
        self,
        status: int,
        reason: str,
        headers: dict[str, str] | None,
        body: bytes,
        keep_alive: bool,
        raw_head: bytes = b"",
    ) -> None:
        self.status = status
        self.reason = reason
        self._headers = headers
        self._raw_head = raw_head
        self.body = body
        self.keep_alive = keep_alive

    @property
    def headers(self) -> dict[str, str]:
        """Header names lower-cased; repeated headers joined with ``", "``."""
        if self._headers is None:
            self._headers = _parse_head(self._raw_head)[2]
        return self._headers

    def __repr__(self) -> str:
        return f"<HttpResponse {self.status} {self.reason!r} {len(self.body)} bytes>"


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str], bool]:
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or parts[0] not in ("HTTP/1.1", "HTTP/1.0"):
        raise HTTPProtocolError(f"bad status line {lines[0][:80]!r}")
    code = parts[1]
    if len(code) != 3 or not code.isdigit() or not code.isascii() or code[0] == "0":
        raise HTTPProtocolError(f"bad status code {code[:10]!r}")
    reason = parts[2] if len(parts) == 3 else ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not _is_token(name):
            raise HTTPProtocolError(f"bad header line {line[:80]!r}")
        key = name.lower()
        text = value.strip(" \t")
        if key in headers:
            if key == "content-length" and headers[key] != text:
                raise HTTPProtocolError("conflicting Content-Length headers")
            if key != "content-length":
                headers[key] = f"{headers[key]}, {text}"
        else:
            headers[key] = text
    keep_alive = parts[0] == "HTTP/1.1"
    connection = headers.get("connection")
    if connection is not None:
        tokens = {t.strip().lower() for t in connection.split(",")}
        if "close" in tokens:
            keep_alive = False
        elif "keep-alive" in tokens:
            keep_alive = True
    return int(code), reason, headers, keep_alive


class ResponseParser:
    """Turns the bytes of one connection into :class:`HttpResponse` objects.

    Call :meth:`feed` with whatever arrived and :meth:`feed_eof` when the peer closed.
    After an :class:`HTTPProtocolError` the parser (and the connection) is unusable.
    """

    __slots__ = ("_buf", "_chunks", "_head", "_remaining", "_state", "max_body")

    def __init__(self, max_body: int = _MAX_BODY) -> None:
        self.max_body = max_body
        self._buf = b""
        self._state = _HEAD
        self._head: tuple[int, str, dict[str, str], bool] = (0, "", {}, False)
        self._remaining = 0
        self._chunks: list[bytes] = []

    @property
    def idle(self) -> bool:
        """True between responses with nothing buffered."""
        return self._state == _HEAD and not self._buf

    def feed(self, data: bytes) -> list[HttpResponse]:
        """Adds received bytes; returns every response they completed (usually 0 or 1).

        Raises:
            HTTPProtocolError: The bytes are not a valid response (or exceed the limits).
        """
        if self._state == _DEAD:
            raise HTTPProtocolError("parser used after a protocol error")
        if self._state == _HEAD and not self._buf:
            fast = self._fast(data)
            if fast is not None:
                return [fast]
        self._buf = self._buf + data if self._buf else data
        out: list[HttpResponse] = []
        try:
            while self._step(out):
                pass
        except HTTPProtocolError:
            self._state = _DEAD
            raise
        return out

    def _fast(self, data: bytes) -> HttpResponse | None:
        # One whole Content-Length response in one read (the usual case) whose head is
        # plain ASCII: validated by one regex, framing headers found by search, the header
        # dict left for later. Anything unusual returns None and takes the general path,
        # which gives the same result (tests/sender/test_response.py checks both agree).
        match = _FAST_HEAD(data)
        if match is None:
            return None
        status = int(match[2])
        block = match[4].lower()
        if (
            status < 200
            or status in (204, 304)
            or not block.isascii()
            or b"\r\ntransfer-encoding:" in block
        ):
            return None
        at = block.find(b"\r\ncontent-length:")
        if at < 0 or block.find(b"\r\ncontent-length:", at + 1) >= 0:
            return None
        value_end = block.find(b"\r\n", at + 17)
        length = block[at + 17 : value_end if value_end >= 0 else len(block)].strip(b" \t")
        end = match.end()
        if not length.isdigit() or len(length) > 10 or len(data) - end != int(length):
            return None
        keep_alive = match[1] == b"1"
        at = block.find(b"\r\nconnection:")
        if at >= 0:
            if block.find(b"\r\nconnection:", at + 1) >= 0:
                return None
            value_end = block.find(b"\r\n", at + 13)
            value = block[at + 13 : value_end if value_end >= 0 else len(block)].strip()
            if value == b"keep-alive":  # what API Gateway sends
                keep_alive = True
            else:
                tokens = {t.strip() for t in value.split(b",")}
                if b"close" in tokens:
                    keep_alive = False
                elif b"keep-alive" in tokens:
                    keep_alive = True
        reason = match[3]
        return HttpResponse(
            status,
            reason.decode("latin-1") if reason else "",
            None,
            data[end:],
            keep_alive,
            data[: end - 4],
        )

    def feed_eof(self) -> HttpResponse | None:
        """The peer closed: returns a body framed by the close, ``None`` if idle.

        Raises:
            HTTPProtocolError: The connection closed in the middle of a response.
        """
        if self._state == _UNTIL_EOF:
            self._chunks.append(self._buf)
            self._buf = b""
            self._state = _HEAD
            return self._finish(keep_alive=False)
        if self.idle:
            return None
        self._state = _DEAD
        raise HTTPProtocolError("connection closed in the middle of a response")

    def _finish(self, keep_alive: bool | None = None) -> HttpResponse:
        status, reason, headers, alive = self._head
        body = b"".join(self._chunks) if len(self._chunks) != 1 else self._chunks[0]
        self._chunks = []
        return HttpResponse(
            status, reason, headers, body, alive if keep_alive is None else keep_alive
        )

    def _step(self, out: list[HttpResponse]) -> bool:
        buf = self._buf
        state = self._state
        if state == _HEAD:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    raise HTTPProtocolError("response head too large")
                return False
            head = _parse_head(buf[:end])
            self._buf = buf[end + 4 :]
            status, _, headers, _ = head
            if 100 <= status < 200:
                if status == 101:
                    raise HTTPProtocolError("unexpected 101 Switching Protocols")
                return True  # interim answer: skip it
            self._head = head
            self._chunks = []
            te = headers.get("transfer-encoding")
            if status in (204, 304):
                out.append(self._finish())
            elif te is not None:
                codings = [c.strip().lower() for c in te.split(",")]
                if codings[-1] == "chunked":
                    self._state = _CHUNK_SIZE
                else:
                    self._state = _UNTIL_EOF
            elif "content-length" in headers:
                raw = headers["content-length"]
                if not raw.isdigit() or not raw.isascii() or len(raw) > 10:
                    raise HTTPProtocolError(f"bad Content-Length {raw[:20]!r}")
                length = int(raw)
                if length > self.max_body:
                    raise HTTPProtocolError("response body too large")
                if len(self._buf) >= length:
                    self._chunks.append(self._buf[:length])
                    self._buf = self._buf[length:]
                    out.append(self._finish())
                else:
                    self._remaining = length
                    self._state = _LENGTH
            else:
                self._state = _UNTIL_EOF
            return True
        if state == _LENGTH:
            if len(buf) < self._remaining:
                return False
            self._chunks.append(buf[: self._remaining])
            self._buf = buf[self._remaining :]
            self._state = _HEAD
            out.append(self._finish())
            return True
        if state == _CHUNK_SIZE:
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > _MAX_CHUNK_LINE:
                    raise HTTPProtocolError("chunk size line too long")
                return False
            size_text = buf[:end].split(b";", 1)[0].strip(b" \t")
            if not size_text or len(size_text) > 8 or not _HEX.issuperset(size_text):
                raise HTTPProtocolError(f"bad chunk size {buf[:end][:20]!r}")
            size = int(size_text, 16)
            self._buf = buf[end + 2 :]
            if size == 0:
                self._state = _TRAILERS
            else:
                if sum(map(len, self._chunks)) + size > self.max_body:
                    raise HTTPProtocolError("response body too large")
                self._remaining = size
                self._state = _CHUNK_DATA
            return True
        if state == _CHUNK_DATA:
            if len(buf) < self._remaining + 2:
                return False
            if buf[self._remaining : self._remaining + 2] != b"\r\n":
                raise HTTPProtocolError("chunk not followed by CRLF")
            self._chunks.append(buf[: self._remaining])
            self._buf = buf[self._remaining + 2 :]
            self._state = _CHUNK_SIZE
            return True
        if state == _TRAILERS:
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    raise HTTPProtocolError("trailers too large")
                return False
            self._buf = buf[end + 2 :]
            if end == 0:  # blank line: the response is complete
                self._state = _HEAD
                out.append(self._finish())
            elif b":" not in buf[:end]:
                raise HTTPProtocolError("bad trailer line")
            return True
        if state == _UNTIL_EOF:
            if buf:
                self._chunks.append(buf)
                self._buf = b""
                if sum(map(len, self._chunks)) > self.max_body:
                    raise HTTPProtocolError("response body too large")
            return False
        return False
