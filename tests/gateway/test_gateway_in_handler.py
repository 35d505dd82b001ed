"""Inside a handler run by WebSocketApp the functions know the event being handled: its
management endpoint and, with an authorizer, the verified user id."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gateway_seed import run_example
from gateway_server import ConnectionsServer

from conftest import Harness
from wsgate import config
from wsgate.events import ConnectEvent, MessageEvent
from wsgate.exceptions import ConfigurationError, ConnectionGoneError
from wsgate.gateway import (
    ws_get_connection,
    ws_send_message,
    ws_store_connection,
)
from wsgate.registry.base import ConnectionRegistry
from wsgate.router import WebSocketApp


@pytest.fixture
def bare(api: ConnectionsServer, registry: ConnectionRegistry) -> Harness:
    """Registry configured, endpoint NOT configured (no WSGATE_ENDPOINT either)."""
    config.configure(registry=registry)
    return Harness(api, registry)


def seed_app() -> WebSocketApp:
    """The seed's Pattern 1 and 2 handlers, mounted on a WebSocketApp."""
    connect = run_example("pattern1_connect")["lambda_handler"]
    message = run_example("pattern2_message")
    message["process_message"] = lambda body: {"echo": body}
    app = WebSocketApp()

    @app.connect
    def on_connect(event: ConnectEvent, context: Any) -> Any:
        return connect(dict(event.raw), context)

    @app.default
    def on_message(event: MessageEvent, context: Any) -> Any:
        return message["lambda_handler"](dict(event.raw), context)

    return app


def test_connect_stores_the_events_endpoint_and_connect_time(bare: Harness) -> None:
    event = bare.connect_event(query={"userId": "alice"})
    cid = event["requestContext"]["connectionId"]

    assert seed_app().dispatch(event, None)["statusCode"] == 200

    record = ws_get_connection(cid)
    assert record is not None
    assert record["endpoint"] == bare.api.endpoint  # http://127.0.0.1:PORT/test
    assert record["connectedAt"] == event["requestContext"]["connectedAt"] / 1000
    assert record["userId"] == "alice"


def test_send_inside_a_handler_needs_no_endpoint(bare: Harness) -> None:
    app = seed_app()
    event = bare.connect_event()
    cid = event["requestContext"]["connectionId"]
    app.dispatch(event, None)

    response = app.dispatch(bare.message_event(cid, json.dumps({"q": 1})), None)

    assert response["statusCode"] == 200
    assert bare.api.json_messages(cid) == [{"echo": {"q": 1}}]


def test_send_outside_a_handler_uses_the_stored_endpoint(bare: Harness) -> None:
    event = bare.connect_event()
    cid = event["requestContext"]["connectionId"]
    seed_app().dispatch(event, None)

    ws_send_message(cid, {"from": "a scheduled job"})  # no event, no configured endpoint

    assert bare.api.json_messages(cid) == [{"from": "a scheduled job"}]


def test_no_endpoint_anywhere_is_a_clear_error(bare: Harness) -> None:
    cid = bare.api.open("NowhereNowhere0=")
    ws_store_connection(cid)  # outside a handler: nothing to learn the endpoint from
    assert ws_get_connection(cid)["endpoint"] is None  # type: ignore[index]
    with pytest.raises(ConfigurationError, match="WSGATE_ENDPOINT"):
        ws_send_message(cid, "x")
    assert bare.api.calls("POST") == []


def test_unhandled_gone_inside_a_handler(bare: Harness) -> None:
    app = seed_app()
    event = bare.connect_event()
    cid = event["requestContext"]["connectionId"]
    app.dispatch(event, None)
    message = bare.message_event(cid, "{}")
    bare.api.drop(cid)

    # The seed's Pattern 2 does not catch: the invocation fails as a Lambda error (API
    # Gateway sends its fixed frame, no traceback) and the gone connection's record has been
    # pruned all the same.
    with pytest.raises(ConnectionGoneError):
        app.dispatch(message, None)
    assert ws_get_connection(cid) is None


def test_authorizer_identity_wins_over_the_query_string(bare: Harness) -> None:
    event = bare.connect_event(
        query={"userId": "mallory"},  # chosen by the client
        authorizer={"principalId": "user-123", "integrationLatency": 0},
    )
    cid = event["requestContext"]["connectionId"]

    seed_app().dispatch(event, None)

    assert ws_get_connection(cid)["userId"] == "user-123"  # type: ignore[index]


def test_without_authorizer_the_seeds_behaviour(bare: Harness) -> None:
    event = bare.connect_event(query={"userId": "mallory"})
    seed_app().dispatch(event, None)
    assert ws_get_connection(event["requestContext"]["connectionId"])["userId"] == "mallory"  # type: ignore[index]


def test_identity_applies_only_to_the_events_own_connection(bare: Harness) -> None:
    other = bare.api.open("OtherOtherOther=")
    app = WebSocketApp()

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        ws_store_connection(event.connection_id, user_id="ignored")
        ws_store_connection(other, user_id="bob")  # e.g. a bot connection registered here

    event = bare.connect_event(authorizer={"principalId": "alice"})
    app.dispatch(event, None)

    assert ws_get_connection(event["requestContext"]["connectionId"])["userId"] == "alice"  # type: ignore[index]
    assert ws_get_connection(other)["userId"] == "bob"  # type: ignore[index]


