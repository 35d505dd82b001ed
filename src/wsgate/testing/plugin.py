"""pytest plugin for wsgate (registered through the ``pytest11`` entry point).

Kept light: importing it must not import boto3, aiohttp or any optional extra, because pytest
loads it in every project where wsgate is installed.

Fixtures:

- ``wsgate_app``: the app under test. Override it in your ``conftest.py``, or name it with the
  ``wsgate_app`` ini option or the ``WSGATE_APP`` environment variable (``module:attr``,
  ``path/to/app.py`` or ``path/to/app.py:attr``); otherwise ``app.py`` in the rootdir is used.
- ``wsgate_client``: a :class:`~wsgate.testing.client.WebSocketTestClient` of that app, over
  ``wsgate_registry``.
- ``wsgate_registry``: a fresh connection registry: in memory by default; parametrise it
  indirectly with ``"memory"``, ``"sqlite"``, ``"dynalite"`` or ``"moto"``.
- ``wsgate_emulator``: ``wsgate serve`` running the app on a free loopback port, as a
  :class:`~wsgate.testing.remote.RemoteTestClient` (same session API as ``wsgate_client``).
- ``dynalite_server`` / ``moto_server``: DynamoDB-compatible servers for the session.

The registry contract suite for your own backend is
:class:`wsgate.testing.contract.RegistryContract`.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from wsgate.registry.base import ConnectionRegistry
    from wsgate.testing.client import WebSocketTestClient
    from wsgate.testing.remote import RemoteTestClient
    from wsgate.testing.servers import LocalServer

#: Registry backends ``wsgate_registry`` can be parametrised with.
REGISTRY_BACKENDS = ("memory", "sqlite", "dynalite", "moto")
_APP_FILES = ("app.py",)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``wsgate_app`` ini option."""
    parser.addini(
        "wsgate_app",
        "the app under test for the wsgate fixtures: module:attr, path/to/app.py[:attr]",
        default="",
    )


# --- DynamoDB-compatible servers (session-scoped; started on first use) -----------------------


@pytest.fixture(scope="session")
def dynalite_server() -> Iterator[LocalServer]:
    """A dynalite server (in memory) on a free 127.0.0.1 port, stopped after the session.

    Use ``server.boto_kwargs`` to build a client: endpoint URL, region and dummy credentials.
    """
    from wsgate.testing.servers import start_dynalite

    server = start_dynalite()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[LocalServer]:
    """A moto_server on a free 127.0.0.1 port, stopped after the session."""
    from wsgate.testing.servers import start_moto_server

    server = start_moto_server()
    yield server
    server.stop()


# --- the app, its test client, registries, the emulator -----------------------------------------


def _app_target(config: pytest.Config) -> str | None:
    """Where the app is: ini option, ``WSGATE_APP``, or ``app.py`` in the rootdir."""
    value = str(config.getini("wsgate_app") or "").strip()
    if value:
        return _rooted(value, config.rootpath)
    value = os.environ.get("WSGATE_APP", "").strip()
    if value:
        return value
    for name in _APP_FILES:
        candidate = config.rootpath / name
        if candidate.is_file():
            return str(candidate)
    return None


def _rooted(value: str, root: Path) -> str:
    """A relative file path in the ini file is relative to the rootdir."""
    file, sep, attr = value.partition(":")
    if file.endswith(".py") and not Path(file).is_absolute():
        return str(root / file) + sep + attr
    return value


@pytest.fixture(scope="session")
def wsgate_app_target(pytestconfig: pytest.Config) -> str | None:
    """The ``APP`` string of the app under test (``None`` when only an object is known)."""
    return _app_target(pytestconfig)


