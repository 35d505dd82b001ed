"""Acceptance: a chat session through `wsgate serve` shows its logs and EMF metrics, and the
metrics count exactly what happened."""

from __future__ import annotations

import json
import queue
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emf_check import parse_lines, totals
from emulator_proc import Output, serve, wait_for

pytest.importorskip("websockets")


@pytest.fixture
def chat_server(tmp_path: Path) -> Iterator[tuple[str, Output, Output]]:
    with serve(tmp_path) as served:
        yield served.url, served.out, served.err


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
    assert len(re.findall(r"connection \S+ connected", logs)) == 2
    assert len(re.findall(r"connection \S+ disconnected \(\d+", logs)) == 2
