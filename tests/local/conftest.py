"""Fixtures for the emulator tests: a real emulator on a free loopback port, run in a thread.

Tests talk to it the way users do: the ``websockets`` sync client and an unmodified boto3
``apigatewaymanagementapi`` client over 127.0.0.1.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support import ThreadedEmulator, wait_until
from wsgate.local import EmulatorConfig
from wsgate.local.invoke import AppSpec
from wsgate.local.server import Emulator

EVENTS = Path(__file__).resolve().parent.parent / "events"


class Recorder:
    """A plain Lambda handler that records every event and does what the test tells it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.on: dict[str, Callable[[dict[str, Any], Any], Any]] = {}

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        with self.lock:
            self.events.append(event)
        action = self.on.get(event["requestContext"]["eventType"])
        if action is not None:
            return action(event, context)
        return {"statusCode": 200}

    def of(self, event_type: str) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.events if e["requestContext"]["eventType"] == event_type]

    def wait(self, event_type: str, count: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        return wait_until(
            lambda: (found := self.of(event_type)) and len(found) >= count and found,
            timeout,
            f"{count} {event_type} event(s)",
        )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def start_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., ThreadedEmulator]]:
    """Start emulators (stopped at teardown): ``start_emulator(app, **config_fields)``."""
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("WSGATE_ENDPOINT", raising=False)
    started: list[ThreadedEmulator] = []

    def start(app: Any, template: str | None = None, **fields: Any) -> ThreadedEmulator:
        fields.setdefault("port", 0)
        config = EmulatorConfig(**fields)
        running = ThreadedEmulator(Emulator(app, config, template=template))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def emulator(
    start_emulator: Callable[..., ThreadedEmulator], recorder: Recorder
) -> ThreadedEmulator:
    """An emulator in front of the recording handler (routes $connect/$disconnect/$default)."""
    return start_emulator(AppSpec.from_object(recorder))
