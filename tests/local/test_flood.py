"""Bounded memory and fairness under floods: backpressure, fair turns, a stalled event stream.

A client that writes without reading must not grow the emulator without limit nor make other
clients wait behind its backlog; a dashboard event stream that never reads is dropped. The
bounds are loose enough for a loaded 2-core machine and far below what the unbounded design
showed (hundreds of MB, a 22 s echo delay).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from websockets.sync.client import connect

from wsgate.local.invoke import AppSpec

FLOOD_MESSAGES = 100_000
FLOOD_SECONDS = 10.0  # how long another client measures its echoes during the flood
RSS_GROWTH_BOUND = 150 * 1024 * 1024  # bytes; the unbounded design grew by ~500 MB
LATENCY_BOUND = 3.0  # seconds for another client's echo during the flood


def _echo(event: dict[str, Any], context: Any) -> Any:
    if event["requestContext"]["eventType"] == "MESSAGE":
        time.sleep(0.001)  # a little work, as a real handler does: a backlog builds up
        return {"statusCode": 200, "body": event["body"]}
    return {"statusCode": 200}


ECHO = AppSpec(
    _echo,
    frozenset({"$connect", "$disconnect", "$default"}),
    two_way_route_keys=frozenset({"$default"}),
)


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class _Peak:
    """Samples this process's RSS in a thread (the emulator runs in this process)."""

    def __init__(self) -> None:
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, _rss())

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def test_a_client_flooding_without_reading_is_held_back(start_emulator: Any) -> None:
    running = start_emulator(ECHO, max_workers=8)
    sent = 0
    stop = threading.Event()

    with (
        connect(running.ws_url, compression=None, ping_interval=None) as flooder,
        connect(running.ws_url, compression=None) as other,
    ):
        other.send("warm-up")
        assert other.recv(10) == "warm-up"
        baseline = _rss()
        peak = _Peak()

        def flood() -> None:
            nonlocal sent
            try:
                # Never reads: the echoes pile up until the emulator stops reading this client.
                for n in range(FLOOD_MESSAGES):
                    if stop.is_set():
                        return
                    flooder.send(f"m{n}")
                    sent += 1
            except Exception:
                return  # the socket was shut down below to unblock a send

        thread = threading.Thread(target=flood, daemon=True)
        thread.start()
        latencies: list[float] = []
        deadline = time.monotonic() + FLOOD_SECONDS
        n = 0
        while time.monotonic() < deadline:
            started = time.monotonic()
            other.send(f"ping {n}")
            assert other.recv(60) == f"ping {n}"
            latencies.append(time.monotonic() - started)
            n += 1
            time.sleep(0.1)
        stop.set()
        flooder.socket.shutdown(socket.SHUT_RDWR)
        thread.join(10)
        growth = peak.stop() - baseline
    assert sent > 1000, "the flood never got going"
    assert latencies, "no echo measured"
    assert max(latencies) < LATENCY_BOUND, (
        f"another client's echo took {max(latencies):.1f} s during the flood"
    )
    assert growth < RSS_GROWTH_BOUND, f"RSS grew by {growth / 2**20:.0f} MB after {sent} sends"


def test_backpressure_pauses_and_then_delivers_everything(start_emulator: Any) -> None:
    """Held back is not lost: a client that starts reading again gets every echo, in order."""
    running = start_emulator(ECHO, max_workers=4)
    count = 3000
    with connect(running.ws_url, compression=None, max_queue=None, ping_interval=None) as ws:
        for n in range(count):
            ws.send(f"{n:05d}" + "x" * 200)
        received = sorted(ws.recv(30)[:5] for _ in range(count))
    assert received == [f"{n:05d}" for n in range(count)]


def test_a_stalled_event_stream_is_dropped(emulator: Any) -> None:
    payload = "y" * 1900  # the feed shows up to 2,000 characters of a message
    count = 4000  # ~8 MB of events: far more than the per-stream limit plus kernel buffers
    with socket.socket() as events:
        events.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        events.settimeout(10)
        events.connect(("127.0.0.1", emulator.port))
        events.sendall(b"GET /_wsgate/api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = b""
        while b"wsgate feed" not in head:
            head += events.recv(4096)
        # No keepalive pings: under backpressure a slow machine may not answer one in time.
        with connect(emulator.ws_url, compression=None, ping_interval=None) as ws:
            for _ in range(count):  # the stream is not read meanwhile
                ws.send(payload)
        received, closed = 0, False
        try:
            while chunk := events.recv(65536):
                received += len(chunk)
            closed = True
        except ConnectionResetError:
            closed = True  # dropped with an abort: what was in flight may be discarded
        except TimeoutError:
            closed = False  # still streaming: the emulator buffered all of it for this reader
    assert closed, f"the stalled stream was kept (read {received} bytes afterwards)"
    assert received < count * len(payload)
    assert emulator.call(lambda: emulator.emulator.dashboard.feed.subscribers) == 0
