"""Fixtures: the delivery test app served by a real emulator on a free loopback port."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wsgate.delivery.store import DeliveryStore, MemoryDeliveryStore
from wsgate.delivery.store_sqlite import SQLiteDeliveryStore
from wsgate.local import EmulatorConfig
from wsgate.local.server import Emulator

from .delivery_app import Served, make_app


def wait_until(predicate: Callable[[], Any], timeout: float = 30.0, message: str = "") -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message or predicate}")
        time.sleep(0.01)


class ServedEmulator:
    """An emulator serving the delivery test app, on its own loop in a thread."""

    def __init__(self, served: Served, config: EmulatorConfig) -> None:
        self.served = served
        self.emulator = Emulator(served.app, config, configure_environment=False)
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(self.emulator.start())
            except BaseException as exc:
                errors.append(exc)
                started.set()
                return
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="delivery-emulator", daemon=True)
        self.thread.start()
        if not started.wait(15) or errors:
            raise RuntimeError(f"emulator did not start: {errors}")
        served.sender.endpoint = self.emulator.endpoint

    @property
    def ws_url(self) -> str:
        return self.emulator.ws_url

    @property
    def faults(self) -> Any:
        return self.emulator.config.faults

    def stop(self) -> None:
        async def shutdown() -> None:
            await self.emulator.stop()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(15)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(15)
            self.loop.close()


class Sweeper:
    """Calls the delivery's scheduled handler every ``interval`` seconds, as EventBridge would."""

    def __init__(self, served: Served, interval: float = 0.1) -> None:
        self._stop = threading.Event()
        self.runs = 0

        def loop() -> None:
            while not self._stop.wait(interval):
                served.delivery.scheduled_handler({}, None)
                self.runs += 1

        self.thread = threading.Thread(target=loop, name="sweeper", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(10)


def serve(store: DeliveryStore, **options: Any) -> ServedEmulator:
    return ServedEmulator(make_app(store, **options), EmulatorConfig(port=0, dashboard=False))


@pytest.fixture(params=["memory", "sqlite", pytest.param("dynalite", marks=pytest.mark.dynamodb)])
def delivery_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DeliveryStore]:
    store: DeliveryStore
    if request.param == "memory":
        store = MemoryDeliveryStore()
    elif request.param == "sqlite":
        store = SQLiteDeliveryStore(tmp_path / "delivery.db")
    else:
        import boto3

        from wsgate.delivery.store_dynamodb import DynamoDBDeliveryStore

        server = request.getfixturevalue("dynalite_server")
        client = boto3.client("dynamodb", **server.boto_kwargs)
        store = DynamoDBDeliveryStore(f"delivery-{uuid.uuid4().hex[:8]}", client=client)
        store.create_table()
    yield store
    store.close()


@pytest.fixture
def make_server() -> Iterator[Callable[..., ServedEmulator]]:
    """Start the test app behind an emulator with the given store and Delivery options."""
    started: list[ServedEmulator] = []

    def start(store: DeliveryStore | None = None, **options: Any) -> ServedEmulator:
        server = serve(store or MemoryDeliveryStore(), **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.served.sender.shutdown()
        server.stop()
