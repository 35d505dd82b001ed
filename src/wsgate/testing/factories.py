"""Event factories: API Gateway WebSocket events and a Lambda context for unit tests.

Every event is built by the emulator's own builders (:mod:`wsgate.local.eventgen`), so a
factory event has exactly the keys API Gateway sends (docs/aws-behaviour.md §1) and that
``wsgate serve``
produces: CONNECT with handshake headers and, only when there is a query string, the query
maps; MESSAGE with ``body`` and ``messageId``; DISCONNECT with the synthetic headers and
``disconnectStatusCode``/``disconnectReason``. Defaults are realistic (16-character ids ending
in ``=``, epoch-millisecond times, a browser's handshake headers) and each field can be set::

    from wsgate.testing import connect_event, message_event, disconnect_event, lambda_context

    app(connect_event(query={"token": "abc"}, headers={"Origin": "https://app.example"}),
        lambda_context())
    app(message_event({"action": "join", "room": "lobby"}, app=app), lambda_context())
    app(disconnect_event(status_code=1001), lambda_context())

To follow one connection through its life (same id, connect time and authorizer context),
use :class:`ConnectionEvents`. Stdlib only: importing this module loads neither boto3 nor
asyncio.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from wsgate.context import LambdaContext
from wsgate.exceptions import InvalidRouteError
from wsgate.local.eventgen import (
    build_connect_event,
    build_disconnect_event,
    build_message_event,
    make_api_id,
    make_id,
)

__all__ = [
    "DEFAULT_REGION",
    "DEFAULT_SOURCE_IP",
    "DEFAULT_STAGE",
    "DEFAULT_USER_AGENT",
    "ConnectionEvents",
    "HeadersArg",
    "QueryArg",
    "connect_event",
    "disconnect_event",
    "lambda_context",
    "message_event",
]

DEFAULT_STAGE = "test"
DEFAULT_REGION = "us-east-1"
#: TEST-NET-1 (RFC 5737): a real-looking public address that belongs to nobody.
DEFAULT_SOURCE_IP = "192.0.2.10"
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)

#: Headers: a mapping (a ``None`` value removes a default header; a list value repeats the
#: header) or ``(name, value)`` pairs.
HeadersArg = Mapping[str, "str | list[str] | None"] | Iterable[tuple[str, str]]
#: Query: a mapping (a list value repeats the key), a query string (``"token=a&room=b"``,
#: with or without the leading ``?``) or ``(name, value)`` pairs.
QueryArg = Mapping[str, "str | list[str]"] | str | Iterable[tuple[str, str]]


def _pairs(value: Any) -> list[tuple[str, Any]]:
    """``(name, value)`` pairs from a mapping (list values expanded) or an iterable of pairs."""
    if isinstance(value, Mapping):
        out: list[tuple[str, Any]] = []
        for name, item in value.items():
            if isinstance(item, list | tuple):
                out.extend((str(name), v) for v in item)
            else:
                out.append((str(name), item))
        return out
    return [(str(name), item) for name, item in value]


def query_pairs(query: QueryArg | None) -> list[tuple[str, str]]:
    """Normalise a :data:`QueryArg` into decoded ``(name, value)`` pairs, in order."""
    if query is None:
        return []
    if isinstance(query, str):
        return parse_qsl(query.lstrip("?"), keep_blank_values=True)
    return [(name, str(value)) for name, value in _pairs(query)]


def _handshake_headers(
    domain_name: str, source_ip: str, user_agent: str | None
) -> list[tuple[str, str]]:
    """The headers a browser's handshake carries once API Gateway has added its own (§1.2)."""
    headers = [
        ("Host", domain_name),
        ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
        ("Sec-WebSocket-Key", base64.b64encode(os.urandom(16)).decode("ascii")),
        ("Sec-WebSocket-Version", "13"),
    ]
    if user_agent is not None:
        headers.append(("User-Agent", user_agent))
    headers += [
        ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"),
        ("X-Forwarded-For", source_ip),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    return headers


def merge_headers(
    defaults: list[tuple[str, str]], overrides: HeadersArg | None
) -> list[tuple[str, str]]:
    """Apply ``overrides`` to ``defaults``: same name (any case) replaces, ``None`` removes."""
    if overrides is None:
        return list(defaults)
    given = _pairs(overrides)
    replaced = {name.lower() for name, _ in given}
    merged = [(n, v) for n, v in defaults if n.lower() not in replaced]
    merged += [(name, str(value)) for name, value in given if value is not None]
    return merged


def encode_body(body: Any) -> str:
    """A message body as the client's text frame: ``str`` as is, bytes as UTF-8, else JSON.

    JSON is compact, as a browser's ``JSON.stringify`` writes it.

    Raises:
        TypeError: ``body`` is not JSON-serialisable.
        UnicodeDecodeError: ``body`` is bytes that are not UTF-8 (API Gateway closes the
            connection with 1003 on binary frames; send text).
    """
    if isinstance(body, str):
        return body
    if isinstance(body, bytes | bytearray):
        return bytes(body).decode("utf-8")
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _now_ms() -> int:
    return int(time.time() * 1000)


class ConnectionEvents:
    """Builds the CONNECT, MESSAGE and DISCONNECT events of one client connection.

    Every event shares the connection's id, connect time, identity, domain, stage, API id and
    (when given) authorizer context, as API Gateway's events for one connection do.

    Args:
        connection_id: The connection id; a fresh realistic one when omitted.
        connected_at: Connect time in epoch milliseconds; now when omitted.
        stage: The stage name.
        api_id: The API id; a random 10-character one when omitted.
        region: Region used in the default domain name.
        domain_name: ``requestContext.domainName``; default
            ``{api_id}.execute-api.{region}.amazonaws.com``.
        source_ip: ``identity.sourceIp``.
        user_agent: ``identity.userAgent`` and the ``User-Agent`` header; ``None`` for a
            client that sends none (the key is then absent, as on AWS).
        authorizer: ``requestContext.authorizer`` as an authorizer leaves it (e.g.
            ``{"principalId": "alice", "integrationLatency": 0}``), on every event.
    """

    def __init__(
        self,
        *,
        connection_id: str | None = None,
        connected_at: int | None = None,
        stage: str = DEFAULT_STAGE,
        api_id: str | None = None,
        region: str = DEFAULT_REGION,
        domain_name: str | None = None,
        source_ip: str = DEFAULT_SOURCE_IP,
        user_agent: str | None = DEFAULT_USER_AGENT,
        authorizer: Mapping[str, Any] | None = None,
    ) -> None:
        self.connection_id = connection_id or make_id()
        self.connected_at = _now_ms() if connected_at is None else int(connected_at)
        self.stage = stage
        self.api_id = api_id or make_api_id()
        self.domain_name = domain_name or f"{self.api_id}.execute-api.{region}.amazonaws.com"
        self.source_ip = source_ip
        self.user_agent = user_agent
        self.authorizer: dict[str, Any] | None = (
            dict(authorizer) if authorizer is not None else None
        )

    def __repr__(self) -> str:
        return f"ConnectionEvents(connection_id={self.connection_id!r}, stage={self.stage!r})"

    @property
    def management_endpoint(self) -> str:
        """``https://{domainName}/{stage}``: where handlers post to this connection."""
        return f"https://{self.domain_name}/{self.stage}"

    def _common(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "connected_at": self.connected_at,
            "stage": self.stage,
            "api_id": self.api_id,
            "domain_name": self.domain_name,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
            "authorizer": self.authorizer,
        }

    def connect(
        self,
        *,
        query: QueryArg | None = None,
        headers: HeadersArg | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """The ``$connect`` event of this connection.

        Args:
            query: The URL's query string; the query keys are absent when it is empty.
            headers: Handshake headers merged over a browser's defaults (``Host``,
                ``Sec-WebSocket-*``, ``User-Agent``, ``X-Amzn-Trace-Id``,
                ``X-Forwarded-*``); a ``None`` value removes a default.
            request_id: ``requestId``/``extendedRequestId``; fresh when omitted.

        Returns:
            A new event dict; its ``requestTimeEpoch`` equals ``connectedAt``, as on AWS.
        """
        defaults = _handshake_headers(self.domain_name, self.source_ip, self.user_agent)
        return build_connect_event(
            headers=merge_headers(defaults, headers),
            query=query_pairs(query),
            request_id=request_id,
            now=self.connected_at / 1000,
            **self._common(),
        )

    def message(
        self,
        body: Any = "",
        *,
        route_key: str | None = None,
        app: Any = None,
        message_id: str | None = None,
        request_id: str | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """A MESSAGE event carrying ``body`` on this connection.

        Args:
            body: The text frame: a ``str`` as is, anything else as compact JSON.
            route_key: The route API Gateway selected. When omitted and ``app`` is given, the
                app's selection expression picks it as API Gateway would; else ``$default``.
            app: A ``WebSocketApp`` (or anything with ``route_selection_expression`` and
                ``route_keys``) to select the route for.
            message_id: ``requestContext.messageId``; fresh when omitted.
            request_id: ``requestId``; fresh when omitted.
            now: Request time, epoch seconds; now when omitted.

        Raises:
            InvalidRouteError: ``app`` has no route for the body and no ``$default``: API
                Gateway would answer the client with a ``Forbidden`` frame and invoke nothing.
            TypeError: ``body`` is not JSON-serialisable.
        """
        text = encode_body(body)
        if route_key is None:
            route_key = "$default" if app is None else _select(app, text)
        return build_message_event(
            body=text,
            route_key=route_key,
            message_id=message_id,
            request_id=request_id,
            now=now,
            **self._common(),
        )

    def disconnect(
        self,
        status_code: int = 1000,
        reason: str | None = None,
        *,
        request_id: str | None = None,
        now: float | None = None,
    ) -> dict[str, Any]:
        """The ``$disconnect`` event of this connection.

        Args:
            status_code: ``disconnectStatusCode``: 1000 (normal or DeleteConnection), 1001
                (going away, idle timeout), 1005 (close frame without code), 1006 (dropped).
            reason: ``disconnectReason``; API Gateway's text for the code when omitted.
            request_id: ``requestId``; fresh when omitted.
            now: Request time, epoch seconds; now when omitted.
        """
        return build_disconnect_event(
            status_code=status_code,
            reason=reason,
            request_id=request_id,
            now=now,
            **self._common(),
        )


def _select(app: Any, body: str) -> str:
    """The route key API Gateway would invoke for ``body`` on ``app``'s routes."""
    from wsgate.selection import select_route

    keys = frozenset(app.route_keys)
    selected = select_route(str(app.route_selection_expression), body, keys)
    if selected is None:
        raise InvalidRouteError(
            body[:60], "no route matches this body and the app has no $default route"
        )
    return selected


_CONNECTION_FIELDS = (
    "connection_id",
    "connected_at",
    "stage",
    "api_id",
    "region",
    "domain_name",
    "source_ip",
    "user_agent",
    "authorizer",
)


def _connection(fields: dict[str, Any]) -> ConnectionEvents:
    unknown = set(fields) - set(_CONNECTION_FIELDS)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    return ConnectionEvents(**fields)


def connect_event(
    *,
    query: QueryArg | None = None,
    headers: HeadersArg | None = None,
    request_id: str | None = None,
    **connection: Any,
) -> dict[str, Any]:
    """A ``$connect`` event with realistic defaults.

    Args:
        query: Query string (mapping, string or pairs); no query keys when omitted.
        headers: Handshake headers merged over a browser's defaults; ``None`` removes one.
        request_id: ``requestId``; fresh when omitted.
        **connection: Any :class:`ConnectionEvents` argument: ``connection_id``,
            ``connected_at``, ``stage``, ``api_id``, ``region``, ``domain_name``,
            ``source_ip``, ``user_agent``, ``authorizer``.

    Raises:
        TypeError: An unknown keyword argument.
    """
    return _connection(connection).connect(query=query, headers=headers, request_id=request_id)


def message_event(
    body: Any = "",
    *,
    route_key: str | None = None,
    app: Any = None,
    message_id: str | None = None,
    request_id: str | None = None,
    now: float | None = None,
    **connection: Any,
) -> dict[str, Any]:
    """A MESSAGE event carrying ``body`` (a ``str`` as is, anything else as compact JSON).

    ``route_key`` defaults to what ``app``'s selection expression picks (with ``app``), else
    ``$default``. Other keywords as :func:`connect_event`.

    Raises:
        InvalidRouteError: ``app`` has no matching route and no ``$default``.
        TypeError: An unknown keyword argument, or a body that is not JSON-serialisable.
    """
    return _connection(connection).message(
        body, route_key=route_key, app=app, message_id=message_id, request_id=request_id, now=now
    )


def disconnect_event(
    status_code: int = 1000,
    reason: str | None = None,
    *,
    request_id: str | None = None,
    now: float | None = None,
    **connection: Any,
) -> dict[str, Any]:
    """A ``$disconnect`` event with ``disconnectStatusCode`` and ``disconnectReason``.

    ``reason`` defaults to API Gateway's text for the code (``"Connection Closed Normally"``
    for 1000, ``"Going away"`` for 1001, ...). Other keywords as :func:`connect_event`.

    Raises:
        TypeError: An unknown keyword argument.
    """
    return _connection(connection).disconnect(status_code, reason, request_id=request_id, now=now)


def lambda_context(
    function_name: str = "wsgate-test",
    *,
    timeout: float = 29.0,
    aws_request_id: str | None = None,
    **options: Any,
) -> LambdaContext:
    """A Lambda context for calling a handler directly (``app(event, lambda_context())``).

    Args:
        function_name: The function's name (also in the ARN and log group).
        timeout: Seconds until ``get_remaining_time_in_millis()`` reaches 0.
        aws_request_id: The request id; a fresh UUID when omitted.
        **options: Other :class:`~wsgate.context.LambdaContext` arguments
            (``memory_limit_in_mb``, ``region``, ``account_id``, ``function_version``, ...).
    """
    return LambdaContext(function_name, timeout=timeout, aws_request_id=aws_request_id, **options)
