"""pytest plugin for wsgate (registered through the ``pytest11`` entry point).

Kept light: importing it must not import boto3, aiohttp or any optional extra, because pytest
loads it in every project where wsgate is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from wsgate.testing.servers import LocalServer


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
