"""Connection registries: who is connected, to which rooms and topics, until when.

Pick a backend by URL with :func:`open_registry` (or from the environment with
:func:`registry_from_env`)::

    open_registry("memory://")                      # tests
    open_registry("sqlite:///.wsgate/registry.db")  # local default; sqlite:////abs/path too
    open_registry("dynamodb://WebSocketConnections?region=eu-west-1")

Backends are imported on first use, so importing this package loads neither boto3 nor sqlite3.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from wsgate.exceptions import ConfigurationError
from wsgate.registry.base import DEFAULT_TTL, UNSET, Connection, Unset

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)

if TYPE_CHECKING:
    from typing import Any

    from wsgate.registry.dynamodb import DynamoDBRegistry
    from wsgate.registry.memory import MemoryRegistry
    from wsgate.registry.protocol import ConnectionRegistry
    from wsgate.registry.sqlite import SQLiteRegistry

__all__ = [
    "DEFAULT_TTL",
    "UNSET",
    "Connection",
    "ConnectionRegistry",
    "DynamoDBRegistry",
    "MemoryRegistry",
    "SQLiteRegistry",
    "Unset",
    "open_registry",
    "registry_from_env",
]

_LAZY = {
    "ConnectionRegistry": "wsgate.registry.protocol",
    "MemoryRegistry": "wsgate.registry.memory",
    "SQLiteRegistry": "wsgate.registry.sqlite",
    "DynamoDBRegistry": "wsgate.registry.dynamodb",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


_SCHEMES = frozenset({"memory", "sqlite", "dynamodb"})


def open_registry(
    url: str, *, ttl: int | None = None, client: Any = None, **options: Any
) -> ConnectionRegistry:
    """Build a registry from a URL.

    Call once per process (at module level in a Lambda handler, so warm invocations reuse it).

    Args:
        url: ``memory://``, ``sqlite:///relative.db``, ``sqlite:////absolute.db`` or
            ``dynamodb://TableName`` (query options: ``region``, ``endpoint_url``,
            ``client`` = ``stdlib`` | ``boto3``).
        ttl: Default connection lifetime in seconds (else the URL's ``ttl`` option, else
            ``WSGATE_TTL``, else 7200).
        client: A DynamoDB client to use, or "stdlib" / "boto3" (DynamoDB only).
        **options: Passed to the backend's constructor.

    Raises:
        ConfigurationError: The URL's scheme is unknown or it lacks a path or table name.
    """
    scheme, _, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme in _SCHEMES and url.isprintable() and not any(c in url for c in "?#% "):
        # A plain URL (``dynamodb://Table``, as ``WSGATE_TABLE`` gives): what ``urlsplit``
        # would give, without importing urllib.parse and ipaddress on a cold start.
        query: dict[str, str] = {}
        netloc_and_path = rest
    else:
        from urllib.parse import parse_qsl, unquote, urlsplit

        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        scheme = parts.scheme.lower()
        netloc_and_path = unquote(parts.netloc + parts.path)
    lifetime = _ttl(ttl, query.pop("ttl", None))
    if scheme == "memory":
        from wsgate.registry.memory import MemoryRegistry

        return MemoryRegistry(ttl=lifetime, **options)
    if scheme == "sqlite":
        path = url.split("://", 1)[1].split("?", 1)[0]
        if "%" in path:
            from urllib.parse import unquote

            path = unquote(path)
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise ConfigurationError(f"registry URL {url!r} has no database path")
        from wsgate.registry.sqlite import SQLiteRegistry

        return SQLiteRegistry(path, ttl=lifetime, **options)
    if scheme == "dynamodb":
        table = netloc_and_path.strip("/")
        if not table:
            raise ConfigurationError(f"registry URL {url!r} has no table name")
        from wsgate.registry.dynamodb import DynamoDBRegistry

        for key in ("region", "endpoint_url"):
            if key in query:
                options.setdefault(key, query.pop(key))
        if client is None and "client" in query:  # dynamodb://Table?client=boto3
            client = query.pop("client")
        return DynamoDBRegistry(table, client=client, ttl=lifetime, **options)
    raise ConfigurationError(
        f"unknown registry URL {url!r}: use memory://, sqlite:///path or dynamodb://Table"
    )


def registry_from_env(environ: Mapping[str, str] | None = None) -> ConnectionRegistry:
    """Build the registry the environment names: ``WSGATE_REGISTRY`` or ``WSGATE_TABLE``.

    Raises:
        ConfigurationError: Neither variable is set, or the value is not a valid registry URL.
    """
    env = os.environ if environ is None else environ
    ttl = _ttl(None, env.get("WSGATE_TTL"))
    if url := env.get("WSGATE_REGISTRY"):
        return open_registry(url, ttl=ttl)
    if table := env.get("WSGATE_TABLE"):
        return open_registry(f"dynamodb://{table}", ttl=ttl)
    raise ConfigurationError(
        "no connection registry configured: set WSGATE_REGISTRY (memory://, sqlite:///path, "
        "dynamodb://Table) or WSGATE_TABLE"
    )


def _ttl(explicit: int | None, text: str | None) -> int:
    if explicit is not None:
        return explicit
    if text is None:
        text = os.environ.get("WSGATE_TTL")
    if not text:
        return DEFAULT_TTL
    try:
        value = int(text)
    except ValueError:
        raise ConfigurationError(
            f"connection TTL {text!r} is not a whole number of seconds"
        ) from None
    if value <= 0:
        raise ConfigurationError(f"connection TTL {text!r} must be positive")
    return value
