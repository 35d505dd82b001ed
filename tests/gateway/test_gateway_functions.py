"""Every gateway function beyond the seed's examples: return shapes, edge cases, bad input."""

from __future__ import annotations

import json
import logging
import time

import pytest

from conftest import Harness
from wsgate import config
from wsgate.exceptions import (
    ConfigurationError,
    ConnectionGoneError,
    ConnectionNotFound,
    ForbiddenError,
    InvalidRecordError,
    PayloadTooLargeError,
)
from wsgate.gateway import (
    log_debug,
    log_error,
    log_info,
    log_warning,
    ws_broadcast_message,
    ws_broadcast_to_all,
    ws_broadcast_to_room,
    ws_broadcast_to_users,
    ws_cleanup_stale_connections,
    ws_delete_connection,
    ws_disconnect_connection,
    ws_get_active_connections,
    ws_get_all_connections,
    ws_get_connection,
    ws_get_connections_by_room,
    ws_get_connections_by_subscription,
    ws_get_connections_by_user,
    ws_get_management_client,
    ws_is_connection_alive,
    ws_join_room,
    ws_leave_room,
    ws_send_json,
    ws_send_message,
    ws_send_text,
    ws_store_connection,
    ws_subscribe,
    ws_unsubscribe,
    ws_update_connection,
)

SEED_KEYS = {"connectionId", "userId", "connectedAt", "lastActivity", "metadata", "expiresAt"}


# --- records ----------------------------------------------------------------------------------


def test_record_shape(gw: Harness) -> None:
    cid = gw.api.open("ShapeShapeShape=")
    before = time.time()
    record = ws_store_connection(cid, "alice", {"plan": "pro", "n": 1})
    assert SEED_KEYS | {"endpoint", "rooms", "topics"} == set(record)
    assert record["connectionId"] == cid and record["userId"] == "alice"
    assert record["metadata"] == {"plan": "pro", "n": 1}
    assert before - 1 <= record["connectedAt"] <= time.time()
    assert isinstance(record["expiresAt"], int)
    assert ws_get_connection(cid) == record
    json.dumps(record)  # plain JSON data, ready to log or return


def test_store_again_keeps_rooms(gw: Harness) -> None:
    cid = gw.stored(user_id="a")
    ws_join_room(cid, "r1")
    record = ws_store_connection(cid, "b", {"retry": True})
    assert record["userId"] == "b" and record["rooms"] == ["r1"]


def test_returned_metadata_is_a_copy(gw: Harness) -> None:
    cid = gw.stored(metadata={"k": [1]})
    record = ws_get_connection(cid)
    assert record is not None
    record["metadata"]["k"].append(2)
    assert ws_get_connection(cid)["metadata"] == {"k": [1]}  # type: ignore[index]


def test_unknown_connection_and_double_delete(gw: Harness) -> None:
    assert ws_get_connection("NobodyNobodyNob=") is None
    cid = gw.stored()
    assert ws_delete_connection(cid) is True
    assert ws_delete_connection(cid) is False


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("",), "connection_id"),
        (("MetaMetaMetaMet=", None, {"bad": {1, 2}}), "metadata"),
        (("MetaMetaMetaMet=", None, ["not", "a", "map"]), "metadata"),
    ],
)
def test_store_bad_input(gw: Harness, args: tuple[object, ...], field: str) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        ws_store_connection(*args)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert ws_get_all_connections() == []


# --- update -----------------------------------------------------------------------------------


def test_update_fields(gw: Harness) -> None:
    cid = gw.stored(user_id="a", metadata={"old": 1})
    record = ws_update_connection(cid, {"userId": "b", "metadata": {"new": 2}})
    assert record["userId"] == "b" and record["metadata"] == {"new": 2}  # replaced, not merged
    assert ws_get_connection(cid) == record


