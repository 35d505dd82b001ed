"""A connection accepted as the emulator stops is closed by stop(): no socket outlives the loop.

asyncio accepts a socket in one loop turn and wraps it in a transport a turn or two later; a
server closed in between left the accepted socket open (Python 3.11), and its ResourceWarning
surfaced later in whichever test the garbage collector ran in (with ``filterwarnings = error``
that failed the suite now and then on a loaded machine). ``turns`` walks the connect across
those loop turns.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings
from typing import Any

import pytest

from wsgate.local import EmulatorConfig
from wsgate.local.invoke import AppSpec
from wsgate.local.server import Emulator


@pytest.mark.parametrize("turns", [0, 1, 2, 3, 4])
def test_a_connection_accepted_while_stopping_is_closed(
    recorder: Any, turns: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'r.db'}")
    emulator = Emulator(
        AppSpec.from_object(recorder), EmulatorConfig(port=0), configure_environment=False
    )
    clients: list[socket.socket] = []

    async def scenario() -> None:
        await emulator.start()
        clients.append(socket.create_connection(("127.0.0.1", emulator.port)))
        for _ in range(turns):  # the accept is somewhere between the selector and the protocol
            await asyncio.sleep(0)
        await emulator.stop()
        assert all(
            ch.transport is None or ch.transport.is_closing() for ch in emulator._channels
        ), "a channel outlived stop()"

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(scenario())
        gc.collect()
    for client in clients:
        client.close()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]
