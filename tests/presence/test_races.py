"""Presence changes racing each other, on every registry backend.

Two Lambdas can handle two connections' presence at the same moment. Each test holds the room
reads of two operations until both have reached them (a barrier around ``room_members``), the
interleaving where reading the room before writing lost a member: both entries read an empty
room and neither ever heard of the other. Each test failed that way before the fix.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from wsgate.presence import Presence


class ReadsMeet:
    """A registry whose room reads, on the named threads, return only when all have read.

    ``skip`` gives, per thread name, how many of its room reads pass before the gated one.
    """

    def __init__(self, registry: Any, threads: dict[str, int]) -> None:
        self._registry = registry
        self._skip = dict(threads)
        self._barrier = threading.Barrier(len(threads), timeout=20)
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)

    def room_members(self, room: str) -> Any:
        name = threading.current_thread().name
        with self._lock:
            left = self._skip.get(name)
            gated = left == 0
            if left is not None:
                self._skip[name] = left - 1
        found = self._registry.room_members(room)
        if gated:
            # Read first, then wait: neither goes on to write until both have read.
            self._barrier.wait()
        return found


class Frames:
    """A sender that keeps every frame, and each connection's view of a room from them."""

    def __init__(self) -> None:
        self.sent: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def send(self, connection_id: str, data: Any) -> None:
        with self._lock:
            self.sent.setdefault(connection_id, []).append(json.loads(data))

    def view(self, connection_id: str) -> dict[str, Any]:
        """user id -> member data, as the clients hold it: events that come before the state
        wait for it (wsgate-presence.js keeps them aside until its state is complete)."""
        members: dict[str, Any] = {}
        early: list[dict[str, Any]] | None = []
        for frame in self.sent.get(connection_id, []):
            if frame["type"] == "presence.state":
                members = {m["userId"]: m["data"] for m in frame["members"]}
                for event in early or []:
                    _apply(members, event)
                early = None
            elif early is not None:
                early.append(frame)
            else:
                _apply(members, frame)
        return members


def _apply(members: dict[str, Any], event: dict[str, Any]) -> None:
    if event["type"] == "presence.leave":
        for m in event["members"]:
            members.pop(m["userId"], None)
    else:  # join, update
        members.update({m["userId"]: m["data"] for m in event["members"]})


def _run(**jobs: Callable[[], object]) -> None:
    errors: list[BaseException] = []

    def run(job: Callable[[], object]) -> None:
        try:
            job()
        except BaseException as exc:  # reported in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,), name=name) for name, job in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    if errors:
        raise errors[0]


def _ann_and_bob(registry: Any, ann_data: dict[str, Any] | None) -> Frames:
    """Stores ann's and bob's connections; ann is present in the lobby when given data."""
    registry.store("c-ann", user_id="ann")
    registry.store("c-bob", user_id="bob")
    frames = Frames()
    if ann_data is not None:
        Presence(registry, frames).enter("c-ann", "lobby", ann_data)
    return frames


def test_two_entering_at_once_both_see_each_other(registry: Any) -> None:
    frames = _ann_and_bob(registry, None)
    presence = Presence(ReadsMeet(registry, {"ann": 0, "bob": 0}), frames)
    _run(
        ann=lambda: presence.enter("c-ann", "lobby", {"name": "Ann"}),
        bob=lambda: presence.enter("c-bob", "lobby", {"name": "Bob"}),
    )
    both = {"ann": {"name": "Ann"}, "bob": {"name": "Bob"}}
    assert frames.view("c-ann") == both
    assert frames.view("c-bob") == both
    assert {m.user_id for m in presence.members("lobby")} == {"ann", "bob"}


def test_one_entering_while_another_leaves_keeps_no_ghost(registry: Any) -> None:
    frames = _ann_and_bob(registry, {"name": "Ann"})
    presence = Presence(ReadsMeet(registry, {"ann": 0, "bob": 0}), frames)
    _run(
        ann=lambda: presence.leave("c-ann", "lobby"),
        bob=lambda: presence.enter("c-bob", "lobby", {"name": "Bob"}),
    )
    assert frames.view("c-bob") == {"bob": {"name": "Bob"}}
    assert [m.user_id for m in presence.members("lobby")] == ["bob"]


def test_one_entering_while_another_updates_gets_the_new_data(registry: Any) -> None:
    frames = _ann_and_bob(registry, {"status": "here"})
    # The update reads the room once to find ann's connections; its second read is held.
    presence = Presence(ReadsMeet(registry, {"ann": 1, "bob": 0}), frames)
    _run(
        ann=lambda: presence.update("c-ann", "lobby", {"status": "away"}),
        bob=lambda: presence.enter("c-bob", "lobby", {}),
    )
    assert frames.view("c-bob") == {"ann": {"status": "away"}, "bob": {}}
    assert frames.view("c-ann") == {"ann": {"status": "away"}, "bob": {}}
