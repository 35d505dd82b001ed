"""The connection record and the contract every registry backend implements.

A registry remembers which WebSocket connections are open, who they belong to, and which rooms
and topics they are in, so that stateless Lambda invocations can find them again. Three backends
implement :class:`ConnectionRegistry`: memory (tests), SQLite (the local default) and DynamoDB
(production). They behave the same; :mod:`wsgate.testing.contract` checks it.

Rules every backend follows:

* A record is *live* while ``expires_at > now``. Expired records are never returned by a read,
  whether or not the backend has physically deleted them yet (DynamoDB TTL can lag by days).
* ``update``/``join``/``subscribe`` never re-create a deleted (or expired) connection: they raise
  :class:`~wsgate.exceptions.ConnectionNotFound`.
* ``delete`` also removes the connection from every room and topic.
* Bad input raises :class:`~wsgate.exceptions.InvalidRecordError` before anything is written.
"""

from __future__ import annotations

import enum
import json
import math
import time
from collections.abc import Mapping

from wsgate.aws.record import Record
from wsgate.exceptions import InvalidRecordError

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any, Final

    from wsgate.registry.protocol import ConnectionRegistry

__all__ = [
    "DEFAULT_TOUCH_INTERVAL",
    "DEFAULT_TTL",
    "MAX_ID_LENGTH",
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "UNSET",
    "Connection",
    "ConnectionRegistry",
    "Unset",
]

DEFAULT_TTL: Final = 7200
"""Seconds a stored connection lives by default: API Gateway's 2-hour connection limit."""

DEFAULT_TOUCH_INTERVAL: Final = 60.0
"""Minimum seconds between two last-activity writes for one connection (writes cost money)."""

MAX_ID_LENGTH: Final = 512
"""Longest connection id, user id, room or topic name accepted."""

MAX_METADATA_BYTES: Final = 65_536
"""Largest metadata map accepted, measured as compact JSON (DynamoDB items stop at 400 KB)."""

MAX_METADATA_DEPTH: Final = 31
"""Deepest nesting of maps and lists in metadata, the metadata map itself being level 1.

DynamoDB stores at most 32 levels with the item's top-level attribute as level 1: 31 nested
containers around a value. Every backend keeps to it, so data moves between them."""


def __getattr__(name: str) -> object:
    # The Protocol class needs typing: it lives in wsgate.registry.protocol, loaded on use.
    if name == "ConnectionRegistry":
        from wsgate.registry.protocol import ConnectionRegistry

        return ConnectionRegistry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Unset(enum.Enum):
    """Type of :data:`UNSET`, the "leave this field alone" default of ``update``."""

    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


