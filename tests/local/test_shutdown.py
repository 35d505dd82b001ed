"""Ctrl-C (SIGINT) ends ``wsgate serve`` promptly even with a backlog of queued messages.

The chat example (delivery enabled) behind a real ``wsgate serve`` child process; clients flood
it with ``sendMessage`` so thousands of handler calls wait for a worker when the signal comes.
The bound is on hanging (the emulator used to run the whole backlog first, up to the 29 s
integration timeout, plus the ``$disconnect`` calls queued behind it), not on speed.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from websockets.sync.client import connect

from support import CHAT_APP, wait_until
from wsgate.testing.remote import EmulatorProcess

CLIENTS = 4
MESSAGES = 1500  # per client: a backlog of thousands of handler calls
HANG_BOUND = 10.0  # seconds; a clean stop takes about one


def _flood(url: str, name: str, connected: threading.Barrier, sent: threading.Event) -> None:
    # max_queue=None: the client keeps reading, so it answers the server's close at once.
    # No keepalive pings: a client held back by backpressure may not get its pong in time.
    with connect(url, max_queue=None, open_timeout=15, ping_interval=None) as ws:
        ws.send(json.dumps({"action": "setName", "name": name}))
        ws.send(json.dumps({"action": "join", "room": "lobby"}))
        # Every client is connected before any floods: a $connect queued behind another
        # client's backlog would otherwise time out its handshake on a slow machine.
        connected.wait(30)
        try:
            for n in range(MESSAGES):
                message = {"action": "sendMessage", "room": "lobby", "text": f"{name} {n}"}
                ws.send(json.dumps(message))
                if n == MESSAGES // 3:
                    # The emulator reads a client only as fast as it handles its messages
                    # (backpressure): the signal comes while the flood is still going.
                    sent.set()
            while True:
                ws.recv(timeout=HANG_BOUND * 2)
        except Exception:  # the server closed (1001 Going away): what the test waits for
            return


@pytest.mark.slow
def test_sigint_stops_wsgate_serve_with_a_message_backlog() -> None:
    server = EmulatorProcess(str(CHAT_APP), env={"WSGATE_METRICS": "off"}).start()
    try:
        flags = [threading.Event() for _ in range(CLIENTS)]
        connected = threading.Barrier(CLIENTS)
        threads = [
            threading.Thread(
                target=_flood, args=(server.ws_url, f"u{i}", connected, flag), daemon=True
            )
            for i, flag in enumerate(flags)
        ]
        for thread in threads:
            thread.start()
        wait_until(lambda: all(flag.is_set() for flag in flags), message="the flood sent")
        started = time.monotonic()
        server.stop(timeout=HANG_BOUND)  # SIGINT, then SIGKILL if still running at the bound
        elapsed = time.monotonic() - started
        for thread in threads:
            thread.join(HANG_BOUND)
    finally:
        server.stop()
    assert server.returncode == 0, f"killed after {elapsed:.1f} s:\n{server.log[-2000:]}"
    assert "dropped" in server.log, server.log[-3000:]  # the backlog was there, and was not run
