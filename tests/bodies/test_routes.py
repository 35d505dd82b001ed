"""Typed routes end to end through ``dispatch`` (the in-process test client): the handler gets
the typed value, an invalid body never reaches it, the client gets one bounded frame, the
failure is logged and counted; middleware, sub-routers, two-way replies, acked delivery and
``$connect`` query models."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from wsgate import MessageEvent, Router, WebSocketApp
from wsgate.bodies import FRAME_TYPE
from wsgate.delivery import Delivery, MemoryDeliveryStore, enable
from wsgate.exceptions import HandshakeRejected, ReceiveTimeout
from wsgate.observe.metrics import Metrics, set_metrics
from wsgate.routes import CallNext
from wsgate.testing import WebSocketTestClient

from . import models as m


class Sink:
    """A recording metric sink."""

    def __init__(self) -> None:
        self.points: list[tuple[str, float, dict[str, str]]] = []

    def add(self, name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
        self.points.append((name, value, dict(dimensions)))

    def flush(self) -> None:
        pass

    def count(self, name: str) -> float:
        return sum(v for n, v, _ in self.points if n == name)


@pytest.fixture
def sink() -> Iterator[Sink]:
    recorded = Sink()
    set_metrics(Metrics(sink=recorded, enabled=True))
    yield recorded
    set_metrics(None)


def nothing_more(ws: Any) -> None:
    with pytest.raises(ReceiveTimeout):
        ws.receive_text(timeout=0.2)


def make_app() -> tuple[WebSocketApp, list[Any]]:
    app = WebSocketApp()
    calls: list[Any] = []

    @app.route("shape")
    def shape(event: MessageEvent, body: m.Shape) -> None:
        calls.append(body)

    @app.route("person", two_way=True)
    def person(event: MessageEvent, context: Any, body: m.Person) -> m.Reply:
        calls.append((context is not None, body))
        return m.Reply(echoed=body.name, length=len(body.name))

    @app.route("note", body=m.Note, two_way=True)
    def note(event: MessageEvent, body: Any) -> m.DataReply:
        calls.append(body)
        return m.DataReply(echoed=body["text"], point=m.Point(1, 2))

    return app, calls


def test_the_handler_gets_typed_values_and_two_way_routes_return_models() -> None:
    app, calls = make_app()
    with WebSocketTestClient(app) as client, client.connect() as ws:
        ws.send_json({"action": "shape", "name": "s", "points": [{"x": 1, "y": 2}]})
        ws.send_json({"action": "person", "name": "ada", "age": 36})
        assert ws.receive_json() == {"echoed": "ada", "length": 3}
        ws.send_json({"action": "note", "text": "hi", "ids": [1]})
        assert ws.receive_json() == {"echoed": "hi", "point": {"x": 1, "y": 2}}
        nothing_more(ws)
    assert calls == [
        m.Shape(name="s", points=[m.Point(1, 2)]),
        (True, m.Person(name="ada", age=36)),
        {"text": "hi", "ids": [1]},
    ]


def test_an_invalid_body_is_one_frame_and_the_handler_does_not_run(
    sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    app, calls = make_app()
    caplog.set_level(logging.WARNING, logger="wsgate")
    with WebSocketTestClient(app) as client, client.connect() as ws:
        ws.send_json({"action": "shape", "name": 1, "points": "none"})
        frame = ws.receive_json()
        nothing_more(ws)
        ws.send_json({"action": "person", "name": "x"})  # two-way: the frame is the reply
        reply = ws.receive_json()
        nothing_more(ws)
    assert calls == []
    assert frame["type"] == FRAME_TYPE and frame["route"] == "shape"
    assert frame["errors"] == [
        {"path": "name", "message": "expected a string, got an integer"},
        {"path": "points", "message": "expected an array, got a string"},
    ]
    assert frame["total"] == 2 and frame["message"] == "invalid message body"
    assert reply["type"] == FRAME_TYPE and reply["errors"] == [
        {"path": "age", "message": "Field required"}
    ]
    assert sink.count("InvalidBodies") == 2
    assert sink.count("HandlerErrors") == 0 and sink.count("MessagesIn") == 2
    logged = [r.getMessage() for r in caplog.records if "invalid body" in r.getMessage()]
    assert len(logged) == 2 and "route 'shape'" in logged[0]


def test_a_body_that_is_not_a_json_object_or_not_json_is_refused() -> None:
    app = WebSocketApp("$request.body.action")
    ran: list[Any] = []

    @app.default
    def fallback(event: MessageEvent, body: m.Point) -> None:
        ran.append(body)

    with WebSocketTestClient(app) as client, client.connect() as ws:
        ws.send_text("not json at all")
        assert ws.receive_json()["errors"] == [{"path": "", "message": "not valid JSON"}]
        ws.send_text("[1, 2]")
        assert ws.receive_json()["errors"] == [
            {"path": "", "message": "expected an object, got an array"}
        ]
        ws.send_text('{"x": 1, "y": 2}')
        nothing_more(ws)
    assert ran == [m.Point(1, 2)]


def test_a_huge_or_deeply_nested_body_gets_a_bounded_frame() -> None:
    app, calls = make_app()
    with WebSocketTestClient(app) as client, client.connect() as ws:
        points = [{"x": "a" * 50, "y": None}] * 400  # under API Gateway's 32 KB frame
        ws.send_json({"action": "shape", "name": "n", "points": points})
        big = ws.receive_text()
        deep: Any = 1
        for _ in range(300):
            deep = {"value": 0, "children": [deep]}
        ws.send_json({"action": "shape", "name": "n", "points": [], "extra": deep})
        nested = ws.receive_json()
        ws.send_json({"action": "shape", "name": "n" * 30_000, "points": 1})
        long_name = ws.receive_json()
    assert len(big) < 5000
    frame = json.loads(big)
    assert len(frame["errors"]) == 10 and frame["total"] == 50  # validation stopped early
    assert nested["errors"] == [
        {"path": "extra.children", "message": "expected an integer, got an array"}
    ]
    assert long_name["errors"] == [
        {"path": "points", "message": "expected an array, got an integer"}
    ]
    assert calls == []


def test_error_paths_and_messages_are_cut_to_a_bounded_size() -> None:
    app = WebSocketApp()

    @app.route("strict")
    def strict(event: MessageEvent, body: m.Strict) -> None:
        raise AssertionError("not reached")

    with WebSocketTestClient(app) as client, client.connect() as ws:
        document = {"action": "strict", "text": "t"}
        document.update({f"k{i}-" + "x" * 1000: i for i in range(20)})
        ws.send_json(document)
        frame = ws.receive_text()
    parsed = json.loads(frame)
    assert len(frame) < 5000 and len(parsed["errors"]) == 10 and parsed["total"] == 20
    assert all(len(e["path"]) <= 200 and e["path"].endswith("...") for e in parsed["errors"])


def test_middleware_and_sub_routers_see_typed_routes() -> None:
    app = WebSocketApp()
    chat = Router(name="chat")
    seen: list[str] = []
    got: list[Any] = []

    @chat.middleware
    def router_mw(event: MessageEvent, call_next: CallNext) -> Any:
        seen.append("router")
        return call_next(event)

    @chat.route("say", two_way=True)
    def say(event: MessageEvent, body: m.Person) -> m.Reply:
        got.append(body)
        return m.Reply(echoed=body.name, length=body.age)

    @app.middleware
    def app_mw(event: MessageEvent, call_next: CallNext) -> Any:
        seen.append("app")
        response = call_next(event)
        seen.append(f"status {response.status_code}")
        return response

    app.include_router(chat, prefix="chat/")
    with WebSocketTestClient(app) as client, client.connect() as ws:
        ws.send_json({"action": "chat/say", "name": "bo", "age": 3})
        assert ws.receive_json() == {"echoed": "bo", "length": 3}
        ws.send_json({"action": "chat/say", "name": "bo"})
        frame = ws.receive_json()
    assert frame["route"] == "chat/say" and frame["errors"][0]["path"] == "age"
    assert got == [m.Person(name="bo", age=3)]
    # The refusal passes through middleware as BodyValidationError (as other bad bodies do).
    assert seen == ["app", "router", "status 200", "app", "router"]
    assert app.routes["chat/say"].body is not None


def test_routing_fields_are_left_out_unless_the_model_declares_them() -> None:
    app = WebSocketApp("${request.body.service}/${request.body.action}")
    got: list[Any] = []

    @app.route("notes/add")
    def add(event: MessageEvent, body: m.StrictNote) -> None:
        got.append(body)

    with WebSocketTestClient(app) as client, client.connect() as ws:
        ws.send_json({"service": "notes", "action": "add", "text": "t"})
        ws.send_json({"service": "notes", "action": "add", "text": "t", "other": 1})
        frame = ws.receive_json()
    assert got == [{"text": "t"}]
    assert frame["errors"] == [{"path": "other", "message": "unexpected field"}]


def test_an_acked_invalid_body_is_answered_rejected_and_the_handler_does_not_run(
    sink: Sink,
) -> None:
    app, calls = make_app()
    enable(app, Delivery(MemoryDeliveryStore()), pump_on_message=False)
    with WebSocketTestClient(app) as client, client.connect() as ws:
        ws.send_json({"action": "shape", "name": 3, "points": [], "ackId": "a-1"})
        ack = ws.receive_json()
        nothing_more(ws)
        ws.send_json({"action": "shape", "name": "ok", "points": [], "ackId": "a-2"})
        accepted = ws.receive_json()
        ws.send_json({"action": "shape", "name": 3, "points": []})  # no ackId: the frame
        frame = ws.receive_json()
    assert ack == {
        "type": "wsgate.ack",
        "ackId": "a-1",
        "status": "rejected",
        "reason": "invalid body: name: expected a string, got an integer",
    }
    assert accepted == {"type": "wsgate.ack", "ackId": "a-2", "status": "accepted"}
    assert frame["type"] == FRAME_TYPE
    assert calls == [m.Shape(name="ok", points=[])]
    assert sink.count("InvalidBodies") == 2


def test_connect_query_and_headers_models_are_validated_and_passed() -> None:
    app = WebSocketApp()
    got: list[Any] = []

    @app.connect(query=m.Meta, headers=m.StrictNote)
    def on_connect(event: Any, query: m.Meta) -> None:
        got.append(query)

    with WebSocketTestClient(app) as client:
        with client.connect("/?source=web", headers={"Text": "hello"}):
            pass
        with pytest.raises(HandshakeRejected) as info:
            client.connect("/?source=web")  # the required header is missing
        assert info.value.status_code == 400
        with pytest.raises(HandshakeRejected):
            client.connect("/?priority=1", headers={"Text": "x"})  # query values are strings
    assert got == [{"source": "web"}]
    binding = app.routes["$connect"].body
    assert binding.model("query") is m.Meta and binding.model("headers") is m.StrictNote


def test_registration_mistakes_fail_at_import_time() -> None:
    app = WebSocketApp()
    with pytest.raises(TypeError, match="no parameter for the body"):

        @app.route("a", body=m.Point)
        def a(event: Any) -> None: ...

    with pytest.raises(TypeError, match="not a Pydantic model, a dataclass or a TypedDict"):

        @app.route("b", body=int)
        def b(event: Any, body: Any) -> None: ...

    with pytest.raises(TypeError, match="more than one parameter"):

        @app.route("c")
        def c(event: Any, one: m.Point, two: m.Point) -> None: ...

    with pytest.raises(TypeError, match="cannot resolve the annotation"):

        @app.route("d")
        def d(event: Any, body: NotDefinedAnywhere) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    assert app.route_keys == ()


def test_the_handler_parameter_order_is_checked() -> None:
    app = WebSocketApp()
    with pytest.raises(TypeError, match="after the context parameter"):

        @app.route("e")
        def e(event: Any, body: m.Point, context: Any) -> None: ...

    got: list[Any] = []

    @app.route("f")
    def f(event: Any, *, body: m.Point) -> None:  # keyword-only works too
        got.append(body)

    with WebSocketTestClient(app) as client, client.connect() as ws:
        ws.send_json({"action": "f", "x": 1, "y": 2})
        nothing_more(ws)
    assert got == [m.Point(1, 2)] and app.routes["f"].takes_context is False


def test_a_model_that_keeps_extra_fields_does_not_keep_the_routing_keys() -> None:
    app = WebSocketApp()
    got: list[Any] = []

    @app.route("loose")
    def loose(event: Any, body: m.Loose) -> None:
        got.append(body.model_dump())

    with WebSocketTestClient(app) as client, client.connect() as ws:
        ws.send_json({"action": "loose", "text": "t", "mood": "ok", "ackId": "x-1"})
        nothing_more(ws)
    assert got == [{"text": "t", "mood": "ok"}]


def test_async_handlers_get_typed_bodies_and_return_models() -> None:
    app = WebSocketApp()
    calls: list[Any] = []

    @app.route("shape")
    async def shape(event: MessageEvent, body: m.Shape) -> None:
        calls.append(body)

    @app.route("person", two_way=True)
    async def person(event: MessageEvent, body: m.Person) -> m.Reply:
        calls.append(body)
        return m.Reply(echoed=body.name, length=len(body.name))

    with WebSocketTestClient(app) as client, client.connect() as ws:
        ws.send_json({"action": "shape", "name": "s", "points": [{"x": 1, "y": 2}]})
        ws.send_json({"action": "person", "name": "ada", "age": 36})
        assert ws.receive_json() == {"echoed": "ada", "length": 3}
        ws.send_json({"action": "person", "name": "x"})  # invalid: the handler never runs
        assert ws.receive_json()["type"] == FRAME_TYPE
        nothing_more(ws)
    assert calls == [m.Shape(name="s", points=[m.Point(1, 2)]), m.Person(name="ada", age=36)]