class Connection(Record):
    """One connection as the registry stores it. Immutable: registries return new records.

    Equal by value (every field), hashable (by every field but ``metadata``), printable and
    matchable by field, like the frozen dataclass it used to be; :meth:`replace` returns a copy
    with some fields changed.

    Attributes:
        connection_id: API Gateway's connection id.
        user_id: The user the connection belongs to, if known.
        connected_at: When it connected, epoch seconds.
        last_activity: Last recorded activity, epoch seconds (see ``touch``).
        metadata: A JSON-serialisable map of your own data.
        expires_at: Epoch seconds after which the record is dead (DynamoDB TTL ``expiresAt``).
        endpoint: The management endpoint (``https://{domain}/{stage}``) to send to it through.
        rooms: Rooms it has joined.
        topics: Topics it subscribes to.
    """

    # A plain class, not a dataclass: ``dataclasses`` (and the ``inspect`` it loads) would be
    # most of a cold ``$connect``'s import time.
    __slots__ = (
        "connected_at",
        "connection_id",
        "endpoint",
        "expires_at",
        "last_activity",
        "metadata",
        "rooms",
        "topics",
        "user_id",
    )
    __match_args__ = (
        "connection_id",
        "user_id",
        "connected_at",
        "last_activity",
        "metadata",
        "expires_at",
        "endpoint",
        "rooms",
        "topics",
    )

    connection_id: str
    user_id: str | None
    connected_at: float
    last_activity: float
    metadata: dict[str, Any]
    expires_at: int
    endpoint: str | None
    rooms: frozenset[str]
    topics: frozenset[str]

    def __init__(
        self,
        connection_id: str,
        user_id: str | None = None,
        connected_at: float = 0.0,
        last_activity: float = 0.0,
        metadata: dict[str, Any] | None = None,
        expires_at: int = 0,
        endpoint: str | None = None,
        rooms: frozenset[str] = frozenset(),
        topics: frozenset[str] = frozenset(),
    ) -> None:
        init = object.__setattr__
        init(self, "connection_id", connection_id)
        init(self, "user_id", user_id)
        init(self, "connected_at", connected_at)
        init(self, "last_activity", last_activity)
        init(self, "metadata", {} if metadata is None else metadata)
        init(self, "expires_at", expires_at)
        init(self, "endpoint", endpoint)
        init(self, "rooms", rooms)
        init(self, "topics", topics)

    def __hash__(self) -> int:
        # The metadata dict is compared but not hashed (it is not hashable).
        return hash(
            tuple(getattr(self, name) for name in self.__match_args__ if name != "metadata")
        )

    def __reduce__(self) -> tuple[type[Connection], tuple[Any, ...]]:
        return (type(self), self._fields())

    def replace(self, **changes: Any) -> Connection:
        """A copy with the given fields changed (as ``dataclasses.replace`` did).

        Raises:
            TypeError: A name is not a field of the record.
        """
        unknown = changes.keys() - set(self.__match_args__)
        if unknown:
            raise TypeError(f"Connection has no field(s) {sorted(unknown)}")
        values = {name: getattr(self, name) for name in self.__match_args__}
        values.update(changes)
        return type(self)(**values)

    def is_live(self, now: float | None = None) -> bool:
        """Whether the record has not expired at ``now`` (default: the current time)."""
        return self.expires_at > (time.time() if now is None else now)

    def to_item(self) -> dict[str, Any]:
        """The record as the seed's plain dict (``connectionId``, ``userId``, ...).

        The gateway functions return these dicts to users; the metadata map is a copy.
        """
        return {
            "connectionId": self.connection_id,
            "userId": self.user_id,
            "connectedAt": self.connected_at,
            "lastActivity": self.last_activity,
            "metadata": json.loads(json.dumps(self.metadata)),
            "expiresAt": self.expires_at,
            "endpoint": self.endpoint,
            "rooms": sorted(self.rooms),
            "topics": sorted(self.topics),
        }

    as_dict = to_item

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Connection:
        """Build a record from a dict shaped like :meth:`to_item`'s output.

        Raises:
            InvalidRecordError: ``connectionId`` is missing or a field has the wrong type.
        """
        try:
            return cls(
                connection_id=check_id(item["connectionId"], "connectionId"),
                user_id=item.get("userId"),
                connected_at=float(item.get("connectedAt", 0.0)),
                last_activity=float(item.get("lastActivity", item.get("connectedAt", 0.0))),
                metadata=dict(item.get("metadata") or {}),
                expires_at=int(item.get("expiresAt", 0)),
                endpoint=item.get("endpoint"),
                rooms=frozenset(item.get("rooms") or ()),
                topics=frozenset(item.get("topics") or ()),
            )
        except KeyError as exc:
            raise InvalidRecordError("item", f"missing {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise InvalidRecordError("item", str(exc)) from None


def check_id(value: object, name: str = "connection_id") -> str:
    """Return ``value`` if it is a usable id or name, else raise ``InvalidRecordError``."""
    if not isinstance(value, str):
        raise InvalidRecordError(name, f"expected a string, got {type(value).__name__}")
    if not value:
        raise InvalidRecordError(name, "must not be empty")
    if len(value) > MAX_ID_LENGTH:
        raise InvalidRecordError(name, f"longer than {MAX_ID_LENGTH} characters")
    return value


def check_optional_id(value: object, name: str) -> str | None:
    """Like :func:`check_id`, but ``None`` is allowed."""
    return None if value is None else check_id(value, name)


def check_endpoint(value: object) -> str | None:
    """Validate a management endpoint URL (or ``None``)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise InvalidRecordError("endpoint", f"expected an http(s) URL, got {value!r}")
    return value.rstrip("/")


def normalize_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """A private JSON copy of ``metadata``, so later changes by the caller do not leak in.

    Raises:
        InvalidRecordError: Not a map with string keys, not JSON-serialisable (NaN, sets,
            objects), nested deeper than :data:`MAX_METADATA_DEPTH` or over
            :data:`MAX_METADATA_BYTES`.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidRecordError("metadata", f"expected a map, got {type(metadata).__name__}")
    if not all(isinstance(key, str) for key in metadata):
        raise InvalidRecordError("metadata", "keys must be strings")
    _check_depth(metadata)  # before json.dumps, which recurses (RecursionError, not ours)
    try:
        text = json.dumps(dict(metadata), allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidRecordError("metadata", f"not JSON-serialisable: {exc}") from None
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise InvalidRecordError("metadata", f"over {MAX_METADATA_BYTES} bytes as JSON")
    result: dict[str, Any] = json.loads(text)
    return result


def _check_depth(metadata: Mapping[str, Any]) -> None:
    """Refuse nesting past :data:`MAX_METADATA_DEPTH` without recursing (cycles included)."""
    stack: list[tuple[Any, int]] = [(metadata, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_METADATA_DEPTH:
            raise InvalidRecordError(
                "metadata", f"nested deeper than {MAX_METADATA_DEPTH} levels (DynamoDB's limit)"
            )
        children = value.values() if isinstance(value, Mapping) else value
        for child in children:
            if isinstance(child, Mapping | list | tuple):
                stack.append((child, depth + 1))


def check_timestamp(value: object, name: str) -> float:
    """A finite, non-negative epoch-seconds number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidRecordError(name, f"expected epoch seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value < 0:
        raise InvalidRecordError(name, f"expected finite epoch seconds, got {value!r}")
    return float(value)


def check_expires_at(value: object) -> int:
    """An integer epoch-seconds TTL value (DynamoDB TTL ignores milliseconds, see §8)."""
    seconds = check_timestamp(value, "expires_at")
    if seconds > 1e11:
        raise InvalidRecordError("expires_at", f"{value!r} looks like milliseconds; use seconds")
    return int(seconds)


def check_ttl(value: object) -> int:
    """A positive whole number of seconds."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidRecordError("ttl", f"expected a positive number of seconds, got {value!r}")
    return value


class StoreFields(Record):
    """The checked arguments of ``store``, with its defaults filled in (see :func:`check_store`).

    Attributes:
        connection_id: The checked connection id.
        user_id: The checked user id, or ``None``.
        metadata: A private, JSON-clean copy of the metadata map.
        endpoint: The management endpoint without a trailing slash, or ``None``.
        now: The time of the call: the record's ``last_activity``.
        connected_at: ``connected_at`` as given, else ``now``.
        expires_at: ``expires_at`` as given, else ``int(now) + ttl``.
    """

    __slots__ = (
        "connected_at",
        "connection_id",
        "endpoint",
        "expires_at",
        "metadata",
        "now",
        "user_id",
    )
    __match_args__ = (
        "connection_id",
        "user_id",
        "metadata",
        "endpoint",
        "now",
        "connected_at",
        "expires_at",
    )

    connection_id: str
    user_id: str | None
    metadata: dict[str, Any]
    endpoint: str | None
    now: float
    connected_at: float
    expires_at: int

    def __init__(
        self,
        connection_id: str,
        user_id: str | None,
        metadata: dict[str, Any],
        endpoint: str | None,
        now: float,
        connected_at: float,
        expires_at: int,
    ) -> None:
        init = object.__setattr__
        init(self, "connection_id", connection_id)
        init(self, "user_id", user_id)
        init(self, "metadata", metadata)
        init(self, "endpoint", endpoint)
        init(self, "now", now)
        init(self, "connected_at", connected_at)
        init(self, "expires_at", expires_at)


def check_store(
    connection_id: object,
    *,
    user_id: object,
    metadata: Mapping[str, Any] | None,
    expires_at: object,
    endpoint: object,
    connected_at: object,
    ttl: int,
) -> StoreFields:
    """Check every argument of a backend's ``store`` before it writes anything.

    Raises:
        InvalidRecordError: An id, the metadata, the endpoint or a timestamp is unusable.
    """
    checked_id = check_id(connection_id)
    user = check_optional_id(user_id, "user_id")
    data = normalize_metadata(metadata)
    url = check_endpoint(endpoint)
    now = time.time()
    return StoreFields(
        connection_id=checked_id,
        user_id=user,
        metadata=data,
        endpoint=url,
        now=now,
        connected_at=now if connected_at is None else check_timestamp(connected_at, "connected_at"),
        expires_at=int(now) + ttl if expires_at is None else check_expires_at(expires_at),
    )


class UpdateFields(Record):
    """The checked arguments of ``update`` (see :func:`check_update`).

    Attributes:
        fields: The given ones of ``user_id``, ``expires_at`` and ``endpoint``, by those names,
            checked; a ``None`` value means "clear the field".
        metadata: The new metadata map, normalised, or ``None`` when it was not given.
    """

    __slots__ = ("fields", "metadata")
    __match_args__ = ("fields", "metadata")

    fields: dict[str, Any]
    metadata: dict[str, Any] | None

    def __init__(self, fields: dict[str, Any], metadata: dict[str, Any] | None) -> None:
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "metadata", metadata)

    def __hash__(self) -> int:
        raise TypeError("unhashable type: 'UpdateFields'")


def check_update(
    connection_id: object,
    *,
    user_id: object,
    metadata: Mapping[str, Any] | Unset,
    expires_at: object,
    endpoint: object,
) -> UpdateFields:
    """Check the arguments of a backend's ``update``; :data:`UNSET` ones are left out.

    Raises:
        InvalidRecordError: An id, the metadata, the endpoint or ``expires_at`` is unusable.
    """
    check_id(connection_id)
    fields: dict[str, Any] = {}
    if not isinstance(user_id, Unset):
        fields["user_id"] = check_optional_id(user_id, "user_id")
    if not isinstance(expires_at, Unset):
        fields["expires_at"] = check_expires_at(expires_at)
    if not isinstance(endpoint, Unset):
        fields["endpoint"] = check_endpoint(endpoint)
    new_metadata = None if isinstance(metadata, Unset) else normalize_metadata(metadata)
    return UpdateFields(fields, new_metadata)