def test_update_rooms_and_topics_as_sets(gw: Harness) -> None:
    cid = gw.stored()
    ws_join_room(cid, "old")
    record = ws_update_connection(cid, {"rooms": ["a", "b"], "topics": ["t"]})
    assert record["rooms"] == ["a", "b"] and record["topics"] == ["t"]
    assert ws_get_connections_by_room("old") == []
    assert [c["connectionId"] for c in ws_get_connections_by_room("a")] == [cid]


def test_update_last_activity_and_ttl(gw: Harness) -> None:
    cid = gw.stored()
    later = time.time() + 5
    record = ws_update_connection(cid, {"lastActivity": later, "ttl": 60, "connectionId": cid})
    assert record["lastActivity"] == pytest.approx(later)
    assert record["expiresAt"] <= int(time.time()) + 61


def test_update_unknown_key_writes_nothing(gw: Harness) -> None:
    cid = gw.stored(user_id="a")
    with pytest.raises(InvalidRecordError, match="unknown key 'room'"):
        ws_update_connection(cid, {"userId": "b", "room": "lobby"})
    assert ws_get_connection(cid)["userId"] == "a"  # type: ignore[index]
    with pytest.raises(InvalidRecordError):
        ws_update_connection(cid, [("userId", "b")])  # type: ignore[arg-type]


def test_update_never_recreates(gw: Harness) -> None:
    with pytest.raises(ConnectionNotFound) as caught:
        ws_update_connection("GoneGoneGoneGon=", {"userId": "x"})
    assert isinstance(caught.value, KeyError)
    with pytest.raises(ConnectionNotFound):
        ws_update_connection("GoneGoneGoneGon=", {})
    assert ws_get_connection("GoneGoneGoneGon=") is None


# --- queries ----------------------------------------------------------------------------------


def test_queries(gw: Harness) -> None:
    a1, a2, b = gw.stored(user_id="a"), gw.stored(user_id="a"), gw.stored(user_id="b")
    assert {c["connectionId"] for c in ws_get_all_connections()} == {a1, a2, b}
    assert {c["connectionId"] for c in ws_get_connections_by_user("a")} == {a1, a2}
    assert ws_get_connections_by_user("nobody") == []


def test_active_connections(gw: Harness) -> None:
    old, fresh = gw.stored(), gw.stored()
    ws_update_connection(fresh, {"lastActivity": time.time() + 30})
    assert {c["connectionId"] for c in ws_get_active_connections()} == {old, fresh}
    since = time.time() + 10
    assert [c["connectionId"] for c in ws_get_active_connections(since)] == [fresh]
    # Epoch milliseconds (API Gateway's unit) are understood too.
    assert [c["connectionId"] for c in ws_get_active_connections(since * 1000)] == [fresh]
    assert ws_get_active_connections(time.time() + 3600) == []
    with pytest.raises(InvalidRecordError):
        ws_get_active_connections("yesterday")  # type: ignore[arg-type]


def test_rooms_and_subscriptions(gw: Harness) -> None:
    cid = gw.stored()
    assert ws_join_room(cid, "lobby") is True
    assert ws_join_room(cid, "lobby") is False
    assert ws_subscribe(cid, "prices") is True
    assert [c["connectionId"] for c in ws_get_connections_by_room("lobby")] == [cid]
    assert [c["connectionId"] for c in ws_get_connections_by_subscription("prices")] == [cid]
    assert ws_get_connection(cid)["rooms"] == ["lobby"]  # type: ignore[index]
    assert ws_leave_room(cid, "lobby") is True and ws_leave_room(cid, "lobby") is False
    assert ws_unsubscribe(cid, "prices") is True
    assert ws_get_connections_by_room("lobby") == []
    assert ws_get_connections_by_subscription("prices") == []


def test_join_unknown_connection(gw: Harness) -> None:
    with pytest.raises(ConnectionNotFound):
        ws_join_room("NoSuchNoSuchNoS=", "lobby")
    assert ws_get_connections_by_room("lobby") == []


