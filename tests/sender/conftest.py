"""Fixtures for the sender tests: the ``@connections`` stub and senders wired to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wsgate.sender import Sender, StaticCredentials

from .apistub import ApiStub

CREDS = StaticCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's WSGATE_ENDPOINT must not redirect the tests' sends.
    monkeypatch.delenv("WSGATE_ENDPOINT", raising=False)


@pytest.fixture
def stub() -> Iterator[ApiStub]:
    with ApiStub() as server:
        yield server


@pytest.fixture(params=["http", "boto3"])
def transport_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_sender() -> Iterator[Callable[..., Sender]]:
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
