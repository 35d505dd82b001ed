"""Churn: thousands of connect/disconnect cycles, abrupt drops and dropped ``$disconnect`` events.

After a cleanup pass (GetConnection for every registry row, delete on GoneException, as an app's
sweeper does) the registry holds exactly the live connections, and the emulator has leaked no
tasks, channels or file descriptors.
"""

from __future__ import annotations

import asyncio
import os
import random
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from websockets.asyncio.client import ClientConnection, connect

from wsgate.local import EmulatorConfig, Faults
from wsgate.local.server import Emulator
from wsgate.registry import open_registry
from wsgate.router import WebSocketApp

pytestmark = pytest.mark.slow

CYCLES = 5_000
CONCURRENCY = 40
KEEP = 25


def _work(emulator: Emulator) -> list[Any]:
    """Per-connection tasks still running (background services such as sweeps excluded)."""
    names = {"handshake", "invoke"}
    tasks = [t for t in emulator._tasks if t.get_coro().__name__ in names]  # type: ignore[union-attr]
    return tasks + [emulator.invoker] * emulator.invoker.in_flight


def _sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:  # closed between listdir and readlink
            continue
    return count


def _app(registry: Any) -> WebSocketApp:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: Any) -> None:
        registry.store(event.connection_id)

    @app.disconnect
    def on_disconnect(event: Any) -> None:
        registry.delete(event.connection_id)

    @app.default
    def on_default(event: Any) -> None:
        return None

    return app


async def _cycle(url: str, n: int, rng: random.Random) -> None:
    ws: ClientConnection = await connect(url, open_timeout=30)
    kind = rng.random()
    if kind < 0.2:
        await ws.send(f"message {n}")
    if kind < 0.4:
        ws.transport.abort()  # abrupt drop: no close frame
        await ws.wait_closed()
    elif kind < 0.7:
        await ws.close(1001, "tab closed")
    else:
        await ws.close()


def _cleanup(registry: Any, endpoint: str) -> int:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=4),
    )
    removed = 0
    try:
        for record in list(registry.all()):
            try:
                client.get_connection(ConnectionId=record.connection_id)
            except client.exceptions.GoneException:
                removed += registry.delete(record.connection_id)
    finally:
        client.close()
    return removed


def test_churn_leaves_exactly_the_live_connections(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'churn.db'}")
    monkeypatch.setenv("WSGATE_METRICS", "off")  # 10,000 EMF lines would only be noise
    registry = open_registry(f"sqlite:///{tmp_path / 'churn.db'}")
    faults = Faults(drop_disconnect=0.2, seed=1)
    emulator = Emulator(_app(registry), EmulatorConfig(port=0, faults=faults))

    async def scenario() -> None:
        await emulator.start()
        sockets_before = _sockets()
        rng = random.Random(42)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(n: int) -> None:
            async with gate:
                await _cycle(emulator.ws_url, n, rng)

        await asyncio.gather(*(one(n) for n in range(CYCLES)))
        keep = [await connect(emulator.ws_url) for _ in range(KEEP)]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while (len(emulator.connections) != KEEP or _work(emulator)) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert len(emulator.connections) == KEEP
        assert not _work(emulator), f"{len(_work(emulator))} tasks still running"
        assert not emulator.pending

        stale = registry.count() - KEEP
        assert stale > 0, "the dropped $disconnects should have left stale rows"
        removed = await asyncio.to_thread(_cleanup, registry, emulator.endpoint)
        assert removed == stale
        ids = {r.connection_id for r in registry.all()}
        assert ids == set(emulator.connections)
        # The cleanup client's keep-alive sockets close as it is closed: give them a moment.
        deadline = loop.time() + 10
        while len(emulator._channels) != KEEP and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert len(emulator._channels) == KEEP  # no leaked TCP channels

        for ws in keep:
            await ws.close()
        deadline = loop.time() + 30
        while (emulator.connections or _work(emulator)) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert not emulator.connections and not emulator._channels
        # Sockets are what the emulator could leak (the registry keeps one SQLite file per
        # worker thread open on purpose, so other descriptors are not counted).
        assert _sockets() <= sockets_before, (sockets_before, _sockets())
        await emulator.stop()

    asyncio.run(scenario())
    registry.close()