def test_cleanup(gw: Harness) -> None:
    cid = gw.stored()
    with pytest.raises(InvalidRecordError):
        ws_cleanup_stale_connections(max_age_seconds=0)
    assert ws_cleanup_stale_connections() == 0
    ws_update_connection(cid, {"expiresAt": int(time.time()) - 1})
    assert ws_cleanup_stale_connections() == 1
    assert gw.registry.count() == 0


# --- sending ----------------------------------------------------------------------------------


def test_send_message_encodings(gw: Harness) -> None:
    cid = gw.stored()
    ws_send_message(cid, {"text": "héllo ✓"})
    ws_send_message(cid, ["a", 1])
    ws_send_message(cid, "plain text")
    ws_send_message(cid, b"\x00\x01raw")
    ws_send_message(cid, 42)
    assert gw.api.messages(cid) == [
        '{"text":"héllo ✓"}'.encode(),
        b'["a",1]',
        b"plain text",
        b"\x00\x01raw",
        b"42",
    ]


def test_send_json_and_text(gw: Harness) -> None:
    cid = gw.stored()
    ws_send_json(cid, "quoted")
    ws_send_json(cid, {"n": None})
    ws_send_text(cid, '{"as": "is"}')
    assert gw.api.messages(cid) == [b'"quoted"', b'{"n":null}', b'{"as": "is"}']
    with pytest.raises(TypeError):
        ws_send_text(cid, {"not": "text"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ws_send_json(cid, {1, 2})
    assert len(gw.api.messages(cid)) == 3


@pytest.mark.parametrize("send", [ws_send_message, ws_send_json, ws_send_text])
def test_every_send_prunes_a_gone_connection(gw: Harness, send: object) -> None:
    cid = gw.stored()
    gw.api.drop(cid)
    with pytest.raises(ConnectionGoneError):
        send(cid, "x")  # type: ignore[operator]
    assert ws_get_connection(cid) is None


def test_payload_too_large(gw: Harness) -> None:
    cid = gw.stored()
    with pytest.raises(PayloadTooLargeError):
        ws_send_message(cid, "x" * 131_073)
    ws_send_message(cid, "x" * 131_072)  # exactly the limit is fine
    assert [len(m) for m in gw.api.messages(cid)] == [131_072]
    assert ws_get_connection(cid) is not None
    with pytest.raises(PayloadTooLargeError):
        ws_broadcast_message([cid], "x" * 131_073)
    assert len(gw.api.calls("POST")) == 1


def test_forbidden_never_prunes(gw: Harness) -> None:
    cid = gw.stored()
    config.configure(endpoint=gw.api.endpoint.replace("/test", "/wrongstage"))
    with pytest.raises(ForbiddenError):
        ws_send_message(cid, "x")
    assert ws_broadcast_message([cid], "x") == {cid: False}
    assert ws_get_connection(cid) is not None


# --- broadcasting -----------------------------------------------------------------------------


def test_broadcast_accepts_ids_dicts_and_records(gw: Harness) -> None:
    a, b, c, gone = gw.stored(), gw.stored(), gw.stored(), gw.stored()
    gw.api.drop(gone)
    recipients = [a, ws_get_connection(b), gw.registry.get(c), gone, a]
    result = ws_broadcast_message(recipients, {"m": 1})
    assert list(result.items()) == [(a, True), (b, True), (c, True), (gone, False)]
    assert gw.api.messages(a) == [b'{"m":1}']  # duplicates are sent once
    assert ws_get_connection(gone) is None


def test_broadcast_single_id_and_empty(gw: Harness) -> None:
    cid = gw.stored()
    assert ws_broadcast_message(cid, "one") == {cid: True}
    assert ws_broadcast_message([], "none") == {}
    assert gw.api.messages(cid) == [b"one"]


def test_broadcast_bad_recipient_sends_nothing(gw: Harness) -> None:
    cid = gw.stored()
    with pytest.raises(InvalidRecordError, match="connectionId"):
        ws_broadcast_message([cid, {"userId": "no id"}], "x")
    with pytest.raises(InvalidRecordError):
        ws_broadcast_message([cid, 12], "x")
    assert gw.api.calls("POST") == []


def test_broadcast_helpers(gw: Harness) -> None:
    a1, a2 = gw.stored(user_id="a"), gw.stored(user_id="a")
    b, c = gw.stored(user_id="b"), gw.stored(user_id="c")
    ws_join_room(b, "room")

    assert ws_broadcast_to_users(["a", "b", "a"], "users") == {a1: True, a2: True, b: True}
    assert ws_broadcast_to_users("c", "one user") == {c: True}
    assert ws_broadcast_to_room("room", "room") == {b: True}
    assert ws_broadcast_to_room("empty", "room") == {}
    everyone = ws_broadcast_to_all("all")
    assert everyone == dict.fromkeys(everyone, True) and set(everyone) == {a1, a2, b, c}
    assert gw.api.messages(b) == [b"users", b"room", b"all"]
    assert gw.api.messages(c) == [b"one user", b"all"]


# --- management API ---------------------------------------------------------------------------


def test_is_connection_alive(gw: Harness) -> None:
    live, gone = gw.stored(), gw.stored()
    gw.api.drop(gone)
    assert ws_is_connection_alive(live) is True
    assert ws_is_connection_alive(gone) is False
    assert ws_get_connection(gone) is not None  # a query: it changes nothing


def test_disconnect_connection(gw: Harness) -> None:
    cid, gone = gw.stored(), gw.stored()
    gw.api.drop(gone)
    assert ws_disconnect_connection(cid) is True
    assert gw.api.calls("DELETE") == [cid] and not gw.api.is_open(cid)
    # The record stays for the $disconnect handler (which API Gateway runs next) to read.
    assert ws_get_connection(cid) is not None
    # Already gone: no $disconnect will come, so the record goes now.
    assert ws_disconnect_connection(gone) is False
    assert ws_get_connection(gone) is None


def test_management_client_is_a_real_boto3_client(gw: Harness) -> None:
    cid = gw.stored()
    client = ws_get_management_client()
    assert client is ws_get_management_client()  # built once
    assert client.meta.service_model.service_name == "apigatewaymanagementapi"
    client.post_to_connection(ConnectionId=cid, Data=b"via boto3")
    assert gw.api.messages(cid) == [b"via boto3"]
    gw.api.drop(cid)
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=cid, Data=b"x")


def test_management_client_needs_an_endpoint() -> None:
    config.configure(registry="memory://")
    with pytest.raises(ConfigurationError, match="endpoint"):
        ws_get_management_client()


# --- logging ----------------------------------------------------------------------------------


def test_log_helpers(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="wsgate.app"):
        log_debug("d %s", 1)
        log_info("connected: %s", "abc", room="lobby", name="renamed")
        log_warning("w")
        try:
            raise ValueError("boom")
        except ValueError:
            log_error("failed", exc_info=True)
    records = [r for r in caplog.records if r.name == "wsgate.app"]
    assert [(r.levelname, r.getMessage()) for r in records] == [
        ("DEBUG", "d 1"),
        ("INFO", "connected: abc"),
        ("WARNING", "w"),
        ("ERROR", "failed"),
    ]
    assert records[1].room == "lobby"  # type: ignore[attr-defined]
    assert records[1].name_ == "renamed"  # type: ignore[attr-defined]
    assert records[3].exc_info is not None and records[3].exc_info[0] is ValueError
    assert all(r.filename == "test_gateway_functions.py" for r in records)  # the caller


def test_logging_is_not_configured_on_import() -> None:
    logger = logging.getLogger("wsgate.app")
    assert logger.handlers == [] and logger.propagate
    assert logger.level == logging.NOTSET
