"""The small HTTP/1.1 layer of the emulator: request heads, bodies and responses.

Only what the emulator's single port needs: the WebSocket upgrade request, the ``@connections``
Management API (``POST``/``GET``/``DELETE`` with a ``Content-Length`` body, keep-alive, as boto3
and urllib3 send them), and the dashboard (static files, a JSON API, a Server-Sent Events feed).
"""

from __future__ import annotations

import email.utils
import http
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEAD_BYTES",
    "HttpError",
    "HttpRequest",
    "aws_error",
    "parse_head",
    "response",
]

#: API Gateway's URL length limit is 4096 characters; headers get some room on top.
MAX_HEAD_BYTES = 16 * 1024
#: Management bodies over 131,072 bytes get a 413; read somewhat more than that, then refuse.
MAX_BODY_BYTES = 1024 * 1024


class HttpError(Exception):
    """A request the emulator cannot read; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(status, reason)
        self.status = status
        self.reason = reason

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.reason}"


@dataclass
class HttpRequest:
    """One parsed request. ``headers`` keep their original case and order (for CONNECT events)."""

    method: str
    target: str
    path: str
    query: str
    version: str
    headers: list[tuple[str, str]]
    head: bytes
    body: bytes = b""
    _index: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for name, value in self.headers:
            self._index.setdefault(name.lower(), value)

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of header ``name`` (case-insensitive)."""
        return self._index.get(name.lower(), default)

    @property
    def content_length(self) -> int:
        """The declared body length (0 when absent)."""
        raw = self.header("content-length")
        if raw is None:
            return 0
        if not raw.strip().isdigit():
            raise HttpError(400, "bad Content-Length")
        return int(raw)

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the response."""
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in conn
        return "close" not in conn

    @property
    def is_upgrade(self) -> bool:
        """Whether this is a WebSocket upgrade request."""
        upgrade = (self.header("upgrade") or "").lower()
        return self.method == "GET" and upgrade == "websocket"

    def query_pairs(self) -> list[tuple[str, str]]:
        """The query string as decoded ``(name, value)`` pairs, in order."""
        return parse_qsl(self.query, keep_blank_values=True)


def parse_head(head: bytes) -> HttpRequest:
    """Parse a request head (everything up to and including the blank line).

    Raises:
        HttpError: The head is not a valid HTTP/1.x request, or uses chunked bodies.
    """
    try:
        text = head.decode("iso-8859-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - iso-8859-1 decodes any byte
        raise HttpError(400, "undecodable request") from exc
    lines = text.split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise HttpError(400, "malformed request line")
    method, target, version = parts
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HttpError(400, "malformed header line")
        headers.append((name, value.strip()))
    raw_path, _, query = target.partition("?")
    request = HttpRequest(method, target, raw_path, query, version, headers, head)
    if request.header("transfer-encoding") is not None:
        raise HttpError(501, "chunked request bodies are not supported")
    lengths = {value for name, value in headers if name.lower() == "content-length"}
    if len(lengths) > 1:
        # RFC 9110 §8.6: differing lengths make the message framing unknowable (request
        # smuggling); a repeated identical value is allowed.
        raise HttpError(400, "conflicting Content-Length headers")
    return request


def response(
    status: int,
    body: bytes = b"",
    headers: list[tuple[str, str]] | None = None,
    *,
    keep_alive: bool = True,
    content_type: str | None = None,
) -> bytes:
    """Serialise a complete response with ``Content-Length``."""
    phrase = http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {status} {phrase}"]
    lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    for name, value in headers or ():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {len(body)}")
    if not keep_alive:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


_AWS_BODIES: dict[str, Any] = {
    "GoneException": None,  # AWS sends an empty body on 410
    "ForbiddenException": {"message": "Forbidden"},
    "PayloadTooLargeException": {"message": "Message too long"},
    "LimitExceededException": {"message": "Rate exceeded"},
    "InternalServerErrorException": {"message": "Internal server error"},
}


def aws_error(status: int, error_type: str, *, keep_alive: bool = True) -> bytes:
    """Serialise a Management API error as AWS does (boto3 maps the type).

    The wire format: docs/aws-behaviour.md §6.3.
    """
    body_obj = _AWS_BODIES.get(error_type, {"message": error_type})
    body = b"" if body_obj is None else json.dumps(body_obj, separators=(",", ":")).encode()
    headers = [
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("x-amzn-ErrorType", error_type),
    ]
    return response(status, body, headers, keep_alive=keep_alive, content_type="application/json")


def decode_path_segment(segment: str) -> str:
    """Percent-decode one path segment (``%3D`` → ``=``, ``%40`` → ``@``)."""
    return unquote(segment)