@pytest.fixture(scope="session")
def wsgate_app(wsgate_app_target: str | None) -> Any:
    """The app under test: a ``WebSocketApp`` or a Lambda handler function.

    Override this fixture to return your app object, or name it in the ``wsgate_app`` ini
    option or ``WSGATE_APP``; by default ``app.py`` in the rootdir (its ``app``, ``handler``,
    ``lambda_handler`` or ``main``).
    """
    if wsgate_app_target is None:
        raise pytest.UsageError(
            "wsgate: no app to test. Set `wsgate_app = module:attr` (or path/to/app.py) in "
            "your pytest configuration, set WSGATE_APP, put app.py in the rootdir, or "
            "override the `wsgate_app` fixture."
        )
    from wsgate.local.invoke import load_app
    from wsgate.router import WebSocketApp

    spec = load_app(wsgate_app_target)
    owner = getattr(spec.handler, "__self__", None)
    # For a WebSocketApp the spec holds its bound `dispatch`: hand out the app itself.
    return owner if isinstance(owner, WebSocketApp) else spec.handler


@pytest.fixture
def wsgate_registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConnectionRegistry]:
    """A fresh, empty connection registry (in memory unless parametrised).

    ``@pytest.mark.parametrize("wsgate_registry", ["memory", "sqlite", "dynalite", "moto"],
    indirect=True)`` runs a test on each backend (DynamoDB ones on a local server and a fresh
    table).
    """
    backend = getattr(request, "param", "memory")
    if backend not in REGISTRY_BACKENDS:
        raise pytest.UsageError(
            f"wsgate_registry: unknown backend {backend!r}; use one of {REGISTRY_BACKENDS}"
        )
    from wsgate.registry import open_registry

    if backend == "memory":
        registry = open_registry("memory://")
    elif backend == "sqlite":
        registry = open_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    else:
        yield from _dynamodb_registry(request, backend)
        return
    yield registry
    registry.close()


def _dynamodb_registry(request: pytest.FixtureRequest, backend: str) -> Iterator[Any]:
    import boto3

    from wsgate.registry.dynamodb import DynamoDBRegistry

    server: LocalServer = request.getfixturevalue(f"{backend}_server")
    client = boto3.client("dynamodb", **server.boto_kwargs)
    registry = DynamoDBRegistry(f"wsgate-test-{uuid.uuid4().hex[:12]}", client=client)
    registry.create_table()
    yield registry
    try:
        registry.delete_table()
    finally:
        registry.close()


@pytest.fixture
def wsgate_client(
    wsgate_app: Any, wsgate_registry: ConnectionRegistry
) -> Iterator[WebSocketTestClient]:
    """An in-process :class:`~wsgate.testing.client.WebSocketTestClient` of ``wsgate_app``.

    ``wsgate.gateway`` functions inside handlers use ``wsgate_registry`` and the client's
    recording ``@connections`` transport for the duration of the test.
    """
    from wsgate.testing.client import WebSocketTestClient

    with WebSocketTestClient(wsgate_app, registry=wsgate_registry) as client:
        yield client


@pytest.fixture
def wsgate_emulator(
    pytestconfig: pytest.Config, wsgate_app: Any, wsgate_app_target: str | None
) -> Iterator[RemoteTestClient]:
    """``wsgate serve`` of ``wsgate_app`` on a free 127.0.0.1 port, with a fresh SQLite
    registry, as a :class:`~wsgate.testing.remote.RemoteTestClient` (stopped afterwards)."""
    from wsgate.testing.remote import RemoteTestClient

    target = _target_of(wsgate_app) or wsgate_app_target
    if target is None:
        raise pytest.UsageError(
            "wsgate_emulator: cannot tell which module holds the app; set the `wsgate_app` "
            "ini option or WSGATE_APP"
        )
    with RemoteTestClient.start(target, cwd=pytestconfig.rootpath) as client:
        yield client


def _target_of(app: Any) -> str | None:
    """``path/to/module.py:attr`` naming ``app``, found in the modules that define it."""
    handler_modules = [getattr(app, "__module__", None)]
    routes = getattr(app, "routes", None)
    if routes is not None:
        handler_modules += [getattr(r.handler, "__module__", None) for r in routes.values()]
    candidates = [sys.modules[m] for m in dict.fromkeys(handler_modules) if m in sys.modules]
    for module in candidates:
        file = getattr(module, "__file__", None)
        if not file:
            continue
        for name, value in vars(module).items():
            if value is app and not name.startswith("_"):
                return f"{file}:{name}"
    return None
