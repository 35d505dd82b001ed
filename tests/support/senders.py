"""Senders for tests against the ``@connections`` stub: fast retries, short timeouts, test keys.

The ``make_sender`` fixture is shared by re-exporting it from a folder's ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wsgate.sender import Sender, StaticCredentials

CREDS = StaticCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


@pytest.fixture
def make_sender() -> Iterator[Callable[..., Sender]]:
    """``make_sender(endpoint, **kwargs)``: a Sender shut down after the test."""
    made: list[Sender] = []

    def make(endpoint: str | None = None, **kwargs: Any) -> Sender:
        kwargs.setdefault("credentials", CREDS)
        kwargs.setdefault("backoff_base", 0.001)
        kwargs.setdefault("backoff_cap", 0.01)
        kwargs.setdefault("timeout", 2.0)
        kwargs.setdefault("region", "us-east-1")
        sender = Sender(endpoint, **kwargs)
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.shutdown()
