"""Dispatch counts connects, disconnects, messages and handler errors, and flushes each time."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emf_check import parse_lines, totals

from wsgate import WebSocketApp
from wsgate.exceptions import ConnectRejected
from wsgate.observe.metrics import EMFSink, Metrics, set_metrics
from wsgate.observe.middleware import instrument, observe_middleware
from wsgate.responses import Response

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return document


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    set_metrics(Metrics(sink=EMFSink("wsgate-test", stream=stream), enabled=True))
    yield stream
    set_metrics(None)


def chat_app(**kwargs: Any) -> WebSocketApp:
    app = WebSocketApp(**kwargs)

    @app.connect
    def connect(event: Any) -> Response | None:
        if event.query_params.get("deny"):
            raise ConnectRejected(401)
        if event.query_params.get("refuse"):
            return Response(403)
        return None

    @app.route("sendmessage")
    def send(event: Any) -> None:
        if event.json.get("fail"):
            raise RuntimeError("handler bug")

    return app


def with_query(event: dict[str, Any], **params: str) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    event["queryStringParameters"] = params
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in params.items()}
    return event


def with_body(event: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    event = json.loads(json.dumps(event))
    event["body"] = json.dumps(body)
    return event


def test_a_session_through_dispatch_is_counted(out: io.StringIO) -> None:
    app = chat_app()
    connect, message = load("connect_no_query"), load("message_custom")
    disconnect = load("disconnect_1001")
    results = [
        app.dispatch(connect),
        app.dispatch(with_query(connect, deny="1")),
        app.dispatch(with_query(connect, refuse="1")),
        app.dispatch(message),
    ]
    with pytest.raises(RuntimeError):  # a crash is a Lambda error, counted on its way out
        app.dispatch(with_body(message, {"action": "sendmessage", "fail": True}))
    results += [app.dispatch(message), app.dispatch(disconnect)]
    assert [r["statusCode"] for r in results] == [200, 401, 403, 200, 200, 200]
    documents = parse_lines(out.getvalue())
    # One flush per dispatch; rejected connects write nothing.
    assert len(out.getvalue().splitlines()) == 5
    assert totals(documents) == {
        "Connects": 1,
        "MessagesIn": 3,
        "HandlerErrors": 1,
        "Disconnects": 1,
    }
    assert totals(documents, Stage=connect["requestContext"]["stage"]) == {"Connects": 1}
    assert totals(documents, Route="sendmessage") == {"MessagesIn": 3, "HandlerErrors": 1}


def test_observe_false_records_nothing(out: io.StringIO) -> None:
    app = chat_app(observe=False)
    app.dispatch(load("connect_no_query"))
    assert out.getvalue() == ""
    instrument(app)
    instrument(app)
    app.dispatch(load("connect_no_query"))
    assert totals(parse_lines(out.getvalue())) == {"Connects": 1}
    assert sum(mw is observe_middleware for mw in app._middleware) == 1


def test_instrument_does_not_double_the_default(out: io.StringIO) -> None:
    app = instrument(chat_app())
    app.dispatch(load("connect_no_query"))
    assert totals(parse_lines(out.getvalue())) == {"Connects": 1}


def test_env_switch_turns_dispatch_metrics_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGATE_METRICS", "off")
    stream = io.StringIO()
    set_metrics(Metrics(stream=stream))
    try:
        chat_app().dispatch(load("connect_no_query"))
    finally:
        set_metrics(None)
    assert stream.getvalue() == ""


def test_connect_and_disconnect_are_logged(
    out: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="wsgate")
    app = chat_app()
    app.dispatch(load("connect_no_query"))
    app.dispatch(load("disconnect_1001"))
    messages = [r.getMessage() for r in caplog.records if r.name == "wsgate.observe"]
    connection_id = load("connect_no_query")["requestContext"]["connectionId"]
    assert messages[0] == f"connection {connection_id} connected"
    assert messages[1].startswith(
        f"connection {load('disconnect_1001')['requestContext']['connectionId']} disconnected (1001"
    )
    connection_ids = {getattr(r, "connectionId", None) for r in caplog.records}
    assert load("connect_no_query")["requestContext"]["connectionId"] in connection_ids
