"""Every error wsgate raises, under one root.

Catch :class:`WsgateError` to catch them all. Several also inherit a builtin so that code
written against the builtin keeps working (a missing connection is a ``KeyError``, a malformed
event a ``ValueError``).

::

    WsgateError
    ├── EventError (ValueError)                the Lambda event is not a WebSocket event we can read
    │   └── InvalidBodyError                   the body is not valid JSON (or not valid base64)
    ├── RouteError                             a problem with the app's routes
    │   ├── DuplicateRouteError (ValueError)   the same route key registered twice
    │   └── InvalidRouteError (ValueError)     a route key or selection expression that cannot be
    ├── ConnectRejected                        raised in a $connect handler to refuse the handshake
    │   └── HandshakeRejected                  a test client's handshake got a non-101 status
    ├── MessageRejected                        raised in a handler to reject an acked message
    │   └── BodyValidationError (InvalidBodyError) a body that does not match the route's type
    ├── ConfigurationError                     wsgate is configured wrongly (endpoint, table, URL)
    ├── RegistryError                          the connection registry failed
    │   ├── ConnectionNotFound (KeyError)      no such (live) connection in the registry
    │   ├── InvalidRecordError (ValueError)    an id, name, metadata or TTL the registry refuses
    │   └── RegistryUnavailable                the backend could not be reached
    ├── SendError                              a Management API call failed
    │   ├── ConnectionGoneError                410: the connection is gone; prune it
    │   ├── PayloadTooLargeError (ValueError)  over 131,072 bytes: refused before any request
    │   ├── ForbiddenError                     403: wrong endpoint/stage or IAM; never prunes
    │   ├── ThrottledError                     429 still failing after the retry budget
    │   ├── ServerError                        5xx still failing after the retry budget
    │   └── TransportError                     network failure / timeout after the retry budget
    ├── AuthError                              authorizer outcomes
    │   ├── Unauthorized                       401: missing or invalid credentials
    │   ├── AccessDenied                       403: valid credentials, access refused
    │   └── AuthorizerConfigurationError       500: the authorizer failed or answered wrongly
    └── SessionError                           a test client's WebSocket session (wsgate.testing)
        ├── SessionClosed (ConnectionError)    the connection is closed (close code and reason)
        └── ReceiveTimeout (TimeoutError)      no message arrived within the timeout

Errors carry their data as attributes (``connection_id``, ``status_code``, ...) and build
their message in ``__str__``.
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "AuthError",
    "AuthorizerConfigurationError",
    "BodyValidationError",
    "ConfigurationError",
    "ConnectRejected",
    "ConnectionGoneError",
    "ConnectionNotFound",
    "DuplicateRouteError",
    "EventError",
    "ForbiddenError",
    "HandshakeRejected",
    "InvalidBodyError",
    "InvalidConnectionIdError",
    "InvalidRecordError",
    "InvalidRouteError",
    "MessageRejected",
    "PayloadTooLargeError",
    "ReceiveTimeout",
    "RegistryError",
    "RegistryUnavailable",
    "RouteError",
    "SendError",
    "ServerError",
    "SessionClosed",
    "SessionError",
    "ThrottledError",
    "TransportError",
    "Unauthorized",
    "WsgateError",
]


class WsgateError(Exception):
    """Root of every exception wsgate raises."""


# --- events -----------------------------------------------------------------------------------


class EventError(WsgateError, ValueError):
    """The Lambda event is not an API Gateway WebSocket event that can be read.

    Attributes:
        reason: What is wrong, in a few words.
        field: The dotted path of the offending field, when one is to blame.
    """

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason, field)
        self.reason = reason
        self.field = field

    def __str__(self) -> str:
        if self.field:
            return f"invalid WebSocket event: {self.field}: {self.reason}"
        return f"invalid WebSocket event: {self.reason}"


class InvalidBodyError(EventError):
    """The message body could not be decoded (bad JSON, bad base64)."""

    def __init__(self, reason: str, field: str | None = "body") -> None:
        super().__init__(reason, field)


# --- routes -----------------------------------------------------------------------------------


class RouteError(WsgateError):
    """A problem with the app's routes."""


class DuplicateRouteError(RouteError, ValueError):
    """The same route key was registered twice (raised when the module is imported)."""

    def __init__(self, route_key: str) -> None:
        super().__init__(route_key)
        self.route_key = route_key

    def __str__(self) -> str:
        return f"route {self.route_key!r} is already registered"


