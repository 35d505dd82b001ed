"""Typed, read-only views over API Gateway WebSocket Lambda events.

API Gateway invokes the integration Lambda with a plain dict (see the reference's §1). This
module wraps that dict without copying it: every property reads the raw event on demand, so
fields AWS adds later break nothing and unused fields cost nothing. ``event.raw`` is always the
original dict.

Call :func:`parse_event` on the Lambda event; it picks :class:`ConnectEvent`,
:class:`MessageEvent` or :class:`DisconnectEvent` by ``requestContext.eventType`` and raises
:class:`~wsgate.exceptions.EventError` when the dict is not a WebSocket event. A missing field
is reported when it is read, as an ``EventError`` naming the field.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping

from wsgate.exceptions import ConfigurationError, EventError, InvalidBodyError
from wsgate.fields import (
    Authorizer,
    CallerIdentity,
    Headers,
    Identity,
    QueryParams,
    parse_authorizer,
)

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any, ClassVar

__all__ = [
    "Authorizer",
    "CallerIdentity",
    "ConnectEvent",
    "DisconnectEvent",
    "Headers",
    "Identity",
    "MessageEvent",
    "QueryParams",
    "WebSocketEvent",
    "parse_event",
]

_UNSET: Any = object()
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})


class WebSocketEvent:
    """A read-only view over one API Gateway WebSocket event (any event type).

    Build one with :func:`parse_event`; the subclasses add the fields only their event type
    carries. Properties raise :class:`~wsgate.exceptions.EventError` when a field they need is
    missing or has the wrong type.
    """

    __slots__ = ("_authorizer", "_body", "_ctx", "_headers", "_json", "_query", "_raw")

    event_type_name: ClassVar[str | None] = None

    def __init__(self, raw: Mapping[str, Any]) -> None:
        """Wrap ``raw`` (not copied).

        Raises:
            EventError: ``raw`` is not a mapping, has no ``requestContext`` object, or (for a
                subclass) carries a different ``eventType``.
        """
        if not isinstance(raw, Mapping):
            raise EventError(f"expected a JSON object, got {type(raw).__name__}")
        ctx = raw.get("requestContext")
        if not isinstance(ctx, Mapping):
            raise EventError("missing or not an object", "requestContext")
        expected = self.event_type_name
        if expected is not None and ctx.get("eventType") != expected:
            raise EventError(f"expected {expected!r}, got {ctx.get('eventType')!r}", _F_TYPE)
        self._init(raw, ctx)

    def _init(self, raw: Mapping[str, Any], ctx: Mapping[str, Any]) -> None:
        self._raw = raw
        self._ctx = ctx
        self._headers: Headers | None = None
        self._query: QueryParams | None = None
        self._authorizer: Authorizer | None = _UNSET
        self._body: str = _UNSET
        self._json: Any = _UNSET

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} route_key={self._ctx.get('routeKey')!r} "
            f"connection_id={self._ctx.get('connectionId')!r}>"
        )

    # --- helpers -------------------------------------------------------------------------------

    def _str(self, key: str) -> str:
        value = self._ctx.get(key)
        if not isinstance(value, str):
            raise EventError("missing or not a string", f"requestContext.{key}")
        return value

    def _int(self, key: str) -> int:
        value = self._ctx.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise EventError("missing or not an integer", f"requestContext.{key}")
        return value

    # --- requestContext ----------------------------------------------------------------------

    @property
    def raw(self) -> Mapping[str, Any]:
        """The Lambda event exactly as received."""
        return self._raw

    @property
    def request_context(self) -> Mapping[str, Any]:
        """The raw ``requestContext`` object."""
        return self._ctx

    @property
    def event_type(self) -> str:
        """``"CONNECT"``, ``"MESSAGE"`` or ``"DISCONNECT"``."""
        return self._str("eventType")

    @property
    def connection_id(self) -> str:
        """API Gateway's connection id, e.g. ``"R1kmxc2VNjMCFIA="``."""
        return self._str("connectionId")

    @property
    def route_key(self) -> str:
        """The route API Gateway selected: ``"$connect"``, ``"$default"``, a custom key, ..."""
        return self._str("routeKey")

    @property
    def domain_name(self) -> str:
        """The host the client connected to (an ``execute-api`` host or a custom domain)."""
        return self._str("domainName")

    @property
    def stage(self) -> str:
        """The API stage name (the real stage, even behind a custom domain)."""
        return self._str("stage")

    @property
    def api_id(self) -> str:
        """The API id, e.g. ``"dl7ptocha9"``."""
        return self._str("apiId")

    @property
    def connected_at(self) -> int:
        """When the connection was opened, in epoch milliseconds (constant per connection)."""
        return self._int("connectedAt")

    @property
    def request_time(self) -> str:
        """The request time in CLF form, e.g. ``"20/Jan/2024:11:55:00 +0000"``."""
        return self._str("requestTime")

    @property
    def request_time_epoch(self) -> int:
        """The request time in epoch milliseconds."""
        return self._int("requestTimeEpoch")

    @property
    def request_id(self) -> str:
        """The request id (equal to ``extendedRequestId``)."""
        value = self._ctx.get("requestId")
        if isinstance(value, str):
            return value
        return self._str("extendedRequestId")

    @property
    def extended_request_id(self) -> str | None:
        """The extended request id, or ``None`` when absent."""
        value = self._ctx.get("extendedRequestId")
        return value if isinstance(value, str) else None

    @property
    def message_id(self) -> str | None:
        """The message id (MESSAGE events only; ``None`` otherwise)."""
        value = self._ctx.get("messageId")
        return value if isinstance(value, str) else None

    @property
    def message_direction(self) -> str | None:
        """Always ``"IN"`` on real events; ``None`` when absent."""
        value = self._ctx.get("messageDirection")
        return value if isinstance(value, str) else None

    @property
    def identity(self) -> CallerIdentity:
        """The caller's identity (source IP, user agent, API key); tolerant of the 2020 form."""
        value = self._ctx.get("identity")
        if value is None:
            return CallerIdentity({})
        if not isinstance(value, Mapping):
            raise EventError("not an object", "requestContext.identity")
        return CallerIdentity(value)

    @property
    def source_ip(self) -> str | None:
        """Shortcut for ``identity.source_ip``."""
        return self.identity.source_ip

    @property
    def user_agent(self) -> str | None:
        """Shortcut for ``identity.user_agent`` (present only when the client sent one)."""
        return self.identity.user_agent

    @property
    def authorizer(self) -> Authorizer | None:
        """The ``$connect`` authorizer's output, or ``None`` when the API has no authorizer.

        Present on every event of an authorized connection: ``principal_id`` plus the
        context, whose values API Gateway stringifies.
        """
        if self._authorizer is _UNSET:
            self._authorizer = parse_authorizer(self._ctx.get("authorizer"))
        return self._authorizer

    @property
    def principal_id(self) -> str | None:
        """The verified principal of the connection (``authorizer.principalId``), or ``None``.

        Set only when ``$connect`` has an authorizer; unlike a query parameter, the client
        cannot choose it.
        """
        authorizer = self.authorizer
        return authorizer.principal_id if authorizer is not None else None

    # --- top level ---------------------------------------------------------------------------

    @property
    def headers(self) -> Headers:
        """Handshake headers, case-insensitive; empty on MESSAGE events.

        ``multiValueHeaders`` is authoritative: a header's value is its values joined by
        ``", "``. Use :meth:`Headers.get_all` for the separate values.
        """
        if self._headers is None:
            self._headers = Headers(
                self._mapping("multiValueHeaders"), self._mapping("headers"), "headers"
            )
        return self._headers

    @property
    def query_params(self) -> QueryParams:
        """Query string parameters of the ``$connect`` URL; empty when there were none."""
        if self._query is None:
            self._query = QueryParams(
                self._mapping("multiValueQueryStringParameters"),
                self._mapping("queryStringParameters"),
            )
        return self._query

    def _mapping(self, key: str) -> Mapping[str, Any] | None:
        value = self._raw.get(key)
        if value is None or isinstance(value, Mapping):
            return value
        raise EventError("not an object", key)

    @property
    def is_base64_encoded(self) -> bool:
        """Whether ``raw["body"]`` is base64 (always false on observed WebSocket events)."""
        return self._raw.get("isBase64Encoded") is True

    @property
    def body(self) -> str:
        """The message text (``""`` when the event has no body, as CONNECT and DISCONNECT).

        Raises:
            InvalidBodyError: the body is marked base64 but is not valid base64 or UTF-8.
        """
        if self._body is _UNSET:
            raw_body = self._raw.get("body")
            if raw_body is None:
                body = ""
            elif not isinstance(raw_body, str):
                raise InvalidBodyError(f"expected a string, got {type(raw_body).__name__}")
            elif self.is_base64_encoded:
                try:
                    body = base64.b64decode(raw_body, validate=True).decode("utf-8")
                except (binascii.Error, ValueError) as exc:
                    raise InvalidBodyError(f"not valid base64-encoded UTF-8: {exc}") from None
            else:
                body = raw_body
            self._body = body
        return self._body

    @property
    def body_bytes(self) -> bytes:
        """The message as bytes: base64-decoded when marked so, else the UTF-8 of the text."""
        raw_body = self._raw.get("body")
        if self.is_base64_encoded and isinstance(raw_body, str):
            try:
                return base64.b64decode(raw_body, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidBodyError(f"not valid base64: {exc}") from None
        return self.body.encode("utf-8")

    @property
    def json(self) -> Any:
        """The body parsed as JSON, parsed on first access and cached.

        Raises:
            InvalidBodyError: the body is empty, not valid JSON, or nested too deeply to decode.
        """
        if self._json is _UNSET:
            body = self.body
            try:
                self._json = json.loads(body)
            except ValueError as exc:
                raise InvalidBodyError(f"not valid JSON: {exc}") from None
            except RecursionError:  # deeper than the interpreter can decode
                raise InvalidBodyError("not valid JSON: nested too deeply") from None
        return self._json

    # --- endpoints ---------------------------------------------------------------------------

    @property
    def management_endpoint(self) -> str:
        """The Management API endpoint for this connection: ``https://{domainName}/{stage}``.

        On a loopback host (the local emulator) the scheme is ``http``. Behind a custom domain
        this URL only works if the domain maps the stage under its own name; use
        :meth:`execute_api_endpoint` (or ``WSGATE_ENDPOINT``) when it does not.
        """
        domain = self.domain_name
        host = domain.partition("]")[0] + "]" if domain.startswith("[") else domain
        scheme = "http" if host.rsplit(":", 1)[0] in _LOOPBACK_HOSTS else "https"
        return f"{scheme}://{domain}/{self.stage}"

    @property
    def is_custom_domain(self) -> bool:
        """Whether the client connected through a custom domain (not ``execute-api``)."""
        return ".execute-api." not in self.domain_name

    def execute_api_endpoint(self, region: str | None = None) -> str:
        """Build ``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}``.

        Call this when the client came through a custom domain. The region is taken from the
        argument, else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else the ``execute-api``
        domain name.

        Raises:
            ConfigurationError: no region can be determined.
        """
        region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if not region:
            parts = self.domain_name.split(".")
            if len(parts) >= 4 and parts[1] == "execute-api":
                region = parts[2]
        if not region:
            raise ConfigurationError(
                "cannot build the execute-api endpoint: pass region= or set AWS_REGION"
            )
        return f"https://{self.api_id}.execute-api.{region}.amazonaws.com/{self.stage}"


class ConnectEvent(WebSocketEvent):
    """The ``$connect`` event: handshake headers and query string, no body."""

    __slots__ = ()
    event_type_name = "CONNECT"

    @property
    def subprotocols(self) -> tuple[str, ...]:
        """The subprotocols the client offered in ``Sec-WebSocket-Protocol``, in order."""
        offered: list[str] = []
        for value in self.headers.get_all("sec-websocket-protocol"):
            offered.extend(p.strip() for p in value.split(",") if p.strip())
        return tuple(offered)


class MessageEvent(WebSocketEvent):
    """A message on ``$default`` or a custom route: ``body``, ``json`` and ``message_id``."""

    __slots__ = ()
    event_type_name = "MESSAGE"


class DisconnectEvent(WebSocketEvent):
    """The ``$disconnect`` event (best effort), with the close code and reason."""

    __slots__ = ()
    event_type_name = "DISCONNECT"

    @property
    def disconnect_status_code(self) -> int | None:
        """The WebSocket close code (e.g. 1000, 1001, 1005), ``None`` when absent."""
        value = self._ctx.get("disconnectStatusCode")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return None

    @property
    def disconnect_reason(self) -> str:
        """The close reason (often ``""``)."""
        value = self._ctx.get("disconnectReason")
        return value if isinstance(value, str) else ""


_F_TYPE = "requestContext.eventType"
_CLASSES: dict[Any, type[WebSocketEvent]] = {
    "CONNECT": ConnectEvent,
    "MESSAGE": MessageEvent,
    "DISCONNECT": DisconnectEvent,
}


def parse_event(raw: Mapping[str, Any]) -> WebSocketEvent:
    """Wrap a Lambda event in the typed view for its ``requestContext.eventType``.

    Call this first on every invocation (``WebSocketApp.dispatch`` does). Only the fields
    every dispatch needs (event type, route key, connection id) are checked here.

    Raises:
        EventError: ``raw`` is not a WebSocket event (no ``requestContext``, unknown
            ``eventType``, missing ``routeKey`` or ``connectionId``).
    """
    # `type(...) is dict` first: the Mapping ABC check is slow and events are plain dicts.
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise EventError(f"expected a JSON object, got {type(raw).__name__}")
    ctx = raw.get("requestContext")
    if type(ctx) is not dict and not isinstance(ctx, Mapping):
        raise EventError("missing or not an object", "requestContext")
    event_type = ctx.get("eventType")
    try:
        cls = _CLASSES[event_type]
    except (KeyError, TypeError):
        raise EventError(f"unknown event type {event_type!r}", _F_TYPE) from None
    if not isinstance(ctx.get("routeKey"), str):
        raise EventError("missing or not a string", "requestContext.routeKey")
    if not isinstance(ctx.get("connectionId"), str):
        raise EventError("missing or not a string", "requestContext.connectionId")
    event = cls.__new__(cls)
    event._init(raw, ctx)  # already validated above
    return event
