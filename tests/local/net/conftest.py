"""Fixtures for the network tests: a local CA in a temporary folder, an emulator with TLS on."""

from __future__ import annotations

from collections.abc import Callable
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
