"""The seed's connection-management and query functions, over the configured registry."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping

from wsgate import config
from wsgate._gateway.records import (
    MILLISECONDS_THRESHOLD,
    ConnectionDict,
    current_event,
    expiry_from_ttl,
    store_endpoint,
    to_dict,
    to_dicts,
    trusted_user_id,
)
from wsgate.exceptions import ConnectionNotFound, InvalidRecordError
from wsgate.registry.base import UNSET, check_id, check_timestamp, check_update

TYPE_CHECKING = False  # typing and datetime are not imported on a cold start
if TYPE_CHECKING:
    from datetime import datetime, timedelta
    from typing import Any

__all__ = [
    "ws_cleanup_stale_connections",
    "ws_delete_connection",
    "ws_get_active_connections",
    "ws_get_all_connections",
    "ws_get_connection",
    "ws_get_connections_by_room",
    "ws_get_connections_by_subscription",
    "ws_get_connections_by_user",
    "ws_join_room",
    "ws_leave_room",
    "ws_store_connection",
    "ws_subscribe",
    "ws_unsubscribe",
    "ws_update_connection",
]

# ws_update_connection: accepted keys (seed spelling and snake_case) → field.
_UPDATE_KEYS = {
    "userId": "user_id",
    "user_id": "user_id",
    "metadata": "metadata",
    "expiresAt": "expires_at",
    "expires_at": "expires_at",
    "ttl": "expires_at",
    "lastActivity": "last_activity",
    "last_activity": "last_activity",
    "endpoint": "endpoint",
    "rooms": "rooms",
    "topics": "topics",
}


def ws_store_connection(
    connection_id: str,
    user_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    ttl: float | timedelta | datetime | None = None,
) -> ConnectionDict:
    """Record a new connection. Call it from your ``$connect`` handler (seed Rule 1).

    Inside a handler run by :class:`~wsgate.router.WebSocketApp` it also records the
    connection's management endpoint (so later sends from anywhere reach the right API) and the
    connect time from the event; when ``$connect`` has an authorizer, the user id is the
    authorizer's verified identity, not the ``user_id`` passed (which the seed takes from the
    client-controlled query string). If that authorizer verified no user id, passing one
    raises ``UnverifiedIdentityError`` (fail closed). Storing the same id again updates it (a
    retried ``$connect`` is harmless) and keeps its rooms and topics.

    Args:
        connection_id: ``event['requestContext']['connectionId']``.
        user_id: Who the connection belongs to, if known.
        metadata: A JSON-serialisable map of your own data (client version, user agent...).
        ttl: When the record expires (DynamoDB TTL ``expiresAt``). ``None``: now + 2 hours (or
            ``WSGATE_TTL``). A small number such as ``7200`` is a duration in seconds; a number
            that is an epoch time, such as the seed's ``int(time.time()) + 7200``, is the
            absolute expiry; epoch milliseconds are converted to seconds. A ``timedelta`` is a
            duration, an aware ``datetime`` an absolute time.

    Returns:
        The stored record as the seed's dict (``connectionId``, ``userId``, ``connectedAt``,
        ``lastActivity``, ``metadata``, ``expiresAt``, ``endpoint``, ``rooms``, ``topics``).

    Raises:
        InvalidRecordError: A bad id, metadata that is not a JSON map, or a bad ``ttl``.
        UnverifiedIdentityError: An authorizer is configured but verified no user id, and
            ``user_id`` was given (an ``AccessDenied``: on ``$connect`` the client gets 403).
        RegistryUnavailable: The registry's backend could not be reached.
        ConfigurationError: No registry is configured.
    """
    expires_at = expiry_from_ttl(ttl)
    connected_at: float | None = None
    event = current_event()
    if event is not None and event.connection_id == connection_id:
        connected_at = event.connected_at / 1000
    record = config.get_registry().store(
        connection_id,
        user_id=trusted_user_id(connection_id, user_id),
        metadata=metadata,
        expires_at=expires_at,
        endpoint=store_endpoint(),
        connected_at=connected_at,
    )
    return to_dict(record)


def ws_get_connection(connection_id: str) -> ConnectionDict | None:
    """The live record of a connection as the seed's dict, or ``None`` if unknown or expired.

    Raises:
        RegistryUnavailable: The registry's backend could not be reached.
    """
    record = config.get_registry().get(connection_id)
    return None if record is None else to_dict(record)


def ws_delete_connection(connection_id: str) -> bool:
    """Forget a connection and its room and topic memberships (seed Rule 2).

    Call it from ``$disconnect``. Safe to call twice or for an unknown id (as the seed's
    Rule 4 does after a failed send, when wsgate already pruned the record).

    Returns:
        True when a live record was removed, False when there was none.

    Raises:
        RegistryUnavailable: The registry's backend could not be reached.
    """
    return config.get_registry().delete(connection_id)


def ws_update_connection(connection_id: str, updates: Mapping[str, Any]) -> ConnectionDict:
    """Change fields of a stored connection; returns the updated record.

    ``updates`` uses the record's keys (seed spelling or snake_case): ``userId``, ``metadata``
    (replaces the map), ``expiresAt`` (or ``ttl``; read like ``ws_store_connection``'s ``ttl``),
    ``lastActivity`` (epoch seconds; it only moves forward), ``endpoint``, ``rooms`` and
    ``topics`` (the complete new sets: missing ones are left, new ones joined).
    ``connectionId`` may be present if unchanged. Every value is checked before the first
    write. Inside a handler for this very connection, ``userId`` follows the rule of
    :func:`ws_store_connection`: with an authorizer, only the verified id is stored.
    A deleted or expired connection is never re-created.

    Raises:
        ConnectionNotFound: No live connection with this id (a ``KeyError``).
        InvalidRecordError: An unknown key or a bad value; nothing is written then.
        UnverifiedIdentityError: ``userId`` for the event's own connection when an authorizer
            is configured that verified no user id (as for :func:`ws_store_connection`).
        RegistryUnavailable: The registry's backend could not be reached.
    """
    if not isinstance(updates, Mapping):
        raise InvalidRecordError("updates", f"expected a dict, got {type(updates).__name__}")
    fields: dict[str, Any] = {}
    for key, value in updates.items():
        if key in ("connectionId", "connection_id") and value == connection_id:
            continue
        name = _UPDATE_KEYS.get(key)
        if name is None:
            raise InvalidRecordError(
                "updates",
                f"unknown key {key!r}: use userId, metadata, expiresAt, lastActivity, endpoint, "
                "rooms or topics (put your own fields in metadata)",
            )
        fields[name] = value
    # Every field is checked here, before the first write: a bad room name must not leave the
    # user id (or anything else) already changed.
    check_id(connection_id)
    if "expires_at" in fields:
        fields["expires_at"] = expiry_from_ttl(fields["expires_at"])
    if "last_activity" in fields:
        fields["last_activity"] = _epoch_seconds(fields["last_activity"], "lastActivity")
    rooms = _names(fields.pop("rooms"), "rooms") if "rooms" in fields else None
    topics = _names(fields.pop("topics"), "topics") if "topics" in fields else None
    last_activity = fields.pop("last_activity", None)
    if fields.get("user_id") is not None:
        # The same rule as ws_store_connection: with an authorizer, only the verified id.
        fields["user_id"] = trusted_user_id(connection_id, fields["user_id"])
    check_update(
        connection_id,
        user_id=fields.get("user_id", UNSET),
        metadata=fields.get("metadata", UNSET),
        expires_at=fields.get("expires_at", UNSET),
        endpoint=fields.get("endpoint", UNSET),
    )

    registry = config.get_registry()
    updated = None
    if fields:
        updated = registry.update(
            connection_id,
            user_id=fields.get("user_id", UNSET),
            metadata=fields.get("metadata", UNSET),
            expires_at=fields.get("expires_at", UNSET),
            endpoint=fields.get("endpoint", UNSET),
        )
    elif registry.get(connection_id) is None:
        raise ConnectionNotFound(connection_id)
    if last_activity is not None:
        registry.touch(connection_id, last_activity, min_interval=0)
    if rooms is not None:
        current = registry.rooms_of(connection_id)
        for room in sorted(rooms - current):
            registry.join(connection_id, room)
        for room in sorted(current - rooms):
            registry.leave(connection_id, room)
    if topics is not None:
        current = registry.topics_of(connection_id)
        for topic in sorted(topics - current):
            registry.subscribe(connection_id, topic)
        for topic in sorted(current - topics):
            registry.unsubscribe(connection_id, topic)
    record = registry.get(connection_id)
    if record is None:
        if updated is not None and not updated.is_live():
            return to_dict(updated)  # this very update set an expiry in the past
        raise ConnectionNotFound(connection_id)  # deleted concurrently, between our writes
    return to_dict(record)


def ws_get_all_connections() -> list[ConnectionDict]:
    """Every live connection, as the seed's dicts (expired records are never returned).

    On DynamoDB this is a paginated Scan: fine for broadcasts and admin pages, but prefer
    :func:`ws_get_connections_by_user` or rooms for targeted sends.

    Raises:
        RegistryUnavailable: The registry's backend could not be reached.
    """
    return to_dicts(config.get_registry().all())


def ws_get_connections_by_user(user_id: str) -> list[ConnectionDict]:
    """The live connections of one user (one per device or tab), as the seed's dicts.

    Raises:
        RegistryUnavailable: The registry's backend could not be reached.
    """
    return to_dicts(config.get_registry().by_user(user_id))


def ws_get_active_connections(
    since_timestamp: float | datetime | None = None,
) -> list[ConnectionDict]:
    """Live connections, optionally only those active at or after ``since_timestamp``.

    Activity is the record's ``lastActivity`` (set at connect, and by ``ws_update_connection``
    with ``lastActivity``). ``since_timestamp`` is epoch seconds (epoch milliseconds and aware
    datetimes are converted); ``None`` returns every live connection.

    Raises:
        InvalidRecordError: ``since_timestamp`` is not a time.
        RegistryUnavailable: The registry's backend could not be reached.
    """
    registry = config.get_registry()
    if since_timestamp is None:
        return to_dicts(registry.all())
    return to_dicts(registry.active_since(_epoch_seconds(since_timestamp, "since_timestamp")))


def ws_cleanup_stale_connections(max_age_seconds: float = 7200) -> int:
    """Delete expired records and those idle for longer than ``max_age_seconds``.

    Run it on a schedule (e.g. an EventBridge rule every 15 minutes): ``$disconnect`` is
    best-effort and DynamoDB TTL deletes lag by days. The default, 2 hours, is API Gateway's
    maximum connection duration, so it never removes a connection that can still be open.

    Returns:
        How many connections were removed.

    Raises:
        InvalidRecordError: ``max_age_seconds`` is not a positive number.
        RegistryUnavailable: The registry's backend could not be reached.
    """
    if check_timestamp(max_age_seconds, "max_age_seconds") <= 0:
        raise InvalidRecordError("max_age_seconds", "must be positive")
    return config.get_registry().cleanup(max_age=max_age_seconds)


def ws_get_connections_by_room(room_id: str) -> list[ConnectionDict]:
    """The live connections in a room (seed use case "Real-Time Chat").

    Raises:
        RegistryUnavailable: The registry's backend could not be reached.
    """
    return to_dicts(config.get_registry().room_members(room_id))


def ws_get_connections_by_subscription(topic: str) -> list[ConnectionDict]:
    """The live connections subscribed to a topic (seed use case "Live Updates").

    Raises:
        RegistryUnavailable: The registry's backend could not be reached.
    """
    return to_dicts(config.get_registry().subscribers(topic))


def ws_join_room(connection_id: str, room_id: str) -> bool:
    """Add a connection to a room. Returns True when it was not yet a member.

    Raises:
        ConnectionNotFound: The connection is not (or no longer) stored.
        InvalidRecordError: An empty or over-long room name.
    """
    return config.get_registry().join(connection_id, room_id)


def ws_leave_room(connection_id: str, room_id: str) -> bool:
    """Remove a connection from a room. Returns True when it was a member."""
    return config.get_registry().leave(connection_id, room_id)


def ws_subscribe(connection_id: str, topic: str) -> bool:
    """Subscribe a connection to a topic. Returns True when it was not yet subscribed.

    Raises:
        ConnectionNotFound: The connection is not (or no longer) stored.
        InvalidRecordError: An empty or over-long topic name.
    """
    return config.get_registry().subscribe(connection_id, topic)


def ws_unsubscribe(connection_id: str, topic: str) -> bool:
    """Unsubscribe a connection from a topic. Returns True when it was subscribed."""
    return config.get_registry().unsubscribe(connection_id, topic)


# --- helpers ----------------------------------------------------------------------------------


def _epoch_seconds(value: object, name: str) -> float:
    dt = sys.modules.get("datetime")  # not imported: ``value`` is no datetime
    if dt is not None and isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise InvalidRecordError(name, "a naive datetime; give it a timezone (UTC)")
        stamp: float = value.timestamp()
        return stamp
    seconds = check_timestamp(value, name)
    return seconds / 1000 if seconds >= MILLISECONDS_THRESHOLD else seconds


def _names(value: object, name: str) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidRecordError(name, f"expected a list of names, got {value!r}")
    names = list(value)
    for item in names:
        check_id(item, name)  # a string, not empty, not over-long: as join/subscribe check
    return frozenset(names)
