"""The seed's anti-patterns: for each, what wsgate does so the mistake costs little, and the
seed's "DO" version working as written."""

from __future__ import annotations

import logging
import time

import pytest
from gateway_seed import run_example

from conftest import Harness
from wsgate.exceptions import ConnectionGoneError
from wsgate.gateway import (
    ws_broadcast_to_all,
    ws_cleanup_stale_connections,
    ws_get_all_connections,
    ws_get_connection,
    ws_store_connection,
    ws_update_connection,
)

# --- 1: not cleaning up connections -----------------------------------------------------------


def test_antipattern1_do_always_clean_up(gw: Harness) -> None:
    handle_disconnect = run_example("antipattern1_cleanup_do")["handle_disconnect"]
    cid = gw.stored()
    assert handle_disconnect(gw.disconnect_event(cid), None) == {"statusCode": 200}
    assert ws_get_connection(cid) is None


def test_antipattern1_dont_left_records_are_pruned_on_next_broadcast(gw: Harness) -> None:
    handle_disconnect = run_example("antipattern1_cleanup_dont")["handle_disconnect"]
    forgotten, live = gw.stored(), gw.stored()
    handle_disconnect(gw.disconnect_event(forgotten), None)
    assert ws_get_connection(forgotten) is not None  # the mistake: the record stays

    # wsgate: the first send that meets the dead connection (410) deletes its record.
    assert ws_broadcast_to_all({"type": "tick"}) == {forgotten: False, live: True}
    assert ws_get_connection(forgotten) is None
    assert gw.api.json_messages(live) == [{"type": "tick"}]


def test_antipattern1_dont_left_records_expire_and_are_cleaned(gw: Harness) -> None:
    handle_disconnect = run_example("antipattern1_cleanup_dont")["handle_disconnect"]
    forgotten, active = gw.stored(), gw.stored()
    handle_disconnect(gw.disconnect_event(forgotten), None)

    # Every record carries a TTL (API Gateway closes any connection after 2 hours) ...
    record = ws_get_connection(forgotten)
    assert record is not None and record["expiresAt"] > time.time()
    assert ws_cleanup_stale_connections() == 0  # nothing is stale yet

    # ... and once it has passed, the record is never returned again, and the scheduled
    # cleanup deletes it (DynamoDB's own TTL deletion can lag by days).
    ws_update_connection(forgotten, {"expiresAt": int(time.time()) - 1})
    assert ws_get_connection(forgotten) is None
    assert [c["connectionId"] for c in ws_get_all_connections()] == [active]
    assert ws_cleanup_stale_connections(max_age_seconds=7200) == 1
    assert gw.registry.count() == 1


# --- 2: no error handling on send -------------------------------------------------------------


def test_antipattern2_do_handle_errors(gw: Harness, caplog: pytest.LogCaptureFixture) -> None:
    cid = gw.stored()
    gw.api.drop(cid)
    with caplog.at_level(logging.ERROR, logger="wsgate.app"):
        run_example("antipattern2_send_errors_do", connection_id=cid, data={"n": 1})
    assert "Send failed: connection gone (410)" in caplog.text
    assert ws_get_connection(cid) is None


def test_antipattern2_dont_raises_a_clear_error_and_prunes(gw: Harness) -> None:
    cid = gw.stored()
    gw.api.drop(cid)

    with pytest.raises(ConnectionGoneError) as caught:
        run_example("antipattern2_send_errors_dont", connection_id=cid, data={"n": 1})

    assert caught.value.connection_id == cid
    assert caught.value.status_code == 410
    assert isinstance(caught.value, Exception)  # what the seed's `except Exception` catches
    # wsgate deleted the record before raising: even unhandled, the registry stays clean.
    assert ws_get_connection(cid) is None


def test_antipattern2_live_connection_unaffected(gw: Harness) -> None:
    cid = gw.stored()
    run_example("antipattern2_send_errors_dont", connection_id=cid, data={"n": 2})
    assert gw.api.json_messages(cid) == [{"n": 2}]
    assert ws_get_connection(cid) is not None


# --- 3: sequential broadcasting ---------------------------------------------------------------


def test_antipattern3_dont_sends_one_at_a_time(gw: Harness) -> None:
    ids = [gw.stored() for _ in range(6)]
    run_example("antipattern3_broadcast_dont", connections=ws_get_all_connections(), data="x")
    assert all(gw.api.messages(cid) == [b"x"] for cid in ids)
    assert gw.api.max_in_flight == 1


def test_antipattern3_do_broadcast_runs_concurrently(gw: Harness) -> None:
    ids = [gw.stored() for _ in range(8)]
    # The server holds each POST until 4 are in flight at once: only a concurrent broadcast
    # can get there (a sequential one would wait out each hold and fail the assertion).
    gw.api.hold_until = 4

    run_example("antipattern3_broadcast_do", connections=ws_get_all_connections(), data="x")

    assert gw.api.max_in_flight >= 4
    assert all(gw.api.messages(cid) == [b"x"] for cid in ids)


# --- 4: no TTL on connections -----------------------------------------------------------------


def test_antipattern4_dont_still_gets_the_default_ttl(gw: Harness) -> None:
    connection_id = gw.api.open("AAAAAAAAAAAAAAA=")
    before = int(time.time())
    run_example("antipattern4_ttl_dont", connection_id=connection_id, user_id="alice")
    record = ws_get_connection(connection_id)
    assert record is not None and record["userId"] == "alice"
    assert before + 7200 <= record["expiresAt"] <= int(time.time()) + 7200


def test_antipattern4_do_absolute_ttl(gw: Harness) -> None:
    connection_id = gw.api.open("BBBBBBBBBBBBBBB=")
    before = int(time.time())
    run_example("antipattern4_ttl_do", connection_id=connection_id, user_id="bob")
    record = ws_get_connection(connection_id)
    assert record is not None
    assert before + 7200 <= record["expiresAt"] <= int(time.time()) + 7200


def test_antipattern4_configured_default_ttl(gw: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from wsgate import config

    config.configure(ttl=600)
    before = int(time.time())
    record = ws_store_connection("CCCCCCCCCCCCCCC=")
    assert before + 600 <= record["expiresAt"] <= int(time.time()) + 600
