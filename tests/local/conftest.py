"""Fixtures for the emulator tests: a real emulator on a free loopback port, run in a thread.

Tests talk to it the way users do: the ``websockets`` sync client and an unmodified boto3
``apigatewaymanagementapi`` client over 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from wsgate.local import EmulatorConfig
from wsgate.local.invoke import AppSpec
from wsgate.local.server import Emulator

EVENTS = Path(__file__).resolve().parent.parent / "events"


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, message: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting: {message or predicate}")
        time.sleep(0.01)


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


class RunningEmulator:
    """An :class:`Emulator` running on its own event loop in a background thread."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.loop = asyncio.new_event_loop()
        self._clients: list[Any] = []
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("emulator did not start")
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self.emulator.start())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.close()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the emulator's loop and return its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    @property
    def ws_url(self) -> str:
        return self.emulator.ws_url

    @property
    def endpoint(self) -> str:
        return self.emulator.endpoint

    @property
    def port(self) -> int:
        return self.emulator.port

    def connection_ids(self) -> list[str]:
        return self.call(lambda: list(self.emulator.connections))

    def client(self, *, attempts: int = 1, endpoint: str | None = None) -> Any:
        """An unmodified boto3 management client aimed at the emulator."""
        client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=endpoint or self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": attempts, "mode": "standard"}),
        )
        self._clients.append(client)
        return client

    def stop(self) -> None:
        for client in self._clients:
            client.close()  # their pooled sockets would otherwise leak into later tests
        self._clients.clear()
        if self.loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop)
        future.result(40)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def start_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., RunningEmulator]]:
    """Start emulators (stopped at teardown): ``start_emulator(app, **config_fields)``."""
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("WSGATE_ENDPOINT", raising=False)
    started: list[RunningEmulator] = []

    def start(app: Any, template: str | None = None, **fields: Any) -> RunningEmulator:
        fields.setdefault("port", 0)
        config = EmulatorConfig(**fields)
        running = RunningEmulator(Emulator(app, config, template=template))
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def emulator(start_emulator: Callable[..., RunningEmulator], recorder: Recorder) -> RunningEmulator:
    """An emulator in front of the recording handler (routes $connect/$disconnect/$default)."""
    return start_emulator(AppSpec.from_object(recorder))
