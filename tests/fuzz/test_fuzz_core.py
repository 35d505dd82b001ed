"""Fuzzing the sans-I/O core: event parsing, route selection and the router.

Hostile input may only ever produce a wsgate error (``WsgateError``) or a clean answer; any
other exception is a crash a Lambda would report as a function error.
"""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wsgate.events import WebSocketEvent, parse_event
from wsgate.exceptions import WsgateError
from wsgate.router import WebSocketApp
from wsgate.selection import evaluate, select_route

from .strategies import FUZZ, bodies, events, json_values


def _properties(cls: type) -> list[str]:
    return [n for n in dir(cls) if not n.startswith("_") and isinstance(getattr(cls, n), property)]


def read_everything(event: WebSocketEvent) -> None:
    """Touch every property, the way a handler might; each may only raise a wsgate error."""
    for name in _properties(type(event)):
        try:
            value = getattr(event, name)
            if hasattr(value, "items"):
                list(value.items())
            elif isinstance(value, list | tuple):
                list(value)
        except WsgateError:
            pass
    with contextlib.suppress(WsgateError):
        event.execute_api_endpoint("us-east-1")


@settings(FUZZ, max_examples=300)
@given(events)
def test_parse_event_only_raises_wsgate_errors(raw: Any) -> None:
    try:
        event = parse_event(raw)
    except WsgateError:
        return
    assert isinstance(event, WebSocketEvent)
    read_everything(event)


EXPRESSIONS = st.one_of(
    st.sampled_from(
        [
            "$request.body.action",
            "${request.body.action}",
            "${request.body.service}/${request.body.action}",
            "$request.body.a.b[0]",
            "$request.body['x y']",
            "\\$default",
            "action",
        ]
    ),
    st.text(max_size=40),
    st.text(alphabet="$.{}[]'\\abc0", max_size=30),
)


@settings(FUZZ, max_examples=300)
@given(EXPRESSIONS, bodies)
def test_selection_returns_a_string_or_raises_a_route_error(expression: str, body: Any) -> None:
    try:
        result = evaluate(expression, body)
    except WsgateError:
        return
    assert isinstance(result, str)


@settings(FUZZ, max_examples=200)
@given(
    bodies,
    st.sets(st.text(min_size=1, max_size=8).filter(lambda k: not k.startswith("$")), max_size=4),
    st.booleans(),
)
def test_select_route_picks_a_registered_key_or_none(
    body: Any, keys: set[str], with_default: bool
) -> None:
    route_keys = keys | ({"$default"} if with_default else set())
    chosen = select_route("$request.body.action", body, route_keys)
    assert chosen is None or chosen in route_keys
    if chosen is None:
        assert not with_default


def hostile_app() -> WebSocketApp:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: Any) -> None:
        _ = event.headers.get("authorization"), event.query_params, event.principal_id

    @app.route("echo", two_way=True)
    def echo(event: Any) -> Any:
        return event.json

    @app.route("sendmessage")
    def send(event: Any) -> Any:
        data = event.json
        return {"statusCode": 200, "body": str(data)[:50]}

    @app.default
    def fallback(event: Any) -> Any:
        return event.body

    @app.disconnect
    def on_disconnect(event: Any) -> None:
        _ = event.disconnect_status_code, event.disconnect_reason

    return app


APP = hostile_app()


@settings(FUZZ, max_examples=300)
@given(events)
def test_dispatch_never_raises_and_always_answers(raw: Any) -> None:
    result = APP.dispatch(raw, None)
    assert isinstance(result, dict)
    status = result["statusCode"]
    assert isinstance(status, int) and 100 <= status <= 599
    if status >= 500:
        assert "Traceback" not in str(result.get("body", ""))


@settings(FUZZ, max_examples=150)
@given(json_values, st.sampled_from(["echo", "sendmessage", "nope", ""]))
def test_dispatch_json_bodies_of_any_shape(value: Any, action: str) -> None:
    import copy
    import json

    from .strategies import MESSAGE

    event = copy.deepcopy(MESSAGE)
    body = {"action": action, "data": value} if action else value
    event["body"] = json.dumps(body)
    event["requestContext"]["routeKey"] = action or "$default"
    result = APP.dispatch(event, None)
    assert result["statusCode"] in (200, 400, 403)
