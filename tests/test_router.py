"""wsgate.router: registration, dispatch of every golden event, middleware, errors."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgate import (
    ConnectEvent,
    ConnectRejected,
    DisconnectEvent,
    DuplicateRouteError,
    InvalidRouteError,
    LambdaContext,
    MessageEvent,
    Response,
    Router,
    WebSocketApp,
    WebSocketEvent,
    accept,
    current_context,
    current_event,
    reject,
)
from wsgate.exceptions import AccessDenied, ConfigurationError, Unauthorized
from wsgate.router import CallNext

EVENTS = Path(__file__).parent / "events"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def recording_app(**kwargs: Any) -> tuple[WebSocketApp, list[tuple[str, WebSocketEvent]]]:
    """An app whose handlers record (handler name, event)."""
    app = WebSocketApp(**kwargs)
    calls: list[tuple[str, WebSocketEvent]] = []

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        calls.append(("connect", event))

    @app.disconnect
    def on_disconnect(event: DisconnectEvent) -> None:
        calls.append(("disconnect", event))

    @app.default
    def on_default(event: MessageEvent) -> None:
        calls.append(("default", event))

    @app.route("sendmessage")
    def on_send(event: MessageEvent) -> None:
        calls.append(("sendmessage", event))

    @app.route("join")
    def on_join(event: MessageEvent) -> None:
        calls.append(("join", event))

    return app, calls


@pytest.mark.parametrize(
    ("name", "handler", "cls"),
    [
        ("connect_query.json", "connect", ConnectEvent),
        ("connect_no_query.json", "connect", ConnectEvent),
        ("connect_authorizer.json", "connect", ConnectEvent),
        ("message_default.json", "default", MessageEvent),
        ("message_custom.json", "sendmessage", MessageEvent),
        ("message_authorizer.json", "sendmessage", MessageEvent),
        ("message_2020_identity.json", "join", MessageEvent),  # $default, body selects join
        ("disconnect_1000.json", "disconnect", DisconnectEvent),
        ("disconnect_1001.json", "disconnect", DisconnectEvent),
        ("disconnect_1005.json", "disconnect", DisconnectEvent),
    ],
)
def test_every_golden_event_reaches_its_handler(name: str, handler: str, cls: type) -> None:
    app, calls = recording_app()
    raw = load(name)
    assert app(raw, LambdaContext()) == {"statusCode": 200}
    assert [c[0] for c in calls] == [handler]
    event = calls[0][1]
    assert type(event) is cls
    assert event.raw is raw


def test_registration_exposes_route_keys() -> None:
    app = WebSocketApp("${request.body.service}/${request.body.action}", name="chat")
    app.connect(lambda e: None)
    app.route("chat/send", two_way=True)(lambda e: None)
    app.default(two_way=True)(lambda e: None)
    assert app.route_keys == ("$connect", "chat/send", "$default")
    assert app.two_way_route_keys == ("chat/send", "$default")
    assert app.route_selection_expression == "${request.body.service}/${request.body.action}"
    assert app.name == "chat"
    assert set(app.routes) == set(app.route_keys)


def test_duplicate_route_raises_at_registration() -> None:
    app = WebSocketApp()

    @app.route("join")
    def first(event: MessageEvent) -> None: ...

    with pytest.raises(DuplicateRouteError) as info:

        @app.route("join")
        def second(event: MessageEvent) -> None: ...

    assert info.value.route_key == "join"
    with pytest.raises(DuplicateRouteError):
        app.connect(first)
        app.connect(first)


@pytest.mark.parametrize("key", ["$custom", ""])
def test_invalid_custom_route_key(key: str) -> None:
    with pytest.raises(InvalidRouteError):
        WebSocketApp().route(key)


def test_invalid_selection_expression() -> None:
    with pytest.raises(InvalidRouteError):
        WebSocketApp("$request.header.x")


def test_connect_cannot_be_two_way() -> None:
    with pytest.raises(InvalidRouteError):
        WebSocketApp().add_route("$connect", lambda e: None, two_way=True)


def test_async_generators_are_refused_at_registration() -> None:
    async def handler(event: MessageEvent) -> Any:
        yield None

    with pytest.raises(TypeError, match="async generator"):
        WebSocketApp().route("x")(handler)
    with pytest.raises(TypeError, match="async generator"):
        WebSocketApp().add_middleware(handler)


# --- handler signatures and return values --------------------------------------------------------


def test_context_passed_only_to_handlers_that_take_it() -> None:
    app = WebSocketApp()
    seen: list[Any] = []

    @app.route("sendmessage")
    def two(event: MessageEvent, context: Any) -> None:
        seen.append(context)

    @app.default
    def one(event: MessageEvent) -> None:
        seen.append("one")

    ctx = LambdaContext(aws_request_id="req-1")
    app(load("message_custom.json"), ctx)
    app(load("message_default.json"), ctx)
    assert seen == [ctx, "one"]


def test_partial_and_bound_method_handlers() -> None:
    class Handlers:
        def __init__(self) -> None:
            self.seen: list[str] = []

        def on_message(self, event: MessageEvent) -> str:
            self.seen.append(event.body)
            return "bound"

    handlers = Handlers()
    app = WebSocketApp(route_locally=False)
    app.route("sendmessage")(handlers.on_message)

    def tagged(tag: str, event: MessageEvent, context: Any) -> str:
        return f"{tag}:{context.function_name}"

    app.default(functools.partial(tagged, "p"))
    assert app(load("message_custom.json"))["body"] == "bound"
    assert app(load("message_default.json"), LambdaContext("fn"))["body"] == "p:fn"
    assert handlers.seen == ['{"action":"sendmessage","data":"hi"}']


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, {"statusCode": 200}),
        ("pong", {"statusCode": 200, "body": "pong"}),
        ({"type": "pong"}, {"statusCode": 200, "body": '{"type":"pong"}'}),
        ({"statusCode": 418, "body": "tea"}, {"statusCode": 418, "body": "tea"}),
        (Response(201, "made"), {"statusCode": 201, "body": "made"}),
    ],
)
def test_return_values_are_normalised(value: Any, expected: dict[str, Any]) -> None:
    app = WebSocketApp()
    app.route("sendmessage")(lambda e: value)
    assert app(load("message_custom.json")) == expected


# --- $connect -------------------------------------------------------------------------------------


def test_connect_rejects_with_a_response() -> None:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: ConnectEvent) -> Response | None:
        return None if "token" in event.query_params else reject(401)

    assert app(load("connect_query.json")) == {"statusCode": 200}
    assert app(load("connect_no_query.json")) == {"statusCode": 401}


def test_connect_rejects_by_raising() -> None:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        raise ConnectRejected(403, "banned")

    out = app(load("connect_query.json"))
    assert out["statusCode"] == 403
    assert json.loads(out["body"]) == {"message": "banned"}


def test_connect_picks_a_subprotocol() -> None:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: ConnectEvent) -> Response:
        chosen = next(p for p in event.subprotocols if p in {"chat.v1"})
        return accept(subprotocol=chosen)

    out = app(load("connect_no_query.json"))
    assert out == {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat.v1"}}


def test_missing_connect_and_disconnect_handlers_accept() -> None:
    app = WebSocketApp()
    assert app(load("connect_query.json")) == {"statusCode": 200}
    assert app(load("disconnect_1001.json")) == {"statusCode": 200}


@pytest.mark.parametrize(
    ("exc", "status"), [(Unauthorized("no token"), 401), (AccessDenied(), 403)]
)
def test_auth_errors_become_their_status(exc: Exception, status: int) -> None:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        raise exc

    assert app(load("connect_query.json"))["statusCode"] == status


# --- errors ---------------------------------------------------------------------------------------


def test_unhandled_exception_propagates_like_a_lambda_error_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = WebSocketApp()

    @app.route("sendmessage")
    def boom(event: MessageEvent) -> None:
        raise RuntimeError("secret database password in message")

    with caplog.at_level(logging.ERROR, logger="wsgate"), pytest.raises(RuntimeError) as info:
        app(load("message_custom.json"), LambdaContext(aws_request_id="lambda-req-9"))
    assert str(info.value) == "secret database password in message"
    [record] = [r for r in caplog.records if r.name == "wsgate"]
    message = record.getMessage()
    assert "R1knPH17NjMFftw=" in message  # request id
    assert "R1kmxc2VNjMCFIA=" in message  # connection id
    assert "sendmessage" in message and "lambda-req-9" in message
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


@pytest.mark.parametrize("name", ["connect_query.json", "disconnect_1000.json"])
def test_connect_and_disconnect_crashes_propagate_too(name: str) -> None:
    app = WebSocketApp()

    def crash(event: WebSocketEvent) -> None:
        raise KeyError("missing")

    app.connect(crash)
    app.disconnect(crash)
    with pytest.raises(KeyError):
        app(load(name))


def test_a_crash_is_counted_as_a_handler_error_before_it_propagates() -> None:
    import io

    from wsgate.observe.metrics import EMFSink, Metrics, set_metrics

    stream = io.StringIO()
    set_metrics(Metrics(sink=EMFSink("wsgate-test", stream=stream), enabled=True))
    try:
        app = WebSocketApp()
        app.route("sendmessage")(lambda e: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            app(load("message_custom.json"))
    finally:
        set_metrics(None)
    documents = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [d.get("HandlerErrors") for d in documents] == [1]


class _AppError(Exception):
    pass


class _NotFound(_AppError):
    pass


def test_exception_handlers_turn_exceptions_into_responses_most_specific_wins() -> None:
    app = WebSocketApp()
    seen: list[tuple[str, str]] = []

    @app.exception_handler(_AppError)
    def app_error(event: WebSocketEvent, exc: _AppError) -> Response:
        seen.append(("app", type(exc).__name__))
        return Response(409, '{"message": "conflict"}')

    @app.exception_handler(_NotFound)
    def not_found(event: WebSocketEvent, exc: _NotFound) -> dict[str, Any]:
        seen.append(("not_found", event.connection_id))
        return {"statusCode": 404, "body": "nope"}

    @app.exception_handler(Exception)
    def anything(event: WebSocketEvent, exc: Exception) -> Any:
        return reject(503)

    errors: dict[str, Exception] = {"a": _AppError(), "n": _NotFound(), "v": ValueError()}

    @app.route("sendmessage")
    def send(event: MessageEvent) -> None:
        raise errors[event.json["which"]]

    def message(which: str) -> dict[str, Any]:
        raw = load("message_custom.json")
        raw["body"] = json.dumps({"action": "sendmessage", "which": which})
        return raw

    assert app(message("a")) == {"statusCode": 409, "body": '{"message": "conflict"}'}
    assert app(message("n")) == {"statusCode": 404, "body": "nope"}
    assert app(message("v"))["statusCode"] == 503
    assert seen == [("app", "_AppError"), ("not_found", "R1kmxc2VNjMCFIA=")]


def test_exception_handlers_leave_wsgates_flow_control_alone() -> None:
    app = WebSocketApp()
    app.add_exception_handler(Exception, lambda event, exc: Response(299))

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        raise ConnectRejected(401)

    assert app(load("connect_query.json")) == {"statusCode": 401}


def test_a_failing_exception_handler_propagates() -> None:
    app = WebSocketApp()

    @app.exception_handler(ValueError)
    def broken(event: WebSocketEvent, exc: ValueError) -> None:
        raise RuntimeError("handler of the handler failed") from exc

    app.route("sendmessage")(lambda e: int("x"))
    with pytest.raises(RuntimeError):
        app(load("message_custom.json"))


def test_exception_handler_registration_is_checked() -> None:
    app = WebSocketApp()
    with pytest.raises(TypeError):
        app.add_exception_handler("ValueError", lambda e, x: None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        app.add_exception_handler(ValueError, None)  # type: ignore[arg-type]
    app.add_exception_handler(ValueError, lambda e, x: None)
    with pytest.raises(ConfigurationError, match="already"):
        app.add_exception_handler(ValueError, lambda e, x: None)


@pytest.mark.parametrize(
    "raw",
    [{}, {"requestContext": {"eventType": "MESSAGE"}}, {"requestContext": []}, [], "text", None],
)
def test_malformed_event_is_a_clean_400(raw: Any, caplog: pytest.LogCaptureFixture) -> None:
    app, calls = recording_app()
    with caplog.at_level(logging.WARNING, logger="wsgate"):
        out = app(raw, None)
    assert out == {"statusCode": 400, "body": '{"message": "Bad request"}'}
    assert calls == []
    assert any("malformed" in r.getMessage() for r in caplog.records)


def test_bad_json_body_in_handler_is_a_400() -> None:
    app = WebSocketApp(route_locally=False)

    @app.default
    def on_default(event: MessageEvent) -> Any:
        return event.json

    out = app(load("message_default.json"))
    assert out == {"statusCode": 400, "body": '{"message": "Bad request body"}'}


def test_unserialisable_return_value_is_a_lambda_error() -> None:
    app = WebSocketApp()
    app.route("sendmessage")(lambda e: object())
    with pytest.raises(TypeError, match="not a Response"):
        app(load("message_custom.json"))


def test_message_with_no_route_and_no_default_is_forbidden() -> None:
    app = WebSocketApp()
    app.route("join")(lambda e: "joined")
    out = app(load("message_custom.json"))
    assert out == {"statusCode": 403, "body": '{"message": "Forbidden"}'}


def test_unknown_route_key_falls_back_to_default() -> None:
    app, calls = recording_app()
    raw = load("message_custom.json")
    raw["requestContext"]["routeKey"] = "deployedButNotHere"
    app(raw)
    assert [c[0] for c in calls] == ["default"]


# --- local routing for single-route ($default-only) deployments -------------------------------


def test_default_message_is_routed_locally_by_body() -> None:
    app, calls = recording_app()
    raw = load("message_default.json")
    raw["body"] = json.dumps({"action": "join", "room": "a"})
    app(raw)
    assert [c[0] for c in calls] == ["join"]


def test_local_routing_keeps_default_for_unmatched_or_non_json() -> None:
    app, calls = recording_app()
    raw = load("message_default.json")
    app(raw)  # not JSON
    raw["body"] = json.dumps({"action": "nope"})
    app(raw)
    assert [c[0] for c in calls] == ["default", "default"]


def test_local_routing_can_be_turned_off() -> None:
    app, calls = recording_app(route_locally=False)
    app(load("message_2020_identity.json"))  # body says join, routeKey is $default
    assert [c[0] for c in calls] == ["default"]


def test_local_routing_uses_the_apps_expression() -> None:
    app = WebSocketApp("${request.body.service}/${request.body.action}")
    app.route("chat/join")(lambda e: "ok")
    raw = load("message_default.json")
    raw["body"] = json.dumps({"service": "chat", "action": "join"})
    assert app(raw)["body"] == "ok"


# --- middleware and sub-routers -------------------------------------------------------------------


def test_middleware_wraps_in_order_and_sees_the_response() -> None:
    app = WebSocketApp()
    trail: list[str] = []

    @app.middleware
    def outer(event: WebSocketEvent, call_next: CallNext) -> Response:
        trail.append("outer-before")
        response = call_next(event)
        trail.append(f"outer-after:{response.status_code}")
        response.headers["X-Outer"] = "1"
        return response

    @app.middleware
    def inner(event: WebSocketEvent, call_next: CallNext) -> Response:
        trail.append("inner-before")
        response = call_next(event)
        trail.append("inner-after")
        return response

    @app.route("sendmessage")
    def handler(event: MessageEvent) -> str:
        trail.append("handler")
        return "hi"

    out = app(load("message_custom.json"))
    assert out == {"statusCode": 200, "body": "hi", "headers": {"X-Outer": "1"}}
    assert trail == ["outer-before", "inner-before", "handler", "inner-after", "outer-after:200"]


def test_middleware_can_answer_early_and_sees_errors() -> None:
    app = WebSocketApp()
    seen: list[str] = []

    @app.middleware
    def guard(event: WebSocketEvent, call_next: CallNext) -> Any:
        if isinstance(event, ConnectEvent) and "token" not in event.query_params:
            return reject(401)
        try:
            return call_next(event)
        except RuntimeError as exc:
            seen.append(str(exc))
            raise

    app.connect(lambda e: None)

    @app.route("sendmessage")
    def boom(event: MessageEvent) -> None:
        raise RuntimeError("bad")

    assert app(load("connect_no_query.json")) == {"statusCode": 401}
    assert app(load("connect_query.json")) == {"statusCode": 200}
    with pytest.raises(RuntimeError):
        app(load("message_custom.json"))
    assert seen == ["bad"]


def test_middleware_runs_around_missing_connect_handler() -> None:
    app = WebSocketApp()
    app.middleware(lambda event, call_next: reject(403))
    assert app(load("connect_query.json")) == {"statusCode": 403}


def test_include_router_with_prefix_and_router_middleware() -> None:
    chat = Router()
    trail: list[str] = []

    @chat.middleware
    def tag(event: WebSocketEvent, call_next: CallNext) -> Response:
        trail.append(f"chat-mw:{event.route_key}")
        return call_next(event)

    @chat.route("join", two_way=True)
    def join(event: MessageEvent) -> str:
        return "joined"

    @chat.disconnect
    def bye(event: DisconnectEvent) -> None:
        trail.append("bye")

    app = WebSocketApp("${request.body.service}/${request.body.action}")
    app.route("ping")(lambda e: "pong")
    app.include_router(chat, prefix="chat/")
    assert app.route_keys == ("ping", "chat/join", "$disconnect")
    assert app.two_way_route_keys == ("chat/join",)

    raw = load("message_default.json")
    raw["body"] = json.dumps({"service": "chat", "action": "join"})
    assert app(raw)["body"] == "joined"
    raw["requestContext"]["routeKey"] = "ping"
    assert app(raw)["body"] == "pong"  # app route: no chat middleware
    app(load("disconnect_1000.json"))
    assert trail == ["chat-mw:$default", "chat-mw:$disconnect", "bye"]


def test_include_router_duplicate_and_invalid_prefix() -> None:
    router = Router()
    router.route("join")(lambda e: None)
    app = WebSocketApp()
    app.route("join")(lambda e: None)
    with pytest.raises(DuplicateRouteError):
        app.include_router(router)
    with pytest.raises(InvalidRouteError):
        WebSocketApp().include_router(router, prefix="$x")
    with pytest.raises(ValueError, match="itself"):
        router.include_router(router)


def test_middleware_added_after_dispatch_takes_effect() -> None:
    app = WebSocketApp()
    app.route("sendmessage")(lambda e: "hi")
    assert app(load("message_custom.json")) == {"statusCode": 200, "body": "hi"}
    app.middleware(lambda event, call_next: "intercepted")
    assert app(load("message_custom.json")) == {"statusCode": 200, "body": "intercepted"}


# --- context --------------------------------------------------------------------------------------


def test_current_event_and_context_are_set_during_the_call_only() -> None:
    app = WebSocketApp()
    seen: list[Any] = []

    @app.route("sendmessage")
    def handler(event: MessageEvent) -> None:
        seen.append((current_event(), current_context()))
        raise RuntimeError("reset even on error")

    ctx = LambdaContext()
    with pytest.raises(RuntimeError):
        app(load("message_custom.json"), ctx)
    assert seen[0][0].connection_id == "R1kmxc2VNjMCFIA="
    assert seen[0][1] is ctx
    assert current_event() is None and current_context() is None


def test_lambda_context_attributes() -> None:
    ctx = LambdaContext("chat", memory_limit_in_mb=256, timeout=5.0, region="eu-west-1")
    assert ctx.function_name == "chat"
    assert ctx.invoked_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:chat"
    assert ctx.log_group_name == "/aws/lambda/chat"
    assert "[$LATEST]" in ctx.log_stream_name
    assert len(ctx.aws_request_id) == 36 and ctx.aws_request_id[14] == "4"
    assert ctx.aws_request_id != LambdaContext().aws_request_id
    assert 0 < ctx.get_remaining_time_in_millis() <= 5000
    assert LambdaContext(timeout=-1).get_remaining_time_in_millis() == 0


def test_lambda_context_from_wall_clock_deadline() -> None:
    import time

    ctx = LambdaContext(deadline=time.time() + 2.0)
    assert 0 < ctx.get_remaining_time_in_millis() <= 2000


def test_authorizer_extension_point() -> None:
    app = WebSocketApp()
    app._authorizer = lambda raw, context: {"principalId": "u", "policyDocument": {}}
    event = {"type": "REQUEST", "methodArn": "arn:aws:execute-api:r:1:a/s/$connect"}
    assert app(event)["principalId"] == "u"


@pytest.mark.parametrize("status", [200, 42, 700])
def test_connect_rejected_with_a_non_error_status_is_a_500(status: int) -> None:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        raise ConnectRejected(status)

    assert app(load("connect_query.json"))["statusCode"] == 500


_garbage = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from(sorted(p.name for p in EVENTS.glob("*.json"))),
    ctx_patch=st.dictionaries(
        st.sampled_from(["eventType", "routeKey", "connectionId", "requestId", "authorizer"]),
        _garbage | st.just("reads"),
        max_size=3,
    ),
    body=_garbage | st.just('{"action": "reads"}'),
)
def test_dispatch_never_raises_on_garbage(name: str, ctx_patch: dict[str, Any], body: Any) -> None:
    app, _ = recording_app()
    app.route("reads")(lambda e: [(e.json, e.authorizer, e.headers, e.body), None][1])
    raw = load(name)
    raw["requestContext"].update(ctx_patch)
    raw["body"] = body
    out = app(raw, LambdaContext())
    assert isinstance(out["statusCode"], int) and 200 <= out["statusCode"] <= 599
