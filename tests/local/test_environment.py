"""The emulator gives the app its environment while it runs, and gives it back on stop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support import ThreadedEmulator
from wsgate.local.config import EmulatorConfig
from wsgate.local.invoke import AppSpec
from wsgate.local.server import Emulator

from .conftest import Recorder


def test_stop_restores_the_environment_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WSGATE_ENDPOINT", raising=False)
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'mine.db'}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "caller-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "caller-secret")
    before = {k: os.environ.get(k) for k in ("WSGATE_REGISTRY", "AWS_ACCESS_KEY_ID")}

    running = ThreadedEmulator(Emulator(AppSpec.from_object(Recorder()), EmulatorConfig(port=0)))
    try:
        assert os.environ["WSGATE_ENDPOINT"] == running.endpoint
        assert os.environ["WSGATE_REGISTRY"] == before["WSGATE_REGISTRY"]  # kept, not replaced
    finally:
        running.stop()

    assert "WSGATE_ENDPOINT" not in os.environ
    assert {k: os.environ.get(k) for k in before} == before