def test_the_apps_authorizer_user_id_key_names_the_user(bare: Harness) -> None:
    app = WebSocketApp()

    @app.authorizer(user_id_key="userId")
    def authorize(request: Any) -> Any:  # only its configuration matters here
        raise AssertionError("not called: the event already carries the authorizer's output")

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        ws_store_connection(event.connection_id, user_id=event.query_params.get("userId"))

    event = bare.connect_event(
        query={"userId": "mallory"},  # chosen by the client
        authorizer={"principalId": "svc-gateway", "userId": "user-42", "integrationLatency": 0},
    )
    assert app.dispatch(event, None)["statusCode"] == 200

    # The verified context key the app's authorizer names, not principalId, not the query.
    assert ws_get_connection(event["requestContext"]["connectionId"])["userId"] == "user-42"  # type: ignore[index]


def test_a_user_id_key_missing_from_the_context_refuses_the_callers_id(bare: Harness) -> None:
    app = WebSocketApp()
    app.authorizer(lambda request: None, user_id_key="userId")

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        ws_store_connection(event.connection_id, user_id="given")

    event = bare.connect_event(authorizer={"principalId": "svc-gateway"})
    # Fails closed: the handshake is refused (403) and nothing is stored.
    assert app.dispatch(event, None)["statusCode"] == 403
    assert ws_get_connection(event["requestContext"]["connectionId"]) is None


@pytest.mark.parametrize(
    "authorizer",
    [
        {},  # an authorizer ran (the key is there) but passed nothing on
        {"principalId": "", "integrationLatency": 0},
        {"principalId": None, "integrationLatency": 0},
        {"integrationLatency": 0, "role": "admin"},
    ],
)
def test_an_authorizer_without_a_user_id_never_stores_the_query_string(
    bare: Harness, authorizer: dict[str, Any]
) -> None:
    event = bare.connect_event(query={"userId": "mallory"}, authorizer=authorizer)
    cid = event["requestContext"]["connectionId"]

    response = seed_app().dispatch(event, None)

    record = ws_get_connection(cid)
    assert record is None or record["userId"] != "mallory"
    assert response["statusCode"] == 403 and record is None


def test_the_apps_authorizer_counts_even_when_the_event_lacks_its_output(bare: Harness) -> None:
    app = WebSocketApp()
    app.authorizer(lambda request: None)

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        ws_store_connection(event.connection_id, user_id=event.query_params.get("userId"))

    event = bare.connect_event(query={"userId": "mallory"})  # no requestContext.authorizer
    assert app.dispatch(event, None)["statusCode"] == 403
    assert ws_get_connection(event["requestContext"]["connectionId"]) is None


def test_unverified_identity_is_a_clear_wsgate_error(bare: Harness) -> None:
    from wsgate.exceptions import AccessDenied, UnverifiedIdentityError, WsgateError

    app = WebSocketApp()
    caught: list[BaseException] = []

    @app.connect
    def on_connect(event: ConnectEvent) -> None:
        try:
            ws_store_connection(event.connection_id, user_id="mallory")
        except WsgateError as exc:
            caught.append(exc)
        ws_store_connection(event.connection_id)  # no id claimed: stored without a user

    event = bare.connect_event(authorizer={"principalId": ""})
    assert app.dispatch(event, None)["statusCode"] == 200
    (error,) = caught
    assert isinstance(error, UnverifiedIdentityError) and isinstance(error, AccessDenied)
    assert error.connection_id == event["requestContext"]["connectionId"]
    assert "principalId" in str(error)
    record = ws_get_connection(event["requestContext"]["connectionId"])
    assert record is not None and record["userId"] is None


def test_update_of_the_own_user_id_follows_the_authorizer(bare: Harness) -> None:
    from wsgate.exceptions import UnverifiedIdentityError
    from wsgate.gateway import ws_update_connection

    app = WebSocketApp()
    outcomes: list[Any] = []

    @app.default
    def on_message(event: MessageEvent) -> None:
        claimed = json.loads(event.body)["user"]
        try:
            outcomes.append(ws_update_connection(event.connection_id, {"userId": claimed}))
        except UnverifiedIdentityError as exc:
            outcomes.append(exc)

    verified = bare.connect_event(authorizer={"principalId": "alice"})
    cid = verified["requestContext"]["connectionId"]
    ws_store_connection(cid, user_id="alice")
    message = bare.message_event(cid, json.dumps({"user": "mallory"}))
    message["requestContext"]["authorizer"] = {"principalId": "alice"}
    app.dispatch(message, None)
    assert outcomes.pop()["userId"] == "alice"

    message["requestContext"]["authorizer"] = {"principalId": ""}
    app.dispatch(message, None)
    assert isinstance(outcomes.pop(), UnverifiedIdentityError)
    assert ws_get_connection(cid)["userId"] == "alice"  # type: ignore[index]
