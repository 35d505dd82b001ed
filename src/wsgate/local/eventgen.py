"""Builders of API Gateway WebSocket proxy events, ids and timestamps (pure stdlib, no I/O).

The emulator builds every event it hands to a handler with these functions, and the testing
toolkit reuses them for its event factories, so an event made in a unit test has exactly the
shape the emulator (and API Gateway) produces:

- CONNECT carries the handshake ``headers``/``multiValueHeaders`` and the query parameters only
  when the URL has a query string, and no ``body``;
- MESSAGE carries ``body`` and ``requestContext.messageId`` and no headers;
- DISCONNECT carries the fixed synthetic headers plus ``disconnectStatusCode`` and
  ``disconnectReason``.

Ids are 16 characters of URL-safe base64 ending in ``=`` (like ``R1kmxc2VNjMCFIA=``), so code
that forgets to percent-encode them in a management URL fails locally as it would on AWS.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any, NotRequired, TypedDict, Unpack

__all__ = [
    "DISCONNECT_REASONS",
    "RequestContextArgs",
    "RequestTime",
    "build_connect_event",
    "build_disconnect_event",
    "build_message_event",
    "clf_time",
    "disconnect_headers",
    "forwarded_headers",
    "make_api_id",
    "make_id",
    "request_time",
]

#: ``disconnectReason`` for the close codes API Gateway reports (docs/aws-behaviour.md §1.4).
DISCONNECT_REASONS: Mapping[int, str] = {
    1000: "Connection Closed Normally",
    1001: "Going away",
    1005: "Client-side close frame status not set",
    1006: "Connection closed abnormally",
    1003: "Unsupported data",
    1009: "Message too big",
}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_API_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def make_id() -> str:
    """Return a fresh connection/request/message id in API Gateway's format.

    Returns:
        16 characters of URL-safe base64 (11 random bytes), always ending in ``=``.
    """
    return base64.urlsafe_b64encode(os.urandom(11)).decode("ascii")


def make_api_id() -> str:
    """Return a random 10-character lowercase API id, like ``dl7ptocha9``."""
    raw = os.urandom(10)
    return "".join(_API_ID_ALPHABET[b % len(_API_ID_ALPHABET)] for b in raw)


def clf_time(epoch_ms: int) -> str:
    """Format epoch ms as API Gateway's ``requestTime``: ``20/Jan/2024:11:55:00 +0000``."""
    t = time.gmtime(epoch_ms / 1000)
    return (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year:04d}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"
    )


class RequestTime:
    """A request timestamp in both forms an event carries (epoch ms and CLF text)."""

    __slots__ = ("epoch_ms", "text")

    def __init__(self, epoch_ms: int) -> None:
        self.epoch_ms = epoch_ms
        self.text = clf_time(epoch_ms)


def request_time(now: float | None = None) -> RequestTime:
    """Return the request time for ``now`` (epoch seconds; the current time when omitted)."""
    seconds = time.time() if now is None else now
    return RequestTime(int(seconds * 1000))


class RequestContextArgs(TypedDict):
    """The keyword arguments every event builder takes for ``requestContext``.

    Attributes:
        connection_id: The connection's id (see :func:`make_id`).
        connected_at: Its connect time, epoch milliseconds.
        stage: Stage name.
        api_id: API id.
        domain_name: ``requestContext.domainName`` (the host the client connected to).
        source_ip: Client address (default ``127.0.0.1``).
        user_agent: The client's ``User-Agent`` at connect; ``identity.userAgent`` only when
            given.
        request_id: Request id; a fresh one when omitted.
        now: Request time, epoch seconds; the current time when omitted.
        authorizer: ``requestContext.authorizer`` when an authorizer ran at ``$connect``.
    """

    connection_id: str
    connected_at: int
    stage: str
    api_id: str
    domain_name: str
    source_ip: NotRequired[str]
    user_agent: NotRequired[str | None]
    request_id: NotRequired[str | None]
    now: NotRequired[float | None]
    authorizer: NotRequired[Mapping[str, Any] | None]


def _identity(source_ip: str, user_agent: str | None) -> dict[str, Any]:
    identity: dict[str, Any] = {"sourceIp": source_ip}
    if user_agent is not None:
        identity["userAgent"] = user_agent
    return identity


def _request_context(
    *,
    route_key: str,
    event_type: str,
    connection_id: str,
    connected_at: int,
    stage: str,
    api_id: str,
    domain_name: str,
    source_ip: str = "127.0.0.1",
    user_agent: str | None = None,
    request_id: str | None = None,
    now: float | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    rid = request_id or make_id()
    when = request_time(now)
    ctx: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": rid,
        "requestTime": when.text,
        "messageDirection": "IN",
        "stage": stage,
        "connectedAt": connected_at,
        "requestTimeEpoch": when.epoch_ms,
        "identity": _identity(source_ip, user_agent),
        "requestId": rid,
        "domainName": domain_name,
        "connectionId": connection_id,
        "apiId": api_id,
    }
    if authorizer is not None:
        ctx["authorizer"] = dict(authorizer)
    return ctx


