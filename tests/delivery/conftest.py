"""Fixtures: the delivery test app served by a real emulator on a free loopback port."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from support import ThreadedEmulator
from wsgate.delivery.store import DeliveryStore, MemoryDeliveryStore
from wsgate.delivery.store_sqlite import SQLiteDeliveryStore
from wsgate.local import EmulatorConfig
from wsgate.local.server import Emulator

from .delivery_app import Served, make_app


class ServedEmulator(ThreadedEmulator):
    """An emulator serving the delivery test app, on its own loop in a thread."""

    def __init__(self, served: Served, config: EmulatorConfig) -> None:
        self.served = served
        super().__init__(
            Emulator(served.app, config, configure_environment=False), name="delivery-emulator"
        )
        served.sender.endpoint = self.emulator.endpoint

    @property
    def faults(self) -> Any:
        return self.emulator.config.faults


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
        request.addfinalizer(client.close)  # its pooled sockets: closed, not left to the GC
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