class InvalidRouteError(RouteError, ValueError):
    """A route key or a route selection expression that API Gateway would not accept."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(value, reason)
        self.value = value
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid route {self.value!r}: {self.reason}"


class ConnectRejected(WsgateError):
    """Raise in a ``$connect`` handler to refuse the handshake with an HTTP status.

    The client sees that status (e.g. ``401``) instead of ``101 Switching Protocols``.
    """

    def __init__(self, status_code: int = 403, reason: str = "") -> None:
        super().__init__(status_code, reason)
        self.status_code = status_code
        self.reason = reason

    def __str__(self) -> str:
        suffix = f": {self.reason}" if self.reason else ""
        return f"connection rejected with status {self.status_code}{suffix}"


class HandshakeRejected(ConnectRejected):
    """A test client's WebSocket handshake was answered with this status instead of ``101``.

    Raised by :mod:`wsgate.testing` clients when the authorizer or ``$connect`` refuses the
    connection (or the integration fails: 502), exactly where a real client sees
    ``Unexpected server response: 401``. Catching :class:`ConnectRejected` catches it too.

    Attributes:
        status_code: The HTTP status the client got (401, 403, 500, 502, ...).
        reason: The response body as text (empty when there was none).
        headers: The response headers, when the transport reports them.
    """

    def __init__(
        self,
        status_code: int,
        reason: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, reason)
        self.headers = dict(headers or {})

    def __str__(self) -> str:
        suffix = f": {self.reason}" if self.reason else ""
        return f"WebSocket handshake rejected with HTTP {self.status_code}{suffix}"


class MessageRejected(WsgateError):
    """Raise in a message handler to reject a client message that asked for an acknowledgement.

    With delivery enabled (:mod:`wsgate.delivery`), the client's ack says ``rejected`` with this
    reason, and a retry of the same message id gets the same answer without running the handler;
    a message without an ack id gets a 400 response carrying the reason.
    """

    def __init__(self, reason: str = "rejected") -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"message rejected: {self.reason}"


class BodyValidationError(MessageRejected, InvalidBodyError):
    """A message body that does not match the body type its route declares (:mod:`wsgate.bodies`).

    Raised by wsgate before the handler runs, never by the handler. It is a
    :class:`MessageRejected` (an acked message's ack says ``rejected`` with :attr:`reason`) and
    an :class:`InvalidBodyError` (a bad body, not a failing handler).

    Attributes:
        route_key: The route whose body type refused the message.
        errors: ``(path, message)`` pairs, at most a few (``path`` is ``""`` for the whole body,
            else like ``items[2].name``).
        total: How many errors were found (may be more than ``len(errors)``, and is itself a
            lower bound when validation stopped early).
        reason: A one-line summary, bounded in length.
    """

    def __init__(self, route_key: str, errors: list[tuple[str, str]], total: int) -> None:
        first = "; ".join(f"{p}: {m}" if p else m for p, m in errors[:3])
        more = total - min(len(errors), 3)
        summary = f"invalid body: {first}" + (f" (and {more} more)" if more > 0 else "")
        if len(summary) > 300:
            summary = summary[:297] + "..."
        Exception.__init__(self, summary)
        self.route_key = route_key
        self.errors = tuple(errors)
        self.total = total
        self.reason = summary
        self.field = "body"

    def __str__(self) -> str:
        return f"route {self.route_key!r}: {self.reason}"


# --- configuration ----------------------------------------------------------------------------


class ConfigurationError(WsgateError):
    """wsgate is configured wrongly: a missing endpoint, table, or a malformed URL."""


# --- registry ---------------------------------------------------------------------------------


class RegistryError(WsgateError):
    """The connection registry failed."""


class ConnectionNotFound(RegistryError, KeyError):
    """No live connection with this id is in the registry."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(connection_id)
        self.connection_id = connection_id

    def __str__(self) -> str:
        return f"no connection {self.connection_id!r} in the registry"


class InvalidRecordError(RegistryError, ValueError):
    """A connection id, user id, room/topic name, metadata map or TTL the registry cannot store.

    Raised before any write is made, so nothing is stored.

    Attributes:
        field: The argument at fault (``"metadata"``, ``"room"``, ...).
        reason: What is wrong with it.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"invalid {self.field}: {self.reason}"


class RegistryUnavailable(RegistryError):
    """The registry's backend could not be reached or refused the request."""


# --- sending ----------------------------------------------------------------------------------


class SendError(WsgateError):
    """A Management API (``@connections``) call failed.

    Attributes:
        connection_id: The connection the call was for.
        status_code: The HTTP status of the last answer, or ``None`` when none came.
        detail: Extra text (an error type or message from the server, or the cause).
    """

    default_status: int | None = None
    label = "send failed"

    def __init__(
        self,
        connection_id: str,
        status_code: int | None = None,
        detail: str = "",
    ) -> None:
        if status_code is None:
            status_code = self.default_status
        super().__init__(connection_id, status_code, detail)
        self.connection_id = connection_id
        self.status_code = status_code
        self.detail = detail

    def __str__(self) -> str:
        status = f" ({self.status_code})" if self.status_code is not None else ""
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.label}{status} for connection {self.connection_id!r}{detail}"


