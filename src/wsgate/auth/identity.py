"""The verified identity of a connection, read from ``requestContext.authorizer``.

When ``$connect`` has an authorizer, API Gateway copies its principal id and context into every
later event of the connection (CONNECT, MESSAGE, DISCONNECT). That is the only user id a handler
can trust: a ``?userId=`` query parameter is whatever the client typed.

:func:`user_id_from_event` is what ``wsgate.gateway`` and the router call to find the user of
an event. Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping

from wsgate.aws.record import Record

TYPE_CHECKING = False  # typing is not imported on a cold ``$connect``
if TYPE_CHECKING:
    from typing import Any

__all__ = ["AuthorizerIdentity", "Identity", "identity_from_event", "user_id_from_event"]

_MISSING: Any = object()


class AuthorizerIdentity(Record):
    """The authorizer's verdict as later events carry it.

    (Not to be confused with :class:`wsgate.CallerIdentity`, ``requestContext.identity``.)

    Attributes:
        principal_id: ``requestContext.authorizer.principalId``.
        context: The authorizer context, values stringified by API Gateway (``None`` kept).
        integration_latency: Milliseconds the authorizer took, when API Gateway reported it.
    """

    # A plain record, not a dataclass: ``dataclasses`` loads ``inspect`` (a cold start's ms).
    __slots__ = ("context", "integration_latency", "principal_id")
    __match_args__ = ("principal_id", "context", "integration_latency")

    principal_id: str | None
    context: Mapping[str, str | None]
    integration_latency: int | float | None

    def __init__(
        self,
        principal_id: str | None,
        context: Mapping[str, str | None] | None = None,
        integration_latency: int | float | None = None,
    ) -> None:
        object.__setattr__(self, "principal_id", principal_id)
        object.__setattr__(self, "context", {} if context is None else context)
        object.__setattr__(self, "integration_latency", integration_latency)


#: The former name, kept for existing imports (``wsgate.auth.Identity``).
Identity = AuthorizerIdentity


def identity_from_event(event: object) -> AuthorizerIdentity | None:
    """The authorizer identity of an event, or ``None`` when no authorizer ran.

    Reads ``requestContext.authorizer`` with :func:`wsgate.fields.parse_authorizer`, the same
    parser as ``event.authorizer``. An authorizer object that verifies nobody (empty, or an
    empty ``principalId``) gives an :class:`AuthorizerIdentity` whose ``principal_id`` is
    ``None``, not ``None``: an authorizer ran, so a caller must not fall back to a
    client-supplied id.

    Args:
        event: A raw Lambda event dict or a ``wsgate.events.WebSocketEvent``.
    """
    from wsgate.exceptions import EventError
    from wsgate.fields import parse_authorizer

    try:
        parsed = getattr(event, "authorizer", _MISSING)
        if parsed is _MISSING:
            request_context = event.get("requestContext") if isinstance(event, Mapping) else None
            if not isinstance(request_context, Mapping):
                return None
            parsed = parse_authorizer(request_context.get("authorizer"))
    except EventError:
        return AuthorizerIdentity(principal_id=None)  # something is there, but it verifies nobody
    if parsed is None:
        return None
    return AuthorizerIdentity(
        principal_id=parsed.principal_id,
        context=dict(parsed),
        integration_latency=parsed.integration_latency,
    )


def user_id_from_event(event: object, context_key: str | None = None) -> str | None:
    """The verified user id of an event: a context key, or else the principal id.

    Returns ``None`` when the event carries no authorizer data (no authorizer configured), or
    when the named key is absent or empty — never a value the client chose.

    Args:
        event: A raw Lambda event dict or a ``wsgate.events.WebSocketEvent``.
        context_key: The authorizer context key holding the user id (e.g. ``"userId"``);
            ``None`` uses ``principalId``.
    """
    identity = identity_from_event(event)
    if identity is None:
        return None
    if context_key is None or context_key == "principalId":
        return identity.principal_id
    value = identity.context.get(context_key)
    return value or None
