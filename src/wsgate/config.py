"""Configuration of the seed-style gateway functions (:mod:`wsgate.gateway`).

The ``ws_*`` functions take no registry or client argument: they share one default
:class:`~wsgate.registry.base.ConnectionRegistry` and one :class:`~wsgate.sender.Sender`,
built lazily on first use from the environment and kept for the life of the process (so a
warm Lambda reuses its DynamoDB client and its HTTP connections).

Environment, read on first use (and again after :func:`reset`):

==========================  ========================================================
``WSGATE_REGISTRY``         registry URL: ``memory://``, ``sqlite:///path/to.db``,
                            ``dynamodb://Table``
``WSGATE_TABLE``            DynamoDB table name (same as ``dynamodb://Table``); used when
                            ``WSGATE_REGISTRY`` is not set
``WSGATE_ENDPOINT``         management endpoint, e.g.
                            ``https://abc.execute-api.eu-west-1.amazonaws.com/prod``
``WSGATE_TTL``              default connection lifetime in seconds (default 7200)
==========================  ========================================================

Code and tests configure explicitly with :func:`configure` and go back to the environment with
:func:`reset`. Nothing here imports boto3 or asyncio: the registry and sender packages are
imported only when first needed.
"""

from __future__ import annotations

import os
import threading

from wsgate.exceptions import ConfigurationError

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)

if TYPE_CHECKING:
    from typing import Final

    from wsgate.registry.base import ConnectionRegistry
    from wsgate.sender import Sender

__all__ = [
    "DEFAULT_TTL",
    "configure",
    "get_endpoint",
    "get_registry",
    "get_sender",
    "get_ttl",
    "reset",
]

DEFAULT_TTL: Final = 7200
"""Default connection lifetime in seconds: API Gateway's 2-hour maximum connection duration."""

ENV_REGISTRY: Final = "WSGATE_REGISTRY"
ENV_TABLE: Final = "WSGATE_TABLE"
ENV_ENDPOINT: Final = "WSGATE_ENDPOINT"
ENV_TTL: Final = "WSGATE_TTL"


