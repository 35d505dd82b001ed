"""The verified identity of a connection, read from ``requestContext.authorizer``.

When ``$connect`` has an authorizer, API Gateway copies its principal id and context into every
later event of the connection (CONNECT, MESSAGE, DISCONNECT). That is the only user id a handler
can trust: a ``?userId=`` query parameter is whatever the client typed.

:func:`user_id_from_event` is what ``wsgate.gateway`` and the router call to find the user of
an event. Stdlib only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["AuthorizerIdentity", "Identity", "identity_from_event", "user_id_from_event"]


@dataclass(frozen=True)
class AuthorizerIdentity:
    """The authorizer's verdict as later events carry it.

    (Not to be confused with :class:`wsgate.CallerIdentity`, ``requestContext.identity``.)

    Attributes:
        principal_id: ``requestContext.authorizer.principalId``.
        context: The authorizer context, values stringified by API Gateway (``None`` kept).
        integration_latency: Milliseconds the authorizer took, when API Gateway reported it.
    """

    principal_id: str | None
    context: Mapping[str, str | None] = field(default_factory=dict)
    integration_latency: int | float | None = None


#: The former name, kept for existing imports (``wsgate.auth.Identity``).
Identity = AuthorizerIdentity


def _raw(event: object) -> Mapping[str, Any]:
    raw = getattr(event, "raw", event)
    return raw if isinstance(raw, Mapping) else {}


def identity_from_event(event: object) -> AuthorizerIdentity | None:
    """The authorizer identity of an event, or ``None`` when no authorizer ran.

    Args:
        event: A raw Lambda event dict or a ``wsgate.events.WebSocketEvent``.
    """
    request_context = _raw(event).get("requestContext")
    if not isinstance(request_context, Mapping):
        return None
    authorizer = request_context.get("authorizer")
    if not isinstance(authorizer, Mapping) or not authorizer:
        return None
    principal = authorizer.get("principalId")
    latency = authorizer.get("integrationLatency")
    context: dict[str, str | None] = {}
    for key, value in authorizer.items():
        if key in ("principalId", "integrationLatency") or not isinstance(key, str):
            continue
        if value is None or isinstance(value, str):
            context[key] = value
        elif isinstance(value, bool):
            context[key] = "true" if value else "false"
        elif isinstance(value, int | float):
            context[key] = str(value)
    return AuthorizerIdentity(
        principal_id=principal if isinstance(principal, str) and principal else None,
        context=context,
        integration_latency=(
            latency if isinstance(latency, int | float) and not isinstance(latency, bool) else None
        ),
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
