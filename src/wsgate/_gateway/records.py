"""Shapes shared by the gateway functions: record dicts, TTL values, recipients, current event.

The seed's functions speak plain dicts with the DynamoDB attribute names (``connectionId``,
``userId``, ``connectedAt``, ``lastActivity``, ``metadata``, ``expiresAt``); the registry speaks
frozen :class:`~wsgate.registry.base.Connection` records. This module converts between the two
and interprets the seed's ``ttl`` argument.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Mapping

from wsgate import config
from wsgate.exceptions import InvalidRecordError

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any, Final

    from wsgate.events import WebSocketEvent
    from wsgate.registry.base import Connection

    # A connection as the seed's functions return it (see :func:`to_dict`).
    ConnectionDict = dict[str, Any]
else:  # the same alias at run time, without typing's Any
    ConnectionDict = dict[str, object]

__all__ = [
    "ABSOLUTE_TTL_THRESHOLD",
    "MILLISECONDS_THRESHOLD",
    "ConnectionDict",
    "current_event",
    "expiry_from_ttl",
    "recipient_id",
    "store_endpoint",
    "to_dict",
    "to_dicts",
]

ABSOLUTE_TTL_THRESHOLD: Final = 1_000_000_000
"""``ttl`` values at or above this (2001-09-09 as epoch seconds) are absolute expiry times;
smaller values are durations in seconds from now (``ttl=7200`` means two hours)."""

MILLISECONDS_THRESHOLD: Final = 100_000_000_000
"""``ttl`` values at or above this (year 5138 as epoch seconds) are epoch *milliseconds*, the
unit of ``requestContext.connectedAt``; they are converted, since DynamoDB TTL would read them
as a date millennia ahead and never expire the record."""


def to_dict(record: Connection) -> ConnectionDict:
    """The seed's dict for a registry record: ``connectionId``, ``userId``, ``connectedAt``,
    ``lastActivity``, ``metadata``, ``expiresAt``, plus ``endpoint``, ``rooms`` and ``topics``.

    Times are epoch seconds; ``rooms`` and ``topics`` are sorted lists; ``metadata`` is a copy.
    """
    return record.to_item()


def to_dicts(records: Iterable[Connection]) -> list[ConnectionDict]:
    """:func:`to_dict` for each record, in order."""
    return [record.to_item() for record in records]


def expiry_from_ttl(ttl: object, now: float | None = None) -> int:
    """The absolute expiry (integer epoch seconds) that a ``ttl`` argument means.

    * ``None``: now + the configured default (``WSGATE_TTL``, else 7200 s).
    * A number below :data:`ABSOLUTE_TTL_THRESHOLD` (e.g. ``7200``): a duration from now.
    * A number at or above it (e.g. ``int(time.time()) + 7200``, as in the seed): absolute.
    * A number at or above :data:`MILLISECONDS_THRESHOLD`: absolute epoch milliseconds.
    * A :class:`~datetime.timedelta`: a duration; an aware :class:`~datetime.datetime`: absolute.

    Raises:
        InvalidRecordError: Not one of the above, negative, NaN or infinite, or a naive datetime.
    """
    now = time.time() if now is None else now
    if ttl is None:
        return int(now) + config.get_ttl()
    # Without ``datetime`` imported (a cold start) ``ttl`` is no datetime: no need to load it.
    dt = sys.modules.get("datetime")
    if dt is not None and isinstance(ttl, dt.timedelta):
        seconds: float = ttl.total_seconds()
        if seconds < 0:
            raise InvalidRecordError("ttl", f"a negative duration: {ttl!r}")
        return math.ceil(now + seconds)
    if dt is not None and isinstance(ttl, dt.datetime):
        if ttl.tzinfo is None:
            raise InvalidRecordError("ttl", "a naive datetime; give it a timezone (UTC)")
        stamp: float = ttl.timestamp()
        return int(stamp)
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise InvalidRecordError(
            "ttl", f"expected seconds (a duration or epoch seconds), got {type(ttl).__name__}"
        )
    if not math.isfinite(ttl) or ttl < 0:
        raise InvalidRecordError("ttl", f"expected a finite, non-negative number, got {ttl!r}")
    if ttl >= MILLISECONDS_THRESHOLD:
        return int(ttl // 1000)
    if ttl >= ABSOLUTE_TTL_THRESHOLD:
        return int(ttl)
    return math.ceil(now + ttl)


def recipient_id(recipient: object) -> str:
    """The connection id of one broadcast recipient: an id, a record, or a seed dict.

    Raises:
        InvalidRecordError: A dict without ``connectionId`` or an object without an id.
    """
    if isinstance(recipient, str):
        return recipient
    if isinstance(recipient, Mapping):
        value = recipient.get("connectionId", recipient.get("connection_id"))
    else:
        value = getattr(recipient, "connection_id", None)
    if not isinstance(value, str) or not value:
        raise InvalidRecordError(
            "connection_ids",
            "each recipient must be a connection id, a connection record or a dict with "
            f"'connectionId'; got {recipient!r}",
        )
    return value


def current_event() -> WebSocketEvent | None:
    """The event of the handler running now (set by ``WebSocketApp.dispatch``), if any."""
    from wsgate.context import current_event as _current

    return _current()


def store_endpoint() -> str | None:
    """The management endpoint to store with a new connection.

    The configured endpoint (``configure(endpoint=...)`` or ``WSGATE_ENDPOINT``) when there is
    one, else the endpoint of the event being handled, else ``None``.
    """
    configured = config.get_endpoint()
    if configured:
        return configured
    event = current_event()
    if event is None:
        return None
    from wsgate.sender.endpoint import event_endpoint

    return event_endpoint(event)


def trusted_user_id(connection_id: str, user_id: str | None) -> str | None:
    """The user id to store for ``connection_id``: the authorizer's verified one, fail closed.

    When the handler runs for this very connection and an authorizer is configured (the event
    carries ``requestContext.authorizer``, or the running app has ``@app.authorizer``), the user
    id comes from the verified authorizer context: its ``principalId``, or the context key the
    app's authorizer names as ``user_id_key``. Never from what the caller passed, which in the
    seed's examples is the client-controlled query string. If the context holds no such id,
    passing one raises :class:`~wsgate.exceptions.UnverifiedIdentityError` (``None`` stores no
    user). Without an authorizer, ``user_id`` is used as given.

    Raises:
        UnverifiedIdentityError: An authorizer is configured, it verified no user id, and the
            caller passed one.
    """
    event = current_event()
    if event is None or event.connection_id != connection_id:
        return user_id
    from wsgate.auth.identity import identity_from_event
    from wsgate.context import _current_app

    app = _current_app.get()
    authorizer = app.authorizer_config if app is not None else None
    identity = identity_from_event(event)
    if identity is None and authorizer is None:
        return user_id  # no authorizer anywhere: the seed's behaviour
    key = authorizer.user_id_key if authorizer is not None else None
    verified: str | None = None
    if identity is not None:
        if key is None or key == "principalId":
            verified = identity.principal_id
        else:
            verified = identity.context.get(key) or None
    if verified is not None:
        return verified
    if user_id is None:
        return None
    from wsgate.exceptions import UnverifiedIdentityError

    raise UnverifiedIdentityError(connection_id, key)