class _State:
    """The process-wide configuration. Guarded by ``lock``; built pieces are cached."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.registry: ConnectionRegistry | None = None
        self.registry_owned = False
        self.registry_url: str | None = None
        self.sender: Sender | None = None
        self.sender_owned = False
        self.endpoint: str | None = None
        self.endpoint_set = False
        self.ttl: int | None = None


_state = _State()


def configure(
    *,
    registry: ConnectionRegistry | str | None = None,
    sender: Sender | None = None,
    endpoint: str | None = None,
    ttl: int | None = None,
) -> None:
    """Set what the ``ws_*`` functions use, instead of (or on top of) the environment.

    Call it once at start-up (module level of your handler) or in a test fixture. Only the
    arguments you pass change; the others keep their current value. A sender that wsgate built
    itself is rebuilt on next use when the registry or endpoint changes, so it prunes through the
    right registry and posts to the right endpoint.

    Args:
        registry: A registry object, or a registry URL (``memory://``,
            ``sqlite:///path/to.db``, ``dynamodb://Table``) opened lazily on first use.
        sender: A :class:`~wsgate.sender.Sender` to use for every send. You then own its
            endpoint and registry settings.
        endpoint: The management endpoint to post to; overrides ``WSGATE_ENDPOINT`` and the
            endpoint of the event being handled.
        ttl: Default connection lifetime in seconds for ``ws_store_connection``.

    Raises:
        ConfigurationError: ``endpoint`` is not an http(s) URL, ``ttl`` is not a positive whole
            number of seconds, or ``registry`` is neither a URL nor a registry object.
    """
    if endpoint is not None:
        endpoint = _check_endpoint(endpoint, "endpoint")
    if ttl is not None:
        ttl = _check_ttl(ttl, "ttl")
    if registry is not None and not isinstance(registry, str) and not hasattr(registry, "store"):
        raise ConfigurationError(
            f"registry must be a registry URL or a ConnectionRegistry, got {type(registry)!r}"
        )
    with _state.lock:
        if registry is not None:
            _drop_registry()
            if isinstance(registry, str):
                _state.registry_url = registry
            else:
                _state.registry = registry
                _state.registry_owned = False
            _drop_owned_sender()
        if endpoint is not None:
            _state.endpoint = endpoint
            _state.endpoint_set = True
            _drop_owned_sender()
        if sender is not None:
            _drop_owned_sender()
            _state.sender = sender
            _state.sender_owned = False
        if ttl is not None:
            _state.ttl = ttl


def reset() -> None:
    """Forget every setting and built object; the next use reads the environment again.

    Registries and senders that wsgate built itself are closed; objects you passed to
    :func:`configure` are left open (they are yours). Use it between tests.
    """
    with _state.lock:
        _drop_owned_sender()
        _drop_registry()
        _state.registry_url = None
        _state.sender = None
        _state.sender_owned = False
        _state.endpoint = None
        _state.endpoint_set = False
        _state.ttl = None


def get_registry() -> ConnectionRegistry:
    """The registry the ``ws_*`` functions use, opened from the environment on first call.

    Raises:
        ConfigurationError: Neither :func:`configure` nor ``WSGATE_REGISTRY`` /
            ``WSGATE_TABLE`` say where connections are stored, or the URL is malformed.
    """
    with _state.lock:
        if _state.registry is None:
            _state.registry = _open(_state.registry_url or _registry_url_from_env())
            _state.registry_owned = True
        return _state.registry


def get_sender() -> Sender:
    """The sender the ``ws_*`` functions use, built on first call.

    A built sender posts to :func:`get_endpoint` when one is configured (else it resolves the
    endpoint per connection: stored with the connection, then the current event's), and prunes
    gone connections from :func:`get_registry`.

    Raises:
        ConfigurationError: The registry cannot be opened (see :func:`get_registry`).
    """
    with _state.lock:
        if _state.sender is None:
            from wsgate.sender import Sender

            _state.sender = Sender(get_endpoint(), registry=get_registry())
            _state.sender_owned = True
        return _state.sender


def get_endpoint() -> str | None:
    """The configured management endpoint: :func:`configure`'s, else ``WSGATE_ENDPOINT``.

    ``None`` means "not configured": the endpoint then comes from the connection's record or
    from the event being handled.

    Raises:
        ConfigurationError: ``WSGATE_ENDPOINT`` is set but is not an http(s) URL.
    """
    with _state.lock:
        if not _state.endpoint_set:
            value = os.environ.get(ENV_ENDPOINT, "").strip()
            _state.endpoint = _check_endpoint(value, ENV_ENDPOINT) if value else None
            _state.endpoint_set = True
        return _state.endpoint


def get_ttl() -> int:
    """Default connection lifetime in seconds: :func:`configure`'s, ``WSGATE_TTL``, or 7200.

    Raises:
        ConfigurationError: ``WSGATE_TTL`` is not a positive whole number of seconds.
    """
    with _state.lock:
        if _state.ttl is None:
            value = os.environ.get(ENV_TTL, "").strip()
            _state.ttl = _check_ttl(value, ENV_TTL) if value else DEFAULT_TTL
        return _state.ttl


# --- helpers ----------------------------------------------------------------------------------


def _registry_url_from_env() -> str:
    url = os.environ.get(ENV_REGISTRY, "").strip()
    if url:
        return url
    table = os.environ.get(ENV_TABLE, "").strip()
    if table:
        return f"dynamodb://{table}"
    raise ConfigurationError(
        "no connection registry configured: set WSGATE_TABLE to your DynamoDB table, "
        "or WSGATE_REGISTRY to a URL (memory://, sqlite:///path/to.db, dynamodb://Table), "
        "or call wsgate.config.configure(registry=...)"
    )


def _open(url: str) -> ConnectionRegistry:
    from wsgate.registry import open_registry

    return open_registry(url)


def _check_endpoint(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ConfigurationError(
            f"{name} must be an http(s) URL such as "
            f"https://abc123.execute-api.eu-west-1.amazonaws.com/prod, got {value!r}"
        )
    return value.rstrip("/")


def _check_ttl(value: object, name: str) -> int:
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise ConfigurationError(
                f"{name} must be a whole number of seconds, got {value!r}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")
    return value


def _drop_registry() -> None:
    registry, owned = _state.registry, _state.registry_owned
    _state.registry = None
    _state.registry_owned = False
    _state.registry_url = None
    if registry is not None and owned:
        registry.close()


def _drop_owned_sender() -> None:
    sender, owned = _state.sender, _state.sender_owned
    if sender is not None and owned:
        _state.sender = None
        _state.sender_owned = False
        _shutdown(sender)


def _shutdown(sender: Sender) -> None:
    # The sender may keep a background event loop and pooled connections; release them.
    shutdown = getattr(sender, "shutdown", None)
    if callable(shutdown):
        shutdown()
