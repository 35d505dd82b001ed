"""Presence on every registry backend: memory, SQLite, DynamoDB on dynalite and moto_server.

Each test drives the presence app through ``WebSocketTestClient`` (real dispatch, route
selection and sender; messages land on in-process sessions) with the backend under test as the
connection registry.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from wsgate.exceptions import InvalidRecordError
from wsgate.presence import protocol
from wsgate.presence.functions import (
    ws_presence_count,
    ws_presence_enter,
    ws_presence_leave,
    ws_presence_members,
    ws_presence_update,
)
from wsgate.testing import WebSocketTestClient

from .presence_app import make_app


class Harness:
    """The app on a test client over one registry, plus frame helpers."""

    def __init__(self, registry: Any, **options: Any) -> None:
        self.app, self.presence = make_app(**options)
        self.client = WebSocketTestClient(self.app, registry=registry)
        self.registry = registry

    def connect(self, user: str | None) -> Any:
        return self.client.connect(f"/?user={user}" if user else "/")

    def enter(self, ws: Any, room: str, data: dict[str, Any] | None = None) -> None:
        ws.send_json({"action": "presence.enter", "room": room, "data": data or {}})

    def frames(self, ws: Any, wait: float = 0.3) -> list[dict[str, Any]]:
        """Every frame that arrives within ``wait`` seconds of the last one."""
        found = []
        while True:
            try:
                found.append(json.loads(ws.receive_text(timeout=wait)))
            except Exception:
                return found

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def harness(registry: Any) -> Iterator[Harness]:
    h = Harness(registry, heartbeat=1.0, timeout=3.0)
    yield h
    h.close()


def _types(frames: list[dict[str, Any]]) -> list[str]:
    return [f["type"] for f in frames]


def _users(frame: dict[str, Any]) -> list[str]:
    return [m["userId"] for m in frame["members"]]


def test_enter_sends_state_to_the_one_entering_and_join_to_the_others(harness: Harness) -> None:
    ann = harness.connect("ann")
    harness.enter(ann, "lobby", {"name": "Ann"})
    state = harness.frames(ann)
    assert _types(state) == ["presence.state"]
    assert _users(state[0]) == ["ann"]
    assert state[0]["heartbeat"] == 1.0 and state[0]["timeout"] == 3.0
    assert state[0]["members"][0]["data"] == {"name": "Ann"}

    bob = harness.connect("bob")
    harness.enter(bob, "lobby", {"name": "Bob"})
    (bob_state,) = harness.frames(bob)
    assert _users(bob_state) == ["ann", "bob"]
    (join,) = harness.frames(ann)
    assert join["type"] == "presence.join" and _users(join) == ["bob"]
    assert join["members"][0]["data"] == {"name": "Bob"}
    assert harness.presence.count("lobby") == 2
    members = harness.presence.members("lobby")
    assert [(m.user_id, m.connections) for m in members] == [
        ("ann", (ann.connection_id,)),
        ("bob", (bob.connection_id,)),
    ]
    assert members[0].since <= members[1].since


def test_a_user_with_two_connections_is_present_once_and_leaves_with_the_last(
    harness: Harness,
) -> None:
    ann1, ann2, bob = harness.connect("ann"), harness.connect("ann"), harness.connect("bob")
    harness.enter(bob, "lobby")
    harness.frames(bob)
    harness.enter(ann1, "lobby", {"tab": 1})
    harness.enter(ann2, "lobby", {"tab": 1})
    assert [f["type"] for f in harness.frames(bob)] == ["presence.join"]  # once, not twice
    harness.frames(ann1)
    harness.frames(ann2)
    (ann,) = [m for m in harness.presence.members("lobby") if m.user_id == "ann"]
    assert sorted(ann.connections) == sorted([ann1.connection_id, ann2.connection_id])
    assert harness.presence.count("lobby") == 2

    ann1.close()  # $disconnect: one tab of two
    assert harness.frames(bob) == []
    assert harness.presence.count("lobby") == 2
    ann2.close()  # the last one
    (leave,) = harness.frames(bob)
    assert leave["type"] == "presence.leave" and _users(leave) == ["ann"]
    assert [m.user_id for m in harness.presence.members("lobby")] == ["bob"]


def test_update_reaches_everyone_and_wins_over_older_data(harness: Harness) -> None:
    ann1, ann2, bob = harness.connect("ann"), harness.connect("ann"), harness.connect("bob")
    for ws, data in ((ann1, {"status": "here"}), (ann2, {"status": "here"}), (bob, {})):
        harness.enter(ws, "lobby", data)
    for ws in (ann1, ann2, bob):
        harness.frames(ws)
    ann2.send_json({"action": "presence.update", "room": "lobby", "data": {"status": "away"}})
    for ws in (ann1, ann2, bob):
        (update,) = harness.frames(ws)
        assert update["type"] == "presence.update"
        assert update["members"] == [
            {
                "userId": "ann",
                "data": {"status": "away"},
                "connections": 2,
                "since": update["members"][0]["since"],
            }
        ]
    # Both tabs carry the new data: closing the updating one does not bring the old data back.
    ann2.close()
    assert harness.frames(bob) == []
    (ann,) = [m for m in harness.presence.members("lobby") if m.user_id == "ann"]
    assert ann.data == {"status": "away"}


def test_leave_announces_and_clears_the_registry(harness: Harness) -> None:
    ann, bob = harness.connect("ann"), harness.connect("bob")
    harness.enter(ann, "lobby")
    harness.enter(bob, "lobby")
    harness.frames(ann)
    harness.frames(bob)
    bob.send_json({"action": "presence.leave", "room": "lobby"})
    (leave,) = harness.frames(ann)
    assert leave["type"] == "presence.leave" and _users(leave) == ["bob"]
    record = harness.registry.get(bob.connection_id)
    assert record is not None
    assert protocol.group_of("lobby") not in record.rooms
    assert protocol.SWEEP_GROUP not in record.rooms
    assert harness.presence.leave(bob.connection_id, "lobby") is False
    assert harness.presence.rooms_of(bob.connection_id) == frozenset()


def test_rooms_are_separate_and_the_sweep_group_stays_until_the_last_room(
    harness: Harness,
) -> None:
    ann = harness.connect("ann")
    harness.enter(ann, "a")
    harness.enter(ann, "b")
    harness.frames(ann)
    assert harness.presence.count("a") == 1 and harness.presence.count("b") == 1
    harness.presence.leave(ann.connection_id, "a")
    record = harness.registry.get(ann.connection_id)
    assert protocol.SWEEP_GROUP in record.rooms
    assert harness.presence.rooms_of(ann.connection_id) == {"b"}
    harness.presence.leave(ann.connection_id, "b")
    assert protocol.SWEEP_GROUP not in harness.registry.get(ann.connection_id).rooms
    # The next enter keeps only the entries of rooms the connection is in.
    harness.enter(ann, "c", {"k": 1})
    harness.frames(ann)
    assert set(harness.registry.get(ann.connection_id).metadata[protocol.METADATA_KEY]) == {"c"}


def test_sweep_removes_a_ghost_whose_disconnect_never_came(harness: Harness) -> None:
    ann, bob = harness.connect("ann"), harness.connect("bob")
    harness.enter(ann, "lobby")
    harness.enter(bob, "lobby")
    harness.frames(ann)
    harness.frames(bob)
    # bob's socket dies and no $disconnect runs: his record stays in the registry.
    ghost = bob.connection_id
    with harness.client._lock:
        harness.client._sessions.pop(ghost)
    bob._mark_closed(1006, "")
    assert harness.presence.count("lobby") == 2
    now = time.time()
    assert harness.presence.sweep(now)["removed"] == 0  # ann and bob are fresh
    harness.presence.alive(ann.connection_id, now + 2.5)  # ann shows signs of life
    summary = harness.presence.sweep(now + 3.5)  # past bob's 3 s window
    assert summary["removed"] == 1
    (leave,) = harness.frames(ann)
    assert leave["type"] == "presence.leave" and _users(leave) == ["bob"]
    assert [m.user_id for m in harness.presence.members("lobby")] == ["ann"]
    # Telling the ghost it expired found it gone (410): the sender pruned it.
    assert harness.registry.get(ghost) is None


def test_sweep_tells_a_silent_live_connection_and_keeps_its_record(harness: Harness) -> None:
    ann = harness.connect("ann")
    harness.enter(ann, "lobby")
    harness.frames(ann)
    assert harness.presence.sweep(time.time() + 10)["removed"] == 1
    (expired,) = harness.frames(ann)
    assert expired == {"type": "presence.expired", "room": "lobby"}
    assert harness.registry.get(ann.connection_id) is not None
    assert harness.presence.count("lobby") == 0
    harness.enter(ann, "lobby")  # a live client enters again
    assert _types(harness.frames(ann)) == ["presence.state"]
    assert harness.presence.count("lobby") == 1


def test_heartbeat_moves_last_activity_at_most_once_per_interval(harness: Harness) -> None:
    ann = harness.connect("ann")
    cid = ann.connection_id
    start = harness.registry.get(cid).last_activity
    now = time.time()
    assert harness.presence.alive(cid, now + 1.5) is True
    assert harness.presence.alive(cid, now + 2.0) is False  # within the interval
    assert harness.registry.get(cid).last_activity == pytest.approx(now + 1.5)
    assert harness.presence.alive(cid, now + 2.6) is True
    assert harness.registry.get(cid).last_activity > start


def test_any_message_is_a_sign_of_life(registry: Any) -> None:
    h = Harness(registry, heartbeat=0.5, timeout=2.0)
    try:
        ann = h.connect("ann")
        h.enter(ann, "lobby")
        h.frames(ann, 0.1)
        for _ in range(7):  # 3.5 s of chatter on an app route (> timeout), no heartbeat frame
            ann.send_json({"action": "echo"})
            time.sleep(0.5)
        assert h.presence.sweep()["removed"] == 0
        assert h.presence.count("lobby") == 1
    finally:
        h.close()


def test_bad_input_is_answered_and_changes_nothing(harness: Harness) -> None:
    ann = harness.connect("ann")
    ann.send_json({"action": "presence.enter", "room": "", "data": {}})
    ann.send_json({"action": "presence.enter", "room": "lobby", "data": ["not", "a", "map"]})
    ann.send_json({"action": "presence.enter", "room": "lobby", "data": {"x": "y" * 3000}})
    ann.send_json({"action": "presence.update", "room": "lobby", "data": {}})
    errors = harness.frames(ann)
    assert _types(errors) == ["presence.error"] * 4
    assert "1-100" in errors[0]["reason"]
    assert "JSON object" in errors[1]["reason"]
    assert "over 2048" in errors[2]["reason"]
    assert errors[3]["reason"] == "not present in this room"
    assert harness.presence.count("lobby") == 0
    assert harness.registry.get(ann.connection_id).rooms == frozenset()
    with pytest.raises(InvalidRecordError):
        harness.presence.members("x" * 101)


def test_room_limit_per_connection(registry: Any) -> None:
    h = Harness(registry, max_rooms=2)
    try:
        ann = h.connect("ann")
        h.enter(ann, "a")
        h.enter(ann, "b")
        h.enter(ann, "c")
        frames = h.frames(ann)
        assert _types(frames) == ["presence.state", "presence.state", "presence.error"]
        assert h.presence.count("c") == 0
        h.enter(ann, "a", {"again": True})  # re-entering a room it is in is no new room
        assert _types(h.frames(ann)) == ["presence.state"]
    finally:
        h.close()


def test_anonymous_connections_are_members_of_their_own(harness: Harness) -> None:
    one, two = harness.connect(None), harness.connect(None)
    harness.enter(one, "lobby")
    harness.enter(two, "lobby")
    members = harness.presence.members("lobby")
    assert len(members) == 2 and all(m.anonymous for m in members)
    assert all(m.user_id.startswith("anonymous:") for m in members)
    assert one.connection_id not in json.dumps([f for f in harness.frames(two)])


def test_seed_style_functions(harness: Harness) -> None:
    ann, bob = harness.connect("ann"), harness.connect("bob")
    member = ws_presence_enter(ann.connection_id, "lobby", {"name": "Ann"})
    assert member["userId"] == "ann" and member["connections"] == [ann.connection_id]
    ws_presence_enter(bob.connection_id, "lobby")
    assert ws_presence_count("lobby") == 2
    ws_presence_update(bob.connection_id, "lobby", {"name": "Bob"})
    assert [m["data"] for m in ws_presence_members("lobby")] == [{"name": "Ann"}, {"name": "Bob"}]
    assert ws_presence_leave(ann.connection_id, "lobby") is True
    assert [m["userId"] for m in ws_presence_members("lobby")] == ["bob"]


def test_state_survives_a_new_presence_object(harness: Harness) -> None:
    """A cold start: a new Presence on the same registry sees the same members."""
    ann = harness.connect("ann")
    harness.enter(ann, "lobby", {"name": "Ann"})
    harness.frames(ann)
    from wsgate.presence import Presence

    fresh = Presence(registry=harness.registry, sender=harness.client.sender)
    (member,) = fresh.members("lobby")
    assert (member.user_id, member.data) == ("ann", {"name": "Ann"})


def test_entering_again_refreshes_data_and_state_without_a_second_join(harness: Harness) -> None:
    ann, bob = harness.connect("ann"), harness.connect("bob")
    harness.enter(ann, "lobby", {"v": 1})
    harness.enter(bob, "lobby")
    harness.frames(ann)
    harness.frames(bob)
    since = harness.presence.members("lobby")[0].since
    harness.enter(ann, "lobby", {"v": 2})
    (state,) = harness.frames(ann)
    assert state["type"] == "presence.state" and _users(state) == ["ann", "bob"]
    (update,) = harness.frames(bob)
    assert update["type"] == "presence.update" and update["members"][0]["data"] == {"v": 2}
    harness.enter(ann, "lobby", {"v": 2})  # same data: nothing for the others
    assert _types(harness.frames(ann)) == ["presence.state"]
    assert harness.frames(bob) == []
    assert harness.presence.members("lobby")[0].since == since  # still present since then
