"""Fixtures for the network tests: a local CA in a temporary folder, an emulator with TLS on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from support import ThreadedEmulator
from wsgate.local.invoke import AppSpec
from wsgate.local.tls import LocalCA, api_hostname

API_ID = "abc123defg"
API_HOST = api_hostname(API_ID, "us-east-1")


@pytest.fixture(scope="session")
def ca(tmp_path_factory: pytest.TempPathFactory) -> LocalCA:
    """A local CA made once for the test session, in a temporary folder."""
    return LocalCA.load_or_create(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def tls_emulator(
    start_emulator: Callable[..., ThreadedEmulator], recorder: Any, ca: LocalCA
) -> ThreadedEmulator:
    """An emulator in front of the recording handler, answering TLS for loopback and API_HOST."""
    return start_emulator(
        AppSpec.from_object(recorder),
        api_id=API_ID,
        tls=ca.server_context([API_HOST]),
        api_hostnames=frozenset({API_HOST}),
    )


def connection_id(emulator: ThreadedEmulator, before: set[str]) -> str:
    """The id of the one connection opened since ``before`` was taken."""
    from support import wait_until

    return wait_until(
        lambda: (new := set(emulator.connection_ids()) - before) and new.pop(),
        10,
        "a new connection",
    )


def sdk_v3_node_modules() -> Path | None:
    """A ``node_modules`` holding the AWS SDK for JavaScript v3 clients, if one is installed.

    The function runtime installs the SDK once into the per-user cache
    (``~/.cache/wsgate/node-sdk/*/node_modules``); ``WSGATE_TEST_NODE_SDK`` names another.
    """
    import os

    if env := os.environ.get("WSGATE_TEST_NODE_SDK"):
        return Path(env)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    for found in sorted((cache / "wsgate" / "node-sdk").glob("*/node_modules")):
        if (found / "@aws-sdk" / "client-apigatewaymanagementapi").is_dir():
            return found
    return None