def _multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in pairs:
        single[name] = value  # the last value wins, as in API Gateway's single-value map
        multi.setdefault(name, []).append(value)
    return single, multi


def build_connect_event(
    *,
    headers: Iterable[tuple[str, str]] = (),
    query: Iterable[tuple[str, str]] = (),
    **context: Unpack[RequestContextArgs],
) -> dict[str, Any]:
    """Build a ``$connect`` (CONNECT) event.

    Args:
        headers: Handshake headers as ``(name, value)`` pairs in their original case; pass
            them without ``Connection``/``Upgrade``/``Content-Length``, as API Gateway does.
        query: Query-string pairs; when empty the query keys are left out of the event.
        **context: The connection, stage and request fields (see :class:`RequestContextArgs`).

    Returns:
        The event dict (freshly built; the caller may mutate it).
    """
    header_list = list(headers)
    event: dict[str, Any] = {}
    if header_list:
        event["headers"], event["multiValueHeaders"] = _multi(header_list)
    query_list = list(query)
    if query_list:
        event["queryStringParameters"], event["multiValueQueryStringParameters"] = _multi(
            query_list
        )
    event["requestContext"] = _request_context(
        route_key="$connect", event_type="CONNECT", **context
    )
    event["isBase64Encoded"] = False
    return event


def build_message_event(
    *,
    body: str,
    route_key: str = "$default",
    message_id: str | None = None,
    **context: Unpack[RequestContextArgs],
) -> dict[str, Any]:
    """Build a MESSAGE event for ``route_key`` (``$default`` or a custom key).

    Args:
        body: The text frame, unchanged.
        route_key: The selected route key.
        message_id: ``requestContext.messageId``; a fresh one when omitted.
        **context: The connection, stage and request fields (see :class:`RequestContextArgs`);
            ``authorizer`` is the one propagated from ``$connect``.

    Returns:
        The event dict.
    """
    ctx = _request_context(route_key=route_key, event_type="MESSAGE", **context)
    # messageId sits next to routeKey in real captures; dict order is cosmetic but kept.
    ordered: dict[str, Any] = {"routeKey": route_key, "messageId": message_id or make_id()}
    ordered.update((k, v) for k, v in ctx.items() if k != "routeKey")
    return {"requestContext": ordered, "body": body, "isBase64Encoded": False}


def forwarded_headers(
    client_headers: Iterable[tuple[str, str]],
    *,
    source_ip: str,
    port: int,
    proto: str = "http",
    hide: Iterable[str] = (),
) -> list[tuple[str, str]]:
    """Return the handshake headers as API Gateway forwards them on ``$connect``.

    The client's headers (minus those named in ``hide``, compared case-insensitively), an
    ``X-Amzn-Trace-Id`` when the client sent none, and ``X-Forwarded-For/Port/Proto``
    (docs/aws-behaviour.md §1.2). The integration event hides ``Connection``/``Upgrade``/
    ``content-length``; the authorizer event keeps them (§4.2).
    """
    hidden = {name.lower() for name in hide}
    headers = [(n, v) for n, v in client_headers if n.lower() not in hidden]
    if not any(n.lower() == "x-amzn-trace-id" for n, _ in headers):
        headers.append(("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"))
    headers.append(("X-Forwarded-For", source_ip))
    headers.append(("X-Forwarded-Port", str(port)))
    headers.append(("X-Forwarded-Proto", proto))
    return headers


def disconnect_headers(host: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Return the fixed synthetic ``headers`` and ``multiValueHeaders`` of a DISCONNECT event."""
    single = {"Host": host, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return single, {name: [value] for name, value in single.items()}


def build_disconnect_event(
    *,
    status_code: int,
    reason: str | None = None,
    **context: Unpack[RequestContextArgs],
) -> dict[str, Any]:
    """Build a ``$disconnect`` (DISCONNECT) event.

    Args:
        status_code: ``disconnectStatusCode`` (the close code, e.g. 1000, 1001, 1005, 1006).
        reason: ``disconnectReason``; when ``None``, the reason API Gateway reports for
            ``status_code`` (see :data:`DISCONNECT_REASONS`), else ``""``.
        **context: The connection, stage and request fields (see :class:`RequestContextArgs`);
            ``domain_name`` is also the synthetic ``Host`` header.

    Returns:
        The event dict.
    """
    if reason is None:
        reason = DISCONNECT_REASONS.get(status_code, "")
    ctx = _request_context(route_key="$disconnect", event_type="DISCONNECT", **context)
    ordered: dict[str, Any] = {"routeKey": "$disconnect", "disconnectStatusCode": status_code}
    for key, value in ctx.items():
        if key == "routeKey":
            continue
        ordered[key] = value
        if key == "messageDirection":
            ordered["disconnectReason"] = reason
    headers, multi = disconnect_headers(context["domain_name"])
    return {
        "headers": headers,
        "multiValueHeaders": multi,
        "requestContext": ordered,
        "isBase64Encoded": False,
    }
