"""Acknowledged delivery and resume: message ids, acks, redelivery and catch-up.

Opt in per app::

    from wsgate.delivery import Delivery, enable, open_delivery_store

    delivery = enable(app, Delivery(open_delivery_store("sqlite:///.wsgate/delivery.db"),
                                    registry=registry, sender=sender))

    @app.route("sendMessage")
    def send_message(event):
        delivery.send_to_room("lobby", {"text": event.json["text"]})   # seq'd, acked, resumable

    sweep = delivery.scheduled_handler       # Lambda handler for an EventBridge schedule

The guarantees, the wire protocol and the DynamoDB layout with its cost per operation are in
``docs/delivery.md``. ``wsgate-client.js`` (``wsgate.delivery.client_js_path()``) speaks the
protocol in browsers and Node.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from wsgate.delivery.protocol import room_stream, user_stream
from wsgate.delivery.results import SweepResult, TrackedSend, Undelivered
from wsgate.delivery.store import DeliveryStore, MemoryDeliveryStore

__all__ = [
    "Delivery",
    "DeliveryStore",
    "MemoryDeliveryStore",
    "SweepResult",
    "TrackedSend",
    "Undelivered",
    "client_js_path",
    "enable",
    "open_delivery_store",
    "room_stream",
    "store_for_registry",
    "store_from_env",
    "user_stream",
]

CLIENT_JS_ROUTE = "/wsgate-client.js"
"""Where the emulator serves the JavaScript client."""


def __getattr__(name: str) -> object:
    # Delivery and enable pull in the router; keep `import wsgate.delivery` light.
    if name == "Delivery":
        from wsgate.delivery.service import Delivery

        return Delivery
    if name == "enable":
        from wsgate.delivery.middleware import enable

        return enable
    raise AttributeError(f"module 'wsgate.delivery' has no attribute {name!r}")


def open_delivery_store(url: str | None = None) -> DeliveryStore:
    """Build a delivery store from a URL: ``memory://``, ``sqlite:///path/to.db`` or
    ``dynamodb://TableName``. Without a URL, ``WSGATE_DELIVERY_STORE`` is read.

    Raises:
        ConfigurationError: No URL, or one with an unknown scheme.
    """
    from wsgate.exceptions import ConfigurationError

    url = url or os.environ.get("WSGATE_DELIVERY_STORE")
    if not url:
        raise ConfigurationError(
            "no delivery store: pass a URL or set WSGATE_DELIVERY_STORE "
            "(memory://, sqlite:///path, dynamodb://Table)"
        )
    scheme, _, rest = url.partition("://")
    if scheme == "memory":
        return MemoryDeliveryStore()
    if scheme == "sqlite" and rest.startswith("/") and len(rest) > 1:
        from wsgate.delivery.store_sqlite import SQLiteDeliveryStore

        # As for the registry: sqlite:///relative.db and sqlite:////absolute.db.
        return SQLiteDeliveryStore(rest[1:])
    if scheme == "dynamodb" and rest:
        from wsgate.delivery.store_dynamodb import DynamoDBDeliveryStore

        return DynamoDBDeliveryStore(rest)
    raise ConfigurationError(f"unsupported delivery store URL {url!r}")


def store_from_env(environ: Mapping[str, str] | None = None) -> DeliveryStore:
    """The delivery store the environment names, or one beside the connection registry.

    ``WSGATE_DELIVERY_STORE`` wins. Otherwise it follows the registry: ``memory://`` gives a
    memory store, ``sqlite:///x.db`` the same SQLite file (its own tables), and
    ``dynamodb://T`` or ``WSGATE_TABLE=T`` the table ``T-delivery`` (see docs/delivery.md for
    why it is a table of its own).

    Raises:
        ConfigurationError: Nothing in the environment says where to keep delivery state.
    """
    from wsgate.exceptions import ConfigurationError

    env = os.environ if environ is None else environ
    if url := env.get("WSGATE_DELIVERY_STORE"):
        return open_delivery_store(url)
    registry = env.get("WSGATE_REGISTRY") or ""
    if not registry and env.get("WSGATE_TABLE"):
        registry = f"dynamodb://{env['WSGATE_TABLE']}"
    scheme, _, rest = registry.partition("://")
    if scheme == "memory":
        return open_delivery_store("memory://")
    if scheme == "sqlite":
        return open_delivery_store(registry.split("?", 1)[0])
    if scheme == "dynamodb" and rest:
        return open_delivery_store(f"dynamodb://{rest.split('?', 1)[0].strip('/')}-delivery")
    raise ConfigurationError(
        "no delivery store configured: set WSGATE_DELIVERY_STORE (memory://, sqlite:///path, "
        "dynamodb://Table) or WSGATE_REGISTRY / WSGATE_TABLE"
    )


def store_for_registry(registry: object) -> DeliveryStore:
    """A delivery store beside a connection registry: memory for a memory registry, the same
    file for a SQLite one, the table ``<registry table>-delivery`` (same DynamoDB client) for a
    DynamoDB one.

    Raises:
        ConfigurationError: Another kind of registry (pass a store explicitly).
    """
    from wsgate.exceptions import ConfigurationError

    kind = type(registry).__name__
    if kind == "MemoryRegistry":
        return MemoryDeliveryStore()
    if kind == "SQLiteRegistry" and getattr(registry, "path", ":memory:") != ":memory:":
        from wsgate.delivery.store_sqlite import SQLiteDeliveryStore

        return SQLiteDeliveryStore(registry.path)  # type: ignore[attr-defined]
    if kind == "DynamoDBRegistry":
        from wsgate.delivery.store_dynamodb import DynamoDBDeliveryStore

        table = f"{registry.table_name}-delivery"  # type: ignore[attr-defined]
        return DynamoDBDeliveryStore(table, client=registry.client)  # type: ignore[attr-defined]
    raise ConfigurationError(
        f"cannot place delivery state beside a {kind}: pass Delivery(store=...) or set "
        "WSGATE_DELIVERY_STORE"
    )


def client_js_path() -> Path:
    """The path of ``wsgate-client.js`` inside the installed package (to serve or copy)."""
    return Path(str(resources.files("wsgate.delivery").joinpath("static/wsgate-client.js")))
