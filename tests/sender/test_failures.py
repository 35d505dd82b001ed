"""Failures speak: causes logged once per broadcast, kept per recipient, counted; bad ids and
payloads refused before any request; pruning errors logged with the ids."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest

from wsgate import config
from wsgate.exceptions import (
    ForbiddenError,
    InvalidConnectionIdError,
    RegistryUnavailable,
    SendError,
    ThrottledError,
)
from wsgate.gateway import (
    ws_broadcast_message,
    ws_disconnect_connection,
    ws_is_connection_alive,
    ws_send_message,
)
from wsgate.observe import metrics as m
from wsgate.registry.memory import MemoryRegistry
from wsgate.sender import Sender

from .apistub import ApiStub, Fault

MakeSender = Callable[..., Sender]

FORBIDDEN = {"f1", "f2", "f3", "f4"}
THROTTLED = {"t1"}


def _faults(method: str, cid: str, attempt: int) -> Fault:
    if cid in FORBIDDEN:
        return "403"
    if cid in THROTTLED:
        return "429"
    return None


@pytest.fixture
def faulty() -> Iterator[ApiStub]:
    with ApiStub(fault=_faults) as server:
        server.connect("ok1", "ok2", "t1", *FORBIDDEN)
        yield server


@pytest.fixture
def configured(faulty: ApiStub, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryRegistry]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    registry = MemoryRegistry()
    sender = Sender(faulty.endpoint, registry=registry, max_attempts=2, backoff_cap=0.001)
    config.reset()
    config.configure(registry=registry, sender=sender)
    yield registry
    config.reset()
    sender.shutdown()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_broadcast_with_403s_warns_once_with_causes_counts_and_ids(
    configured: MemoryRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    ids = ["ok1", "gone1", "t1", "ok2", *sorted(FORBIDDEN)]
    with caplog.at_level(logging.DEBUG):
        delivered = ws_broadcast_message(ids, {"n": 1})

    assert delivered == {cid: cid in ("ok1", "ok2") for cid in ids}
    warnings = _warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    line = warnings[0].getMessage()
    assert warnings[0].name == "wsgate.sender"
    assert "5 of 8 recipients failed" in line
    assert "forbidden (403) x4" in line and "AccessDeniedException" in line
    assert "throttled (429) x1" in line and "'t1'" in line
    assert "'f1'" in line and "and 1 more" in line  # a few ids, not all of them
    assert "gone1" not in line  # gone is housekeeping, not a failure


def test_per_recipient_reasons_stay_reachable(faulty: ApiStub, make_sender: MakeSender) -> None:
    sender = make_sender(faulty.endpoint, max_attempts=1)
    result = sender.broadcast(["ok1", "f1", "f2", "t1", "gone1"], "x")

    assert result.failures_by_cause() == {
        "forbidden (403)": ["f1", "f2"],
        "throttled (429)": ["t1"],
    }
    assert isinstance(result.failed["f1"], ForbiddenError)
    assert isinstance(result.failed["t1"], ThrottledError)
    outcome = result.outcome("f2")
    assert outcome is not None and outcome.reason == "forbidden (403)"
    assert result.summary()["failure_causes"] == {"forbidden (403)": 2, "throttled (429)": 1}


def test_broadcast_failures_are_counted_by_cause(
    faulty: ApiStub, make_sender: MakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = io.StringIO()
    monkeypatch.setenv("WSGATE_METRICS", "on")
    m.set_metrics(m.Metrics(sink=m.EMFSink("wsgate-test", stream=out), enabled=True))
    try:
        sender = make_sender(faulty.endpoint, max_attempts=1)
        sender.broadcast(["ok1", "f1", "f2", "t1", "gone1"], "x")
    finally:
        m.set_metrics(None)
    counted: dict[str, float] = {}
    for line in out.getvalue().splitlines():
        document = json.loads(line)
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            counted[metric["Name"]] = counted.get(metric["Name"], 0) + document[metric["Name"]]
    assert counted["SendFailuresForbidden"] == 2
    assert counted["SendFailuresThrottled"] == 1
    assert counted["SendFailuresGone"] == 1
    assert "SendFailuresOther" not in counted


@pytest.mark.parametrize("bad", [None, "", 7, b"abc"])
def test_bad_connection_ids_raise_wsgates_error_before_any_request(
    configured: MemoryRegistry, faulty: ApiStub, bad: Any
) -> None:
    sender = config.get_sender()
    calls: list[Callable[[], object]] = [
        lambda: ws_send_message(bad, {"a": 1}),
        lambda: ws_is_connection_alive(bad),
        lambda: ws_disconnect_connection(bad),
        lambda: sender.send(bad, "x"),
        lambda: sender.send_text(bad, "x"),
        lambda: sender.info(bad),
        lambda: sender.close(bad),
    ]
    for call in calls:
        with pytest.raises(InvalidConnectionIdError) as info:
            call()
        assert isinstance(info.value, SendError) and isinstance(info.value, ValueError)
    assert faulty.state.requests == []


@pytest.mark.parametrize("value", [3.5, 42, True, None, ("a", 1), {"nested": [1, None]}])
def test_sender_send_and_ws_send_message_accept_the_same_payloads(
    configured: MemoryRegistry, faulty: ApiStub, value: Any
) -> None:
    ws_send_message("ok1", value)
    config.get_sender().send("ok2", value)
    expected = json.dumps(value, separators=(",", ":")).encode()
    assert faulty.received("ok1") == faulty.received("ok2") == [expected]


class BrokenRegistry(MemoryRegistry):
    def delete_many(self, connection_ids: Iterable[str]) -> int:
        raise RegistryUnavailable("table is gone")


def test_pruning_errors_are_logged_with_the_ids(
    faulty: ApiStub, make_sender: MakeSender, caplog: pytest.LogCaptureFixture
) -> None:
    sender = make_sender(faulty.endpoint, registry=BrokenRegistry())
    with caplog.at_level(logging.WARNING):
        result = sender.broadcast(["ok1", "gone-a", "gone-b"], "x")
    assert sorted(result.gone) == ["gone-a", "gone-b"]
    assert result.prune_error is not None and "table is gone" in result.prune_error
    lines = [r.getMessage() for r in _warnings(caplog)]
    assert any(
        "'gone-a'" in line and "'gone-b'" in line and "table is gone" in line for line in lines
    )
