"""The Sender's sends, failures by kind, prunes and broadcasts are counted, against the emulator."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emf_check import parse_lines, totals
from emulator_proc import serve

from wsgate.exceptions import (
    ConnectionGoneError,
    ForbiddenError,
    PayloadTooLargeError,
    ThrottledError,
)
from wsgate.observe.metrics import EMFSink, Metrics, set_metrics
from wsgate.registry import open_registry
from wsgate.sender import Sender

pytest.importorskip("websockets")

GONE = ["GoneGoneGone01Q=", "GoneGoneGone02Q="]


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    # The fast transport signs like boto3 does; the emulator accepts any key.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("WSGATE_ENDPOINT", raising=False)


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    set_metrics(Metrics(sink=EMFSink("wsgate-test", stream=stream), enabled=True))
    yield stream
    set_metrics(None)


def my_id(client: Any) -> str:
    client.send(json.dumps({"action": "whoami"}))
    while True:
        reply = json.loads(client.recv(timeout=10))
        if reply.get("type") == "me":
            return str(reply["connectionId"])


def test_sends_failures_prunes_and_broadcasts_are_counted(tmp_path: Path, out: io.StringIO) -> None:
    from websockets.sync.client import connect

    registry = open_registry("memory://")
    with serve(tmp_path) as served, connect(served.url) as client:
        live = my_id(client)
        for connection_id in (live, *GONE):
            registry.store(connection_id)
        sender = Sender(served.endpoint, registry=registry, max_attempts=1)
        wrong_stage = Sender(served.endpoint.rsplit("/", 1)[0] + "/nostage", max_attempts=1)
        try:
            sender.send(live, "one")
            assert client.recv(timeout=10) == "one"
            with pytest.raises(ConnectionGoneError):
                sender.send(GONE[0], "x")
            with pytest.raises(PayloadTooLargeError):
                sender.send(live, b"x" * 131_073)
            with pytest.raises(ForbiddenError):
                wrong_stage.send(live, "x")
            result = sender.broadcast([live, GONE[1], live], "all")
            assert client.recv(timeout=10) == "all"
            assert (result.sent, result.gone, result.pruned) == ([live], [GONE[1]], 1)
        finally:
            sender.shutdown()
            wrong_stage.shutdown()
    documents = parse_lines(out.getvalue())
    # Outside a handler each call flushes its own line at once.
    assert len(documents) == 5
    counted = totals(documents)
    duration = counted.pop("BroadcastDuration")
    assert 0 < duration < 60_000
    assert counted == {
        "MessagesSent": 2,
        "SendFailuresGone": 2,
        "SendFailuresTooLarge": 1,
        "SendFailuresForbidden": 1,
        "ConnectionsPruned": 2,
        "BroadcastRecipients": 2,
    }
    assert registry.get(live) is not None
    assert all(registry.get(gone) is None for gone in GONE)


def test_throttled_sends_are_counted(tmp_path: Path, out: io.StringIO) -> None:
    with serve(tmp_path, "--throttle", "1") as served:
        sender = Sender(served.endpoint, max_attempts=1)
        try:
            with pytest.raises(ThrottledError):
                sender.send(GONE[0], "x")
            result = sender.broadcast(GONE, "x")
        finally:
            sender.shutdown()
    assert sorted(result.failed) == sorted(GONE)
    counted = totals(parse_lines(out.getvalue()))
    assert counted["SendFailuresThrottled"] == 3
    assert counted["BroadcastRecipients"] == 2
    assert "MessagesSent" not in counted
