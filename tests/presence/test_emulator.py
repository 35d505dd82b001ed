"""Presence through ``wsgate serve``'s emulator with real WebSocket clients: ``$disconnect``
removes presence at once; when the emulator drops ``$disconnect`` (its fault switch), the
emulator's sweep removes the ghost within the window."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect

from support import wait_until
from wsgate.local.config import Faults

from .presence_app import make_app


def _next(ws: ClientConnection, kind: str, timeout: float) -> dict[str, Any]:
    """The next frame of type ``kind`` within ``timeout`` seconds (others are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind} frame within {timeout} s")
        frame = json.loads(ws.recv(timeout=left))
        if frame.get("type") == kind:
            return dict(frame)


@contextmanager
def heartbeating(ws: ClientConnection, interval: float) -> Iterator[None]:
    """Send ``presence.heartbeat`` every ``interval`` seconds, as wsgate-presence.js does."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                ws.send(json.dumps({"action": "presence.heartbeat"}))
            except Exception:
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def _enter(ws: ClientConnection, room: str) -> dict[str, Any]:
    ws.send(json.dumps({"action": "presence.enter", "room": room, "data": {}}))
    return _next(ws, "presence.state", 10)


def test_disconnect_removes_presence_at_once(start_emulator: Any) -> None:
    app, presence = make_app(heartbeat=30.0)  # a long window: only $disconnect can do it
    running = start_emulator(app)
    with connect(f"{running.ws_url}?user=ann") as ann:
        _enter(ann, "lobby")
        with connect(f"{running.ws_url}?user=bob") as bob:
            state = _enter(bob, "lobby")
            assert [m["userId"] for m in state["members"]] == ["ann", "bob"]
            _next(ann, "presence.join", 10)
        started = time.monotonic()
        leave = _next(ann, "presence.leave", 10)
        assert [m["userId"] for m in leave["members"]] == ["bob"]
        assert time.monotonic() - started < 10  # far inside the 90 s window
        assert [m.user_id for m in presence.members("lobby")] == ["ann"]


def test_a_ghost_leaves_within_the_window_when_disconnect_is_dropped(start_emulator: Any) -> None:
    heartbeat, timeout = 0.5, 3.0
    app, presence = make_app(heartbeat=heartbeat, timeout=timeout)
    running = start_emulator(app, faults=Faults(drop_disconnect=1.0))
    with connect(f"{running.ws_url}?user=ann") as ann, heartbeating(ann, heartbeat):
        _enter(ann, "lobby")
        with connect(f"{running.ws_url}?user=bob") as bob:
            _enter(bob, "lobby")
            _next(ann, "presence.join", 10)
            bob_id = presence.members("lobby")[1].connections[0]
        # bob's socket is closed, and the fault switch dropped its $disconnect.
        gone_at = time.monotonic()
        leave = _next(ann, "presence.leave", 20)
        waited = time.monotonic() - gone_at
        assert [m["userId"] for m in leave["members"]] == ["bob"]
        # The window (3 s) plus the emulator's 1 s sweep period, with room for a busy machine;
        # and not before the window: ann's heartbeats kept her, bob's silence removed him.
        assert timeout - 0.2 <= waited < timeout + 1 + 8
        assert [m.user_id for m in presence.members("lobby")] == ["ann"]
        # The sweep's presence.expired to the ghost (sent after the announcement) found it
        # gone: its record is pruned.
        wait_until(lambda: presence.registry.get(bob_id) is None, 10, "the ghost pruned")
