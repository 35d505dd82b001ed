"""The chat example in a browser: its server as a fixture, and joining the lobby as a user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from support import CHAT_APP
from wsgate.testing.remote import EmulatorProcess


@pytest.fixture
def chat_server() -> Iterator[EmulatorProcess]:
    """``wsgate serve`` on the chat example, in its own process."""
    with EmulatorProcess(str(CHAT_APP)) as server:
        yield server


def join_lobby(page: Any, url: str, name: str) -> None:
    """Open the chat at ``url``, take the name ``name`` and join the lobby (the click only)."""
    page.goto(url)
    page.wait_for_selector("#status.open", timeout=15_000)
    page.fill("#name", name)
    page.click("#set-name")
    page.wait_for_selector(f"text=you are now {name}", timeout=10_000)
    page.click("#join")
