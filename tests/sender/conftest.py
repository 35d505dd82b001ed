"""Fixtures for the sender tests: the ``@connections`` stub and senders wired to it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.senders import CREDS, make_sender

from .apistub import ApiStub

__all__ = ["CREDS", "make_sender"]  # from support.senders, shared with the fan-out tests


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
