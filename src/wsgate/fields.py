"""Read-only views over parts of a WebSocket event: headers, query string, identity, authorizer.

:mod:`wsgate.events` builds these lazily; they are re-exported there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any, ClassVar

__all__ = [
    "Authorizer",
    "CallerIdentity",
    "Headers",
    "Identity",
    "QueryParams",
    "parse_authorizer",
    "stringify_context_value",
]


def _values(value: Any) -> list[str]:
    """Normalise one multi-value entry to a list of strings (junk becomes strings)."""
    if isinstance(value, list | tuple):
        return [v if isinstance(v, str) else "" if v is None else str(v) for v in value]
    if value is None:
        return []
    return [value if isinstance(value, str) else str(value)]


class Headers(Mapping[str, str]):
    """Case-insensitive, read-only handshake headers.

    ``multiValueHeaders`` is authoritative (one capture has an empty ``headers`` value where
    ``multiValueHeaders`` holds the real one); ``headers`` fills in names it lacks. Iteration
    yields the names with their original case.
    """

    __slots__ = ("_items",)

    def __init__(
        self,
        multi: Mapping[str, Any] | None = None,
        single: Mapping[str, Any] | None = None,
        field: str = "headers",
    ) -> None:
        items: dict[str, tuple[str, list[str]]] = {}
        for name, value in (multi or {}).items():
            items[str(name).lower()] = (str(name), _values(value))
        for name, value in (single or {}).items():
            key = str(name).lower()
            if key not in items:
                items[key] = (str(name), _values(value))
        self._items = items

    def __getitem__(self, name: str) -> str:
        return ", ".join(self._items[name.lower()][1])

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name`` (any case); ``[]`` when absent."""
        entry = self._items.get(name.lower())
        return list(entry[1]) if entry else []


class QueryParams(Mapping[str, str]):
    """Read-only query string parameters (case-sensitive), empty when the URL had none.

    A name given several times maps to its last value, as API Gateway's
    ``queryStringParameters`` does; :meth:`get_all` returns all of them.
    """

    __slots__ = ("_items",)

    def __init__(
        self, multi: Mapping[str, Any] | None = None, single: Mapping[str, Any] | None = None
    ) -> None:
        items: dict[str, list[str]] = {str(k): _values(v) for k, v in (multi or {}).items()}
        for name, value in (single or {}).items():
            items.setdefault(str(name), _values(value))
        self._items = {k: v for k, v in items.items() if v}

    def __getitem__(self, name: str) -> str:
        return self._items[name][-1]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({dict(self)!r})"

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``; ``[]`` when absent."""
        return list(self._items.get(name, ()))


def stringify_context_value(value: Any) -> str | None:
    """Stringify an authorizer context value the way API Gateway does (``None`` stays ``None``).

    ``True`` → ``"true"``, ``123`` → ``"123"``, an integral float ``3.0`` → ``"3"`` (JSON has
    one number type); objects and arrays, which API Gateway refuses in an authorizer's
    context, become compact JSON so nothing is lost.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def parse_authorizer(value: Any) -> Authorizer | None:
    """The one reader of ``requestContext.authorizer``, used everywhere wsgate needs it.

    ``None`` (the key absent) means no authorizer ran at ``$connect``. Any object, even an
    empty one or one without a usable ``principalId``, means an authorizer ran: callers that
    need a verified user then find none, and fail closed.

    Raises:
        EventError: The value is neither absent nor an object.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        from wsgate.exceptions import EventError

        raise EventError("not an object", "requestContext.authorizer")
    return Authorizer(value)


class Authorizer(Mapping[str, str | None]):
    """The ``$connect`` authorizer's output as API Gateway passes it on (aws-behaviour.md §4.4).

    The mapping holds the authorizer's ``context`` with values stringified (``"123"``,
    ``"true"``; ``None`` stays ``None``); ``principal_id`` and ``integration_latency`` are
    attributes, not keys. ``principal_id`` is ``None`` unless ``principalId`` is a non-empty
    string (or an integer, stringified as API Gateway passes it on): anything else (empty,
    ``null``, a bool, an object) verifies nobody. ``raw`` is the
    original object. Build it with :func:`parse_authorizer`.
    """

    __slots__ = ("_context", "integration_latency", "principal_id", "raw")

    _RESERVED: ClassVar[frozenset[str]] = frozenset({"principalId", "integrationLatency"})

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        principal = raw.get("principalId")
        if isinstance(principal, int) and not isinstance(principal, bool):
            principal = str(principal)
        self.principal_id: str | None = (
            principal if isinstance(principal, str) and principal else None
        )
        latency = raw.get("integrationLatency")
        self.integration_latency: int | float | None = (
            latency if isinstance(latency, int | float) and not isinstance(latency, bool) else None
        )
        self._context = {
            str(k): stringify_context_value(v) for k, v in raw.items() if k not in self._RESERVED
        }

    def __getitem__(self, key: str) -> str | None:
        return self._context[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._context)

    def __len__(self) -> int:
        return len(self._context)

    def __repr__(self) -> str:
        return f"Authorizer(principal_id={self.principal_id!r}, context={self._context!r})"


class CallerIdentity:
    """``requestContext.identity``: the caller's source IP, user agent and API key.

    (Not to be confused with :class:`wsgate.auth.AuthorizerIdentity`, the authorizer's verdict.)

    Both the current form (``sourceIp`` + ``userAgent``) and the 2020 form (many ``null``
    Cognito fields) are accepted; ``raw`` holds every field.
    """

    __slots__ = ("api_key", "api_key_id", "raw", "source_ip", "user_agent")

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.source_ip: str | None = _opt_str(raw.get("sourceIp"))
        self.user_agent: str | None = _opt_str(raw.get("userAgent"))
        self.api_key: str | None = _opt_str(raw.get("apiKey"))
        self.api_key_id: str | None = _opt_str(raw.get("apiKeyId"))

    def __repr__(self) -> str:
        return f"CallerIdentity(source_ip={self.source_ip!r}, user_agent={self.user_agent!r})"


#: The former name, kept for existing imports (``wsgate.Identity``).
Identity = CallerIdentity


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
