"""Acceptance: a chat session through `wsgate serve` shows its logs and EMF metrics, and the
metrics count exactly what happened."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from emf_check import parse_lines, totals

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "chat" / "app.py"
DEADLINE = 30.0 * float(os.environ.get("WSGATE_TEST_TIMEOUT_FACTOR", "1"))

pytest.importorskip("websockets")


class Output:
    """Collects a stream's lines in a thread, so the test can poll without blocking."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def join(self) -> None:
        self._thread.join(DEADLINE)


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def chat_server(tmp_path: Path) -> Iterator[tuple[str, Output, Output]]:
    env = dict(os.environ)
    env.update(
        WSGATE_REGISTRY=f"sqlite:///{tmp_path / 'registry.db'}",
        WSGATE_METRICS="on",
        WSGATE_METRICS_NAMESPACE="chat-e2e",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONUNBUFFERED="1",
    )
    env.pop("WSGATE_ENDPOINT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "wsgate.cli", "serve", str(CHAT), "--port", "0", "--no-dashboard"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = Output(process.stdout), Output(process.stderr)
    try:
        found = wait_for(
            lambda: (
                re.search(r"WebSocket\s+(ws://127\.0\.0\.1:\d+/\S+)", out.text())
                or process.poll() is not None
            ),
            "the emulator to listen",
        )
        assert process.poll() is None, err.text()
        yield found.group(1), out, err
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(DEADLINE)
        out.join()
        err.join()
        process.stdout.close()
        process.stderr.close()


def test_chat_session_metrics_and_logs(chat_server: tuple[str, Output, Output]) -> None:
    from websockets.sync.client import connect

    url, out, err = chat_server
    received: queue.Queue[dict[str, Any]] = queue.Queue()

    def drain(client: Any) -> None:
        try:
            while True:
                message = client.recv(timeout=0.02)
                received.put(json.loads(message))
        except TimeoutError:
            return

    def metric_totals() -> Counter[str]:
        return totals(parse_lines(out.text()))

    with connect(url + "?name=ada") as ada, connect(url + "?name=bob") as bob:
        clients = [ada, bob]
        for client in clients:
            client.send(json.dumps({"action": "join", "room": "lobby"}))
        wait_for(lambda: metric_totals()["MessagesIn"] >= 2, "both joins")
        ada.send(json.dumps({"action": "sendMessage", "room": "lobby", "text": "hello"}))
        bob.send(json.dumps({"action": "setName", "name": "bobby"}))
        wait_for(lambda: metric_totals()["MessagesIn"] >= 4, "message and rename")
        # Every handler has returned (each flushes when it does): what was sent is final.
        sent = metric_totals()["MessagesSent"]
        frames: list[dict[str, Any]] = []

        def all_frames_in() -> bool:
            for client in clients:
                drain(client)
            while not received.empty():
                frames.append(received.get())
            return len(frames) >= sent

        wait_for(all_frames_in, f"{sent} frames")
        assert len(frames) == sent
        kinds = Counter(frame.get("type") for frame in frames)
        assert kinds["message"] == 2  # the room's two members got "hello"
        assert kinds["name"] == 1

    final = wait_for(lambda: (t := metric_totals())["Disconnects"] >= 2 and t, "both disconnects")
    assert final["Connects"] == 2
    assert final["Disconnects"] == 2
    assert final["MessagesIn"] == 4
    assert final["BroadcastRecipients"] >= 4  # two joins to the room, one message to two
    assert final.get("HandlerErrors", 0) == 0
    documents = parse_lines(out.text())
    assert {d["_aws"]["CloudWatchMetrics"][0]["Namespace"] for d in documents} == {"chat-e2e"}
    assert totals(documents, Route="sendMessage", Stage="local")["MessagesIn"] == 1
    # The log records are in the emulator's output too.
    logs = err.text() + "\n" + out.text()
    assert len(re.findall(r"wsgate\.observe: connection \S+ connected", logs)) == 2
    assert len(re.findall(r"wsgate\.observe: connection \S+ disconnected \(\d+", logs)) == 2
