"""The seed's rule examples, usage patterns and common use cases, run as the seed prints them
(only the import line changed) against a real registry and a real ``@connections`` server."""

from __future__ import annotations

import json
import logging
import time

import pytest
from gateway_seed import run_example

from conftest import Harness
from wsgate.gateway import (
    ws_get_all_connections,
    ws_get_connection,
    ws_join_room,
    ws_subscribe,
)

APP_LOGGER = "wsgate.app"


# --- rules ------------------------------------------------------------------------------------


def test_rule1_store_connection_on_connect(gw: Harness) -> None:
    handle_connect = run_example("rule1_store_connection")["handle_connect"]
    event = gw.connect_event(query={"userId": "alice"})
    cid = event["requestContext"]["connectionId"]
    before = int(time.time())

    assert handle_connect(event, None) == {"statusCode": 200}

    record = ws_get_connection(cid)
    assert record is not None
    assert record["connectionId"] == cid
    assert record["userId"] == "alice"
    assert record["metadata"] == {"clientVersion": "1.0"}
    assert before + 7200 <= record["expiresAt"] <= int(time.time()) + 7200
    assert record["connectedAt"] <= record["lastActivity"] + 1
    assert record["endpoint"] == gw.api.endpoint
    assert record["rooms"] == [] and record["topics"] == []


def test_rule1_without_query_string(gw: Harness) -> None:
    # API Gateway leaves queryStringParameters out when the URL has none
    # (docs/aws-behaviour.md §1.2).
    handle_connect = run_example("rule1_store_connection")["handle_connect"]
    event = gw.connect_event()
    assert "queryStringParameters" not in event
    handle_connect(event, None)
    record = ws_get_connection(event["requestContext"]["connectionId"])
    assert record is not None and record["userId"] is None


def test_rule2_clean_up_on_disconnect(gw: Harness) -> None:
    handle_disconnect = run_example("rule2_clean_up_on_disconnect")["handle_disconnect"]
    cid = gw.stored(user_id="alice")
    other = gw.stored(user_id="bob")
    ws_join_room(cid, "lobby")
    ws_join_room(other, "lobby")

    assert handle_disconnect(gw.disconnect_event(cid), None) == {"statusCode": 200}

    assert ws_get_connection(cid) is None
    assert gw.registry.room_members("lobby") == [gw.registry.get(other)]
    assert ws_get_connection(other) is not None


def test_rule3_ttl_is_stored_as_given(gw: Harness) -> None:
    handle_connect = run_example("rule3_ttl")["handle_connect"]
    event = gw.connect_event()
    before = int(time.time())
    handle_connect(event, None)
    record = ws_get_connection(event["requestContext"]["connectionId"])
    assert record is not None
    assert before + 7200 <= record["expiresAt"] <= int(time.time()) + 7200


def test_rule4_send_notification(gw: Harness) -> None:
    send_notification = run_example("rule4_post_to_connection")["send_notification"]
    cid = gw.stored()

    assert send_notification(cid, "build finished") is True

    assert gw.api.wait_messages(cid, 1) != []
    assert gw.api.json_messages(cid) == [{"type": "notification", "message": "build finished"}]


