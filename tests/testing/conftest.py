"""Fixtures for the testing-toolkit tests: the chat example as ``wsgate_app``, and ``chat``,
one test body run both in process and against ``wsgate serve`` over real sockets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from wsgate.local.invoke import load_app

ROOT = Path(__file__).resolve().parents[2]
CHAT_APP = ROOT / "examples" / "chat" / "app.py"
EVENTS = ROOT / "tests" / "events"


@pytest.fixture(scope="session")
def wsgate_app() -> Any:
    """The chat example (``examples/chat/app.py``), as the plugin's app under test."""
    spec = load_app(str(CHAT_APP))
    return spec.handler.__self__  # type: ignore[attr-defined]


@pytest.fixture(params=["inprocess", "emulator"])
def chat(request: pytest.FixtureRequest) -> Any:
    """The chat example behind the in-process test client, then behind ``wsgate serve``."""
    name = "wsgate_client" if request.param == "inprocess" else "wsgate_emulator"
    return request.getfixturevalue(name)
