"""Handler return values → the dict API Gateway expects back from a proxy integration.

What API Gateway does with it (docs/aws-behaviour.md §2):

- ``$connect``: a 2xx ``statusCode`` accepts the handshake, anything else rejects it with that
  HTTP status; ``headers`` go onto the 101 response (``Sec-WebSocket-Protocol`` picks a
  subprotocol).
- message routes: the ``body`` reaches the client only on a two-way route; ``statusCode`` is
  ignored.
- ``$disconnect``: the response is ignored.

A handler may return ``None`` (200, no body), a ``str`` (the body), ``bytes`` (base64 body),
a ``dict`` that has ``statusCode`` (passed through, checked), any other JSON value (serialised
as the body; models such as dataclass instances and Pydantic models included) or a
:class:`Response`. :func:`to_response` does that normalisation.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "Response",
    "accept",
    "error_response",
    "reject",
    "to_response",
]


class Response:
    """An integration response: status, optional body, optional headers.

    Build one directly, or with :func:`accept` / :func:`reject` on ``$connect``.
    """

    __slots__ = ("body", "headers", "is_base64_encoded", "status_code")

    def __init__(
        self,
        status_code: int = 200,
        body: str | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        is_base64_encoded: bool = False,
    ) -> None:
        """Create a response.

        Raises:
            TypeError: ``status_code`` is not an int or ``body`` not a string.
            ValueError: ``status_code`` is outside 100-599.
        """
        if isinstance(status_code, bool) or not isinstance(status_code, int):
            raise TypeError(f"status_code must be an int, not {type(status_code).__name__}")
        if not 100 <= status_code <= 599:
            raise ValueError(f"status_code {status_code} is not an HTTP status")
        if body is not None and not isinstance(body, str):
            raise TypeError(f"body must be a str or None, not {type(body).__name__}")
        self.status_code = status_code
        self.body = body
        self.headers: dict[str, str] = dict(headers) if headers else {}
        self.is_base64_encoded = is_base64_encoded

    def __repr__(self) -> str:
        return (
            f"Response(status_code={self.status_code}, body={self.body!r}, "
            f"headers={self.headers!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Response):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx (on ``$connect``: the handshake is accepted)."""
        return 200 <= self.status_code < 300

    def to_dict(self) -> dict[str, Any]:
        """The proxy response dict: ``statusCode`` plus ``body``/``headers`` when set."""
        out: dict[str, Any] = {"statusCode": self.status_code}
        if self.headers:
            out["headers"] = dict(self.headers)
        if self.body is not None:
            out["body"] = self.body
            if self.is_base64_encoded:
                out["isBase64Encoded"] = True
        return out

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Response:
        """Read a proxy response dict (as a handler may return it).

        Raises:
            TypeError: ``statusCode``, ``body`` or ``headers`` has the wrong type.
            ValueError: ``statusCode`` is not an HTTP status.
        """
        headers = value.get("headers")
        if headers is not None and not isinstance(headers, Mapping):
            raise TypeError("headers must be a mapping")
        body = value.get("body")
        if body is not None and not isinstance(body, str):
            body = json.dumps(body, separators=(",", ":"))
        return cls(
            value["statusCode"],
            body,
            {str(k): str(v) for k, v in headers.items()} if headers else None,
            is_base64_encoded=value.get("isBase64Encoded") is True,
        )


def accept(subprotocol: str | None = None, headers: Mapping[str, str] | None = None) -> Response:
    """Accept a ``$connect`` handshake, optionally choosing a subprotocol.

    The subprotocol should be one the client offered (``ConnectEvent.subprotocols``); it is
    sent back in ``Sec-WebSocket-Protocol``.
    """
    merged = dict(headers or {})
    if subprotocol:
        merged["Sec-WebSocket-Protocol"] = subprotocol
    return Response(200, headers=merged)


def reject(status_code: int = 403, message: str | None = None) -> Response:
    """Refuse a ``$connect`` handshake: the client sees HTTP ``status_code`` (e.g. 401, 403).

    Raises:
        ValueError: ``status_code`` is a 2xx (that would accept the connection).
    """
    if 200 <= status_code < 300:
        raise ValueError("a 2xx status accepts the connection; use a 4xx or 5xx to reject")
    body = None if message is None else json.dumps({"message": message})
    return Response(status_code, body)


def error_response(status_code: int, message: str) -> Response:
    """A JSON error response ``{"message": ...}`` in API Gateway's own style."""
    return Response(status_code, json.dumps({"message": message}))


def to_response(value: Any) -> Response:
    """Normalise a handler's return value to a :class:`Response`.

    Raises:
        TypeError: the value is not one of the accepted kinds (or not JSON-serialisable).
        ValueError: a returned dict has an invalid ``statusCode``.
    """
    if value is None:
        return Response()
    if isinstance(value, Response):
        return value
    if isinstance(value, str):
        return Response(200, value)
    if isinstance(value, bytes | bytearray | memoryview):
        return Response(200, base64.b64encode(value).decode("ascii"), is_base64_encoded=True)
    if isinstance(value, Mapping) and "statusCode" in value:
        return Response.from_dict(value)
    try:
        body = json.dumps(value, separators=(",", ":"), default=_encode)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"a handler returned {type(value).__name__}, which is not a Response, str, bytes, "
            f"dict or JSON value: {exc}"
        ) from None
    return Response(200, body)


def _encode(value: Any) -> Any:
    """Models (Pydantic, dataclasses), enums and sets in a returned value: see
    :func:`wsgate.bodies.encode` (loaded only when such a value is returned)."""
    from wsgate.bodies import encode

    return encode(value)
