"""§10.10: ``$disconnect`` after every kind of close, idle and hard timeouts, dropped events."""

from __future__ import annotations

import contextlib
import socket
import time
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from support import wait_until
from wsgate.local.config import Faults
from wsgate.local.invoke import AppSpec

from .conftest import Recorder


def _close_code(ws: Any, timeout: float = 10) -> int:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            ws.recv(timeout)
    assert info.value.rcvd is not None
    return int(info.value.rcvd.code)


def test_abrupt_drop_fires_disconnect_1006(emulator: Any, recorder: Recorder) -> None:
    with connect(emulator.ws_url) as ws:
        recorder.wait("CONNECT")
        ws.socket.shutdown(socket.SHUT_RDWR)  # no close frame
        ws.socket.close()
    ctx = recorder.wait("DISCONNECT")[0]["requestContext"]
    assert ctx["disconnectStatusCode"] == 1006
    wait_until(lambda: emulator.connection_ids() == [])
    client = emulator.client()
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=ctx["connectionId"], Data=b"x")


def test_idle_timeout_closes_1001_going_away(start_emulator: Any, recorder: Recorder) -> None:
    running = start_emulator(AppSpec.from_object(recorder), idle_timeout=0.4)
    with connect(running.ws_url, ping_interval=None) as ws:
        assert _close_code(ws) == 1001
    ctx = recorder.wait("DISCONNECT")[0]["requestContext"]
    assert (ctx["disconnectStatusCode"], ctx["disconnectReason"]) == (1001, "Going away")


def test_idle_timer_is_reset_by_traffic_both_ways_but_not_pings(
    start_emulator: Any, recorder: Recorder
) -> None:
    idle = 0.6
    running = start_emulator(AppSpec.from_object(recorder), idle_timeout=idle)
    client = running.client()
    with connect(running.ws_url, ping_interval=None) as ws:
        cid = recorder.wait("CONNECT")[0]["requestContext"]["connectionId"]
        started = time.monotonic()
        # Alternate inbound messages and outbound posts for 3 idle periods: still open.
        for n in range(9):
            if n % 2:
                ws.send("keepalive")
            else:
                client.post_to_connection(ConnectionId=cid, Data=b"server keepalive")
                assert ws.recv(5) == "server keepalive"
            time.sleep(idle / 3)
        assert time.monotonic() - started > 2 * idle
        assert running.connection_ids() == [cid]
        # Pings alone do not count: the connection goes idle.
        deadline = time.monotonic() + 10
        with pytest.raises(ConnectionClosed):
            while time.monotonic() < deadline:
                ws.ping().wait(1)
                time.sleep(idle / 4)
    assert recorder.wait("DISCONNECT")[0]["requestContext"]["disconnectStatusCode"] == 1001


def test_max_duration_closes_even_a_busy_connection(
    start_emulator: Any, recorder: Recorder
) -> None:
    running = start_emulator(AppSpec.from_object(recorder), max_duration=0.8, idle_timeout=60)
    with connect(running.ws_url) as ws:
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as info:
            while time.monotonic() - started < 10:
                ws.send("busy")
                time.sleep(0.05)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1001
    connected_at = recorder.of("CONNECT")[0]["requestContext"]["connectedAt"]
    ctx = recorder.wait("DISCONNECT")[0]["requestContext"]
    assert ctx["requestTimeEpoch"] - connected_at >= 800
    assert ctx["disconnectStatusCode"] == 1001


def test_drop_disconnect_fault_skips_the_event(start_emulator: Any, recorder: Recorder) -> None:
    running = start_emulator(AppSpec.from_object(recorder), faults=Faults(drop_disconnect=1.0))
    with connect(running.ws_url) as ws:
        ws.send("hello")
        recorder.wait("MESSAGE")
    wait_until(lambda: running.connection_ids() == [])
    # A second connection proves the emulator still runs $connect/$default normally.
    with connect(running.ws_url) as ws:
        ws.send("again")
        recorder.wait("MESSAGE", 2)
    wait_until(lambda: running.connection_ids() == [])
    assert recorder.of("DISCONNECT") == []


def test_random_close_fault_drops_connections(start_emulator: Any, recorder: Recorder) -> None:
    running = start_emulator(AppSpec.from_object(recorder), faults=Faults(random_close=1.0, seed=7))
    with connect(running.ws_url) as ws:
        ws.send("this message is the last")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(5)
        assert info.value.rcvd is None  # dropped, no close frame
    ctx = recorder.wait("DISCONNECT")[0]["requestContext"]
    assert ctx["disconnectStatusCode"] == 1006
    assert recorder.of("MESSAGE") == []


def test_stop_closes_everything_with_disconnects(start_emulator: Any, recorder: Recorder) -> None:
    running = start_emulator(AppSpec.from_object(recorder))
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(connect(running.ws_url)) for _ in range(5)]
        recorder.wait("CONNECT", 5)
        running.stop()
        for ws in sockets:
            assert _close_code(ws) == 1001
    assert len(recorder.wait("DISCONNECT", 5)) == 5
