"""EMF metrics: documents valid per the spec, counts right, limits, sinks and the off switch."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Mapping
from typing import Any

import pytest
from emf_check import parse_lines, totals, validate

from wsgate.exceptions import (
    ConfigurationError,
    ConnectionGoneError,
    ForbiddenError,
    PayloadTooLargeError,
    SendError,
    ServerError,
    ThrottledError,
    TransportError,
)
from wsgate.observe import metrics as m
from wsgate.observe.metrics import EMFSink, Metrics, MetricSink, PowertoolsSink, failure_kind

NOW = 1_764_094_000.123


def raw_event(route: str, stage: str = "prod", event_type: str = "MESSAGE") -> dict[str, Any]:
    return {
        "requestContext": {
            "routeKey": route,
            "stage": stage,
            "eventType": event_type,
            "connectionId": "R1kmxc2VNjMCFIA=",
            "requestId": "R1km_FrHjoEFn5g=",
        }
    }


def recorder(**kwargs: Any) -> tuple[Metrics, io.StringIO]:
    stream = io.StringIO()
    kwargs.setdefault("enabled", True)
    sink = EMFSink(kwargs.pop("namespace", "wsgate-test"), stream=stream, clock=lambda: NOW)
    return Metrics(sink=sink, **kwargs), stream


def test_a_session_is_counted_in_valid_emf() -> None:
    metrics, stream = recorder()
    connect, message, disconnect = (
        raw_event("$connect", event_type="CONNECT"),
        raw_event("sendMessage"),
        raw_event("$disconnect", event_type="DISCONNECT"),
    )
    metrics.connected(connect)
    for _ in range(3):
        metrics.message_received(message)
    metrics.sent(5, event=message)
    metrics.send_failed("gone", event=message)
    metrics.send_failed(ThrottledError("abc="), 2, event=message)
    metrics.send_failed(PayloadTooLargeError("abc="), event=message)
    metrics.send_failed(ServerError("abc=", 503), event=message)
    metrics.pruned(1, event=message)
    metrics.broadcast(7, 12.5, event=message)
    metrics.handler_error(message)
    metrics.disconnected(disconnect)
    metrics.flush()

    documents = parse_lines(stream.getvalue())
    assert len(stream.getvalue().splitlines()) == len(documents) == 3
    for document in documents:
        assert document["_aws"]["Timestamp"] == int(NOW * 1000)
        assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "wsgate-test"
        assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Route", "Stage"]]
    assert totals(documents, Route="$connect") == {"Connects": 1}
    assert totals(documents, Route="$disconnect") == {"Disconnects": 1}
    assert totals(documents, Route="sendMessage", Stage="prod") == {
        "MessagesIn": 3,
        "MessagesSent": 5,
        "SendFailuresGone": 1,
        "SendFailuresThrottled": 2,
        "SendFailuresTooLarge": 1,
        "SendFailuresServerError": 1,
        "ConnectionsPruned": 1,
        "BroadcastRecipients": 7,
        "BroadcastDuration": 12.5,
        "HandlerErrors": 1,
    }
    units = {
        metric["Name"]: metric["Unit"]
        for document in documents
        for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    assert units["BroadcastDuration"] == "Milliseconds"
    assert units["MessagesIn"] == "Count"


def test_flush_empties_the_buffer_and_writes_nothing_when_idle() -> None:
    metrics, stream = recorder()
    metrics.connected(raw_event("$connect"))
    metrics.flush()
    first = stream.getvalue()
    metrics.flush()
    assert stream.getvalue() == first
    assert len(parse_lines(first)) == 1


def test_durations_keep_every_value_in_arrays_of_at_most_100() -> None:
    metrics, stream = recorder()
    event = raw_event("chat")
    for index in range(250):
        metrics.broadcast(1, float(index), event=event)
    metrics.flush()
    documents = parse_lines(stream.getvalue())
    durations: list[float] = []
    for document in documents:
        value = document.get("BroadcastDuration")
        if value is not None:
            durations.extend(value if isinstance(value, list) else [value])
    assert sorted(durations) == [float(i) for i in range(250)]
    assert totals(documents)["BroadcastRecipients"] == 250


def test_more_than_100_metrics_are_split_across_documents() -> None:
    metrics, stream = recorder()
    event = raw_event("chat")
    for index in range(230):
        metrics.put(f"Custom{index}", index, event=event)
    metrics.flush()
    documents = parse_lines(stream.getvalue())
    sizes = sorted(len(d["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for d in documents)
    assert sizes == [30, 100, 100]
    assert totals(documents) == {f"Custom{i}": i for i in range(230) if i} | {"Custom0": 0}


def test_dimensions_are_chosen_by_the_user() -> None:
    metrics, stream = recorder(dimensions=("Stage",), static_dimensions={"Service": "chat"})
    metrics.message_received(raw_event("a"))
    metrics.message_received(raw_event("b"))
    metrics.flush()
    (document,) = parse_lines(stream.getvalue())
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Service", "Stage"]]
    assert document["Service"] == "chat"
    assert document["MessagesIn"] == 2
    assert "Route" not in document


def test_no_dimensions_and_no_event() -> None:
    metrics, stream = recorder(dimensions=())
    metrics.sent(2)
    metrics.flush()
    (document,) = parse_lines(stream.getvalue())
    assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]
    assert document["MessagesSent"] == 2


def test_route_can_be_given_explicitly() -> None:
    metrics, stream = recorder()
    metrics.put("Custom", 1, event=raw_event("x"), route="override")
    metrics.flush()
    (document,) = parse_lines(stream.getvalue())
    assert document["Route"] == "override"


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "no"])
def test_env_off_switch(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("WSGATE_METRICS", value)
    stream = io.StringIO()
    metrics = Metrics(stream=stream)
    assert metrics.enabled is False
    metrics.connected(raw_event("$connect"))
    metrics.flush()
    assert stream.getvalue() == ""


def test_code_off_switch() -> None:
    metrics, stream = recorder()
    metrics.disable()
    metrics.connected(raw_event("$connect"))
    metrics.flush()
    assert stream.getvalue() == ""
    metrics.enable()
    metrics.connected(raw_event("$connect"))
    metrics.flush()
    assert totals(parse_lines(stream.getvalue())) == {"Connects": 1}


def test_namespace_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGATE_METRICS_NAMESPACE", "ChatApp")
    monkeypatch.delenv("WSGATE_METRICS", raising=False)
    stream = io.StringIO()
    metrics = Metrics(stream=stream)
    metrics.connected(raw_event("$connect"))
    metrics.flush()
    (document,) = parse_lines(stream.getvalue())
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ChatApp"


def test_default_stream_is_stdout_at_write_time(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = Metrics("wsgate-test", enabled=True)
    metrics.connected(raw_event("$connect"))
    metrics.flush()
    assert totals(parse_lines(capsys.readouterr().out)) == {"Connects": 1}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dimensions": ("Stage", "Colour")},
        {"static_dimensions": {"Service": ""}},
        {"static_dimensions": {f"D{i}": "x" for i in range(29)}},
    ],
)
def test_bad_configuration_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Metrics(enabled=True, **kwargs)


@pytest.mark.parametrize("name", ["", "x" * 256, "_aws", "Stage", "Route", "Service"])
def test_bad_metric_names_are_refused(name: str) -> None:
    metrics, stream = recorder(static_dimensions={"Service": "chat"})
    with pytest.raises(ConfigurationError):
        metrics.put(name, 1, event=raw_event("x"))
    metrics.flush()
    assert stream.getvalue() == ""


def test_bad_namespace_is_refused() -> None:
    with pytest.raises(ConfigurationError):
        EMFSink("")
    with pytest.raises(ConfigurationError):
        EMFSink("x" * 256)


def test_failure_kinds() -> None:
    assert failure_kind(ConnectionGoneError("a")) == "gone"
    assert failure_kind(ThrottledError("a")) == "throttled"
    assert failure_kind(PayloadTooLargeError("a")) == "too_large"
    # A misconfigured role (403) must not hide among "other" failures.
    assert failure_kind(ForbiddenError("a")) == "forbidden"
    assert failure_kind(ServerError("a", 500)) == "server_error"
    assert failure_kind(TransportError("a", None, "timed out")) == "transport"
    assert failure_kind(SendError("a", 400)) == "other"
    assert failure_kind(TimeoutError()) == "other"


class RecordingSink:
    def __init__(self) -> None:
        self.points: list[tuple[str, float, str, dict[str, str]]] = []
        self.flushes = 0

    def add(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        self.points.append((name, value, unit, dict(dimensions)))

    def flush(self) -> None:
        self.flushes += 1


def test_a_custom_sink_receives_every_point() -> None:
    sink = RecordingSink()
    assert isinstance(sink, MetricSink)
    metrics = Metrics(sink=sink, enabled=True)
    metrics.connected(raw_event("$connect", stage="dev"))
    metrics.broadcast(3, 4.0, event=raw_event("chat", stage="dev"))
    metrics.flush()
    assert sink.points == [
        ("Connects", 1, "Count", {"Stage": "dev", "Route": "$connect"}),
        ("BroadcastRecipients", 3, "Count", {"Stage": "dev", "Route": "chat"}),
        ("BroadcastDuration", 4.0, "Milliseconds", {"Stage": "dev", "Route": "chat"}),
    ]
    assert sink.flushes == 1


class FailingSink(RecordingSink):
    def flush(self) -> None:
        raise OSError("stdout closed")


def test_flush_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics(sink=FailingSink(), enabled=True)
    metrics.connected(raw_event("$connect"))
    metrics.flush()
    assert "flushing metrics failed" in caplog.text


def test_concurrent_recording_loses_nothing() -> None:
    metrics, stream = recorder()
    event = raw_event("chat")

    def work() -> None:
        for _ in range(500):
            metrics.message_received(event)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    metrics.flush()
    assert totals(parse_lines(stream.getvalue())) == {"MessagesIn": 4000}


def test_powertools_sink_with_real_powertools(capsys: pytest.CaptureFixture[str]) -> None:
    from aws_lambda_powertools import Metrics as PowertoolsMetrics

    pt = PowertoolsMetrics(namespace="ChatApp", service="chat")
    metrics = Metrics(sink=PowertoolsSink(pt), enabled=True)
    metrics.connected(raw_event("$connect"))
    metrics.sent(4, event=raw_event("chat"))
    metrics.broadcast(4, 3.5, event=raw_event("chat"))
    metrics.flush()
    assert capsys.readouterr().out == ""  # Powertools flushes, not wsgate
    pt.flush_metrics()
    documents = parse_lines(capsys.readouterr().out)
    assert totals(documents, service="chat") == {
        "Connects": 1,
        "MessagesSent": 4,
        "BroadcastRecipients": 4,
        "BroadcastDuration": 3.5,
    }


def test_default_recorder_is_shared_and_replaceable() -> None:
    try:
        m.set_metrics(None)
        first = m.get_metrics()
        assert m.get_metrics() is first
        mine = Metrics(enabled=False)
        m.set_metrics(mine)
        assert m.get_metrics() is mine
    finally:
        m.set_metrics(None)


def test_validator_rejects_broken_documents() -> None:
    good = {
        "_aws": {
            "Timestamp": int(NOW * 1000),
            "CloudWatchMetrics": [
                {"Namespace": "n", "Dimensions": [["Stage"]], "Metrics": [{"Name": "M"}]}
            ],
        },
        "Stage": "prod",
        "M": 1,
    }
    validate(good)
    missing_member = json.loads(json.dumps(good))
    del missing_member["M"]
    seconds = json.loads(json.dumps(good))
    seconds["_aws"]["Timestamp"] = int(NOW)
    missing_dimension = json.loads(json.dumps(good))
    del missing_dimension["Stage"]
    too_many = json.loads(json.dumps(good))
    too_many["_aws"]["CloudWatchMetrics"][0]["Metrics"] = [{"Name": f"M{i}"} for i in range(101)]
    for broken in (missing_member, seconds, missing_dimension, too_many):
        with pytest.raises(Exception, match=r".") as info:
            validate(broken)
        assert info.type.__name__ in {"AssertionError", "ValidationError"}
