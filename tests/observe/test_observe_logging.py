"""Logging: event ids on every record, JSON lines, Powertools' Logger, nothing set on import."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wsgate import WebSocketApp
from wsgate.context import LambdaContext
from wsgate.observe.logging import (
    EventContextFilter,
    JsonFormatter,
    add_event_context,
    configure_logging,
    event_fields,
    get_logger,
)

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return document


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = configure_logging(logging.DEBUG, stream=out, logger="wsgate.test")
    yield out
    logging.getLogger("wsgate.test").removeHandler(handler)


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_nothing_is_configured_on_import() -> None:
    code = (
        "import logging, wsgate, wsgate.observe, wsgate.observe.middleware;"
        "print(len(logging.getLogger().handlers), len(logging.getLogger('wsgate').handlers),"
        " logging.getLogger('wsgate').level)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0", "0"]


def test_records_inside_a_handler_carry_the_event_ids(stream: io.StringIO) -> None:
    app = WebSocketApp(observe=False)
    log = get_logger("wsgate.test")
    plain = logging.getLogger("wsgate.test.plain")

    @app.route("sendmessage")
    def send(event: Any) -> None:
        log.info("adapter record", extra={"room": "lobby"})
        plain.warning("plain record")

    event = load("message_custom")
    context = LambdaContext(function_name="chat")
    assert app.dispatch(event, context)["statusCode"] == 200
    adapter_line, plain_line = lines(stream)
    request = event["requestContext"]
    for line in (adapter_line, plain_line):
        assert line["connectionId"] == request["connectionId"]
        assert line["routeKey"] == request["routeKey"]
        assert line["apiRequestId"] == request["requestId"]
        assert line["requestId"] == context.aws_request_id
        assert line["timestamp"].endswith("Z")
    assert adapter_line["message"] == "adapter record"
    assert adapter_line["level"] == "INFO"
    assert adapter_line["logger"] == "wsgate.test"
    assert adapter_line["room"] == "lobby"
    assert plain_line["level"] == "WARNING"


def test_records_outside_a_handler_have_no_event_ids(stream: io.StringIO) -> None:
    get_logger("wsgate.test").info("startup")
    (line,) = lines(stream)
    assert line["message"] == "startup"
    assert not {"connectionId", "routeKey", "apiRequestId", "requestId"} & set(line)


def test_exceptions_are_written_like_lambda_does(stream: io.StringIO) -> None:
    try:
        raise KeyError("missing")
    except KeyError:
        get_logger("wsgate.test").exception("failed")
    (line,) = lines(stream)
    assert line["level"] == "ERROR"
    assert line["errorType"] == "KeyError"
    assert line["errorMessage"] == "'missing'"
    assert isinstance(line["stackTrace"], list) and line["stackTrace"]
    assert "test_observe_logging.py" in line["location"]


def test_unserialisable_extras_are_stringified() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m %s", ("a",), None)
    record.obj = object()
    record.nested = {"a": [1, 2]}
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "m a"
    assert line["obj"].startswith("<object object")
    assert line["nested"] == {"a": [1, 2]}


def test_router_failure_log_has_the_ids(stream: io.StringIO) -> None:
    handler = configure_logging(logging.INFO, stream=stream, logger="wsgate")
    try:
        app = WebSocketApp(observe=False)

        @app.route("sendmessage")
        def send(event: Any) -> None:
            raise RuntimeError("boom")

        event = load("message_custom")
        with pytest.raises(RuntimeError):
            app.dispatch(event)
    finally:
        logging.getLogger("wsgate").removeHandler(handler)
        logging.getLogger("wsgate").setLevel(logging.NOTSET)
    (line,) = [entry for entry in lines(stream) if entry["level"] == "ERROR"]
    assert line["connectionId"] == event["requestContext"]["connectionId"]
    assert line["errorType"] == "RuntimeError"


def test_configure_twice_keeps_one_handler() -> None:
    out = io.StringIO()
    target = logging.getLogger("wsgate.test.twice")
    configure_logging(stream=out, logger="wsgate.test.twice")
    handler = configure_logging(stream=out, logger="wsgate.test.twice", json_format=False)
    try:
        assert target.handlers == [handler]
        target.info("text line")
        text = out.getvalue()
        assert "INFO wsgate.test.twice [None None None] text line" in text
    finally:
        target.removeHandler(handler)


def test_filter_keeps_fields_already_set() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    record.connectionId = "given="
    assert EventContextFilter().filter(record) is True
    assert record.connectionId == "given="
    assert record.routeKey is None


def test_event_fields_of_a_raw_event() -> None:
    event = load("connect_query")
    fields = event_fields(event)
    assert fields["connectionId"] == event["requestContext"]["connectionId"]
    assert fields["routeKey"] == "$connect"
    assert event_fields({"no": "context"})["connectionId"] is None


def test_add_event_context_targets() -> None:
    handler = logging.StreamHandler(io.StringIO())
    first = add_event_context(handler)
    assert add_event_context(handler) is first
    assert handler.filters == [first]
    logger = logging.getLogger("wsgate.test.targets")
    logger.addHandler(handler)
    try:
        add_event_context(logger)
        assert any(isinstance(f, EventContextFilter) for f in logger.filters)
        assert handler.filters == [first]
    finally:
        logger.removeHandler(handler)
        logger.filters.clear()
    with pytest.raises(TypeError):
        add_event_context(object())


def test_powertools_logger_gets_the_event_ids(capsys: pytest.CaptureFixture[str]) -> None:
    from aws_lambda_powertools import Logger

    logger = Logger(service="chat", logger_handler=logging.StreamHandler(sys.stdout))
    add_event_context(logger)
    app = WebSocketApp(observe=False)

    @app.route("sendmessage")
    def send(event: Any) -> None:
        logger.info("from powertools")

    event = load("message_custom")
    app.dispatch(event, LambdaContext())
    (line,) = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.startswith("{")]
    assert line["message"] == "from powertools"
    assert line["service"] == "chat"
    assert line["connectionId"] == event["requestContext"]["connectionId"]
    assert line["routeKey"] == "sendmessage"


def test_configure_in_lambda_uses_the_runtime_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "chat")
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")
    root = logging.getLogger()
    runtime = logging.StreamHandler(io.StringIO())  # stands in for the runtime's root handler
    root.addHandler(runtime)
    try:
        handler = configure_logging("DEBUG")
        assert handler in root.handlers
        assert any(isinstance(f, EventContextFilter) for f in runtime.filters)
        assert not [h for h in logging.getLogger("wsgate").handlers if h is not runtime]
        assert logging.getLogger("wsgate").level == logging.DEBUG
    finally:
        root.removeHandler(runtime)
        logging.getLogger("wsgate").setLevel(logging.NOTSET)


def test_lambda_runtime_json_format_carries_the_ids() -> None:
    """The formatter Lambda's Python runtime uses for LogFormat JSON (awslambdaric)."""
    runtime_logs = pytest.importorskip("awslambdaric.lambda_runtime_log_utils")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(runtime_logs.JsonFormatter())
    add_event_context(handler)
    logger = logging.getLogger("wsgate.test.lambda")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    app = WebSocketApp(observe=False)

    @app.route("sendmessage")
    def send(event: Any) -> None:
        logger.info("inside", extra={"room": "lobby"})

    event = load("message_custom")
    context = LambdaContext(function_name="chat")
    try:
        app.dispatch(event, context)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    (line,) = [json.loads(x) for x in out.getvalue().splitlines() if x.strip()]
    assert line["message"] == "inside"
    assert line["requestId"] == context.aws_request_id
    assert line["connectionId"] == event["requestContext"]["connectionId"]
    assert line["routeKey"] == "sendmessage"
    assert line["apiRequestId"] == event["requestContext"]["requestId"]
    assert line["room"] == "lobby"