class ConnectionGoneError(SendError):
    """410: the connection no longer exists (or is not established yet). Safe to prune."""

    default_status = 410
    label = "connection gone"


class PayloadTooLargeError(SendError, ValueError):
    """The payload is over the 131,072-byte limit; refused before any request was made."""

    default_status = 413
    label = "payload too large"


class ForbiddenError(SendError):
    """403: wrong endpoint, stage or IAM permissions. A configuration problem: never prunes."""

    default_status = 403
    label = "forbidden"


class ThrottledError(SendError):
    """429 LimitExceeded, still failing when the retry budget ran out."""

    default_status = 429
    label = "throttled"


class ServerError(SendError):
    """5xx, still failing when the retry budget ran out."""

    label = "server error"


class TransportError(SendError):
    """The request could not be completed (connection refused, reset, timed out)."""

    label = "transport error"


class InvalidConnectionIdError(SendError, ValueError):
    """The connection id is not a non-empty string; refused before any request was made.

    ``connection_id`` holds the ``repr`` of what was given.
    """

    label = "invalid connection id"


# --- auth -------------------------------------------------------------------------------------


class AuthError(WsgateError):
    """An authorizer outcome other than Allow."""

    status_code = 401

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        name = type(self).__name__
        return f"{name}: {self.reason}" if self.reason else name


class Unauthorized(AuthError):
    """401: credentials missing or invalid. API Gateway answers 401."""

    status_code = 401


class AccessDenied(AuthError):
    """403: credentials valid but access refused (an explicit Deny)."""

    status_code = 403


class AuthorizerConfigurationError(AuthError):
    """500: the authorizer could not decide, or answered in a form API Gateway refuses.

    Raised for a malformed authorizer response (no ``principalId``, no policy), a ``context``
    holding objects or arrays, a result over 8 KB, or a key set (JWKS) that cannot be fetched.
    API Gateway answers such cases with 500 and ``x-amzn-ErrorType:
    AuthorizerConfigurationException``; the client learns nothing more.
    """

    status_code = 500


# --- test sessions ----------------------------------------------------------------------------


class SessionError(WsgateError):
    """A :mod:`wsgate.testing` client session cannot do what was asked."""


class SessionClosed(SessionError, ConnectionError):
    """The test session's connection is closed: nothing more can be sent or received.

    Attributes:
        connection_id: The connection, when known.
        code: The close code (1000 normal, 1001 going away, 1005 none given, 1006 abnormal).
        reason: The close reason (may be empty).
    """

    def __init__(self, connection_id: str | None, code: int, reason: str = "") -> None:
        super().__init__(connection_id, code, reason)
        self.connection_id = connection_id
        self.code = code
        self.reason = reason

    def __str__(self) -> str:
        suffix = f" {self.reason!r}" if self.reason else ""
        return f"connection {self.connection_id!r} is closed ({self.code}{suffix})"


class ReceiveTimeout(SessionError, TimeoutError):
    """Nothing arrived on the test session within the timeout.

    Attributes:
        connection_id: The connection that was waited on, when known.
        timeout: The seconds waited.
    """

    def __init__(self, connection_id: str | None, timeout: float) -> None:
        super().__init__(connection_id, timeout)
        self.connection_id = connection_id
        self.timeout = timeout

    def __str__(self) -> str:
        return f"no message for connection {self.connection_id!r} within {self.timeout:g} s"