def test_rule4_stale_connection_is_cleaned_up(
    gw: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    send_notification = run_example("rule4_post_to_connection")["send_notification"]
    cid = gw.stored()
    gw.api.drop(cid)  # the client vanished without $disconnect

    with caplog.at_level(logging.ERROR, logger=APP_LOGGER):
        assert send_notification(cid, "hello?") is False

    assert ws_get_connection(cid) is None
    errors = [r for r in caplog.records if r.name == APP_LOGGER and r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "Failed to send message: connection gone (410)" in errors[0].getMessage()
    assert cid in errors[0].getMessage()


def test_rule5_broadcast_to_all(gw: Harness) -> None:
    broadcast_to_all = run_example("rule5_broadcast_efficiently")["broadcast_to_all"]
    live = [gw.stored() for _ in range(4)]
    stale = [gw.stored() for _ in range(2)]
    for cid in stale:
        gw.api.drop(cid)

    broadcast_to_all({"type": "announcement", "text": "maintenance at 22:00"})

    for cid in live:
        assert gw.api.json_messages(cid) == [
            {"type": "announcement", "text": "maintenance at 22:00"}
        ]
    remaining = {c["connectionId"] for c in ws_get_all_connections()}
    assert remaining == set(live)


# --- usage patterns ---------------------------------------------------------------------------


def test_pattern1_handle_connect(gw: Harness, caplog: pytest.LogCaptureFixture) -> None:
    lambda_handler = run_example("pattern1_connect")["lambda_handler"]
    event = gw.connect_event(query={"userId": "u-42"}, headers={"User-Agent": "Firefox/130"})
    cid = event["requestContext"]["connectionId"]

    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        assert lambda_handler(event, None) == {"statusCode": 200}

    record = ws_get_connection(cid)
    assert record is not None
    assert record["userId"] == "u-42"
    # The seed reads requestContext.sourceIp, which API Gateway puts under identity: None.
    assert record["metadata"] == {"connectedFrom": None, "userAgent": "Firefox/130"}
    messages = [r.getMessage() for r in caplog.records if r.name == APP_LOGGER]
    assert messages == [f"WebSocket connected: {cid}"]


def test_pattern2_handle_message(gw: Harness) -> None:
    namespace = run_example("pattern2_message")
    namespace["process_message"] = lambda body: {"echo": body["text"].upper()}
    cid = gw.stored()
    event = gw.message_event(cid, json.dumps({"action": "echo", "text": "hello"}))

    assert namespace["lambda_handler"](event, None) == {"statusCode": 200}

    assert gw.api.json_messages(cid) == [{"echo": "HELLO"}]


def test_pattern2_text_response(gw: Harness) -> None:
    namespace = run_example("pattern2_message")
    namespace["process_message"] = lambda body: f"got {body['n']}"
    cid = gw.stored()
    namespace["lambda_handler"](gw.message_event(cid, '{"n": 3}'), None)
    assert gw.api.messages(cid) == [b"got 3"]


def test_pattern3_handle_disconnect(gw: Harness, caplog: pytest.LogCaptureFixture) -> None:
    lambda_handler = run_example("pattern3_disconnect")["lambda_handler"]
    cid = gw.stored()
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        assert lambda_handler(gw.disconnect_event(cid), None) == {"statusCode": 200}
    assert ws_get_connection(cid) is None
    assert [r.getMessage() for r in caplog.records if r.name == APP_LOGGER] == [
        f"WebSocket disconnected: {cid}"
    ]


def test_pattern4_broadcast_notification(gw: Harness) -> None:
    send_system_notification = run_example("pattern4_broadcast")["send_system_notification"]
    ids = [gw.stored() for _ in range(5)]
    before = int(time.time())

    send_system_notification("deploy done")

    for cid in ids:
        [message] = gw.api.json_messages(cid)
        assert isinstance(message, dict)
        assert message["type"] == "system_notification"
        assert message["message"] == "deploy done"
        assert before <= message["timestamp"] <= int(time.time())


def test_pattern4_no_connections(gw: Harness, caplog: pytest.LogCaptureFixture) -> None:
    send_system_notification = run_example("pattern4_broadcast")["send_system_notification"]
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        send_system_notification("anyone?")
    assert [r.getMessage() for r in caplog.records if r.name == APP_LOGGER] == [
        "No active connections"
    ]
    assert gw.api.calls("POST") == []


def test_pattern5_send_to_user(gw: Harness) -> None:
    notify_user = run_example("pattern5_send_to_user")["notify_user"]
    phone, laptop = gw.stored(user_id="alice"), gw.stored(user_id="alice")
    bob = gw.stored(user_id="bob")

    assert notify_user("alice", {"type": "dm", "from": "bob"}) is True

    assert gw.api.json_messages(phone) == [{"type": "dm", "from": "bob"}]
    assert gw.api.json_messages(laptop) == [{"type": "dm", "from": "bob"}]
    assert gw.api.messages(bob) == []


def test_pattern5_user_not_connected(gw: Harness, caplog: pytest.LogCaptureFixture) -> None:
    notify_user = run_example("pattern5_send_to_user")["notify_user"]
    with caplog.at_level(logging.INFO, logger=APP_LOGGER):
        assert notify_user("carol", {"type": "dm"}) is False
    assert "User carol not connected" in caplog.text


# --- common use cases -------------------------------------------------------------------------


def test_use_case_real_time_chat(gw: Harness) -> None:
    alice, bob, carol = gw.stored(), gw.stored(), gw.stored()
    ws_join_room(alice, "general")
    ws_join_room(bob, "general")
    ws_join_room(carol, "random")

    run_example(
        "usecase_chat",
        room_id="general",
        chat_message={"type": "chat", "from": "alice", "text": "hi all"},
    )

    expected = [{"type": "chat", "from": "alice", "text": "hi all"}]
    assert gw.api.json_messages(alice) == expected
    assert gw.api.json_messages(bob) == expected
    assert gw.api.messages(carol) == []


def test_use_case_live_updates(gw: Harness) -> None:
    watcher, other = gw.stored(), gw.stored()
    ws_subscribe(watcher, "stock:ACME")
    ws_subscribe(other, "stock:INIT")

    run_example(
        "usecase_live_updates",
        data_id="stock:ACME",
        data_update={"symbol": "ACME", "price": 101.5},
    )

    assert gw.api.json_messages(watcher) == [{"symbol": "ACME", "price": 101.5}]
    assert gw.api.messages(other) == []


def test_use_case_notifications(gw: Harness) -> None:
    tab1, tab2, stranger = gw.stored(user_id="u1"), gw.stored(user_id="u1"), gw.stored("u2")

    run_example("usecase_notifications", user_id="u1", notification={"type": "ping"})

    assert gw.api.json_messages(tab1) == [{"type": "ping"}]
    assert gw.api.json_messages(tab2) == [{"type": "ping"}]
    assert gw.api.messages(stranger) == []
