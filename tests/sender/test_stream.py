"""Broadcasts from paged lookups: posting starts before the lookup ends, ids sent once,
a lookup failure after some pages, and the room broadcasts on the ids-only path."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wsgate import config
from wsgate.exceptions import RegistryUnavailable
from wsgate.gateway import ws_broadcast_to_room
from wsgate.registry.memory import MemoryRegistry
from wsgate.registry.paging import Member
from wsgate.sender import Sender
from wsgate.sender.stream import prefetched

from .apistub import ApiStub

MakeSender = Callable[..., Sender]


def test_first_page_is_posted_before_the_second_is_read(
    stub: ApiStub, make_sender: MakeSender
) -> None:
    stub.connect("a1", "a2", "b1", "b2")
    first_posted = threading.Event()
    seen_before_second: list[bool] = []

    def pages() -> Iterator[list[str]]:
        yield ["a1", "a2"]
        # The lookup of page 2 waits until page 1 has reached the server: a broadcast that
        # read every page before sending would wait here for the whole timeout.
        seen_before_second.append(first_posted.wait(timeout=10))
        yield ["b1", "b2"]

    sender = make_sender(stub.endpoint)
    original = sender._engine.post_many

    def post_many(*args: Any) -> None:
        original(*args)
        first_posted.set()

    sender._engine.post_many = post_many  # type: ignore[method-assign]
    result = sender.broadcast_pages(pages(), {"n": 1})
    assert seen_before_second == [True]
    assert sorted(result.sent) == ["a1", "a2", "b1", "b2"]
    assert stub.state.messages["b2"] == [b'{"n":1}']


def test_ids_in_several_pages_are_sent_once(stub: ApiStub, make_sender: MakeSender) -> None:
    stub.connect("x", "y", "z")
    sender = make_sender(stub.endpoint)
    pages = [["x", "y"], [Member("y", None), "z", "x"], [{"connectionId": "z"}], ["skip"]]
    result = sender.broadcast_pages(pages, "hi", exclude=["skip"])
    assert sorted(result.sent) == ["x", "y", "z"]
    assert all(len(stub.state.messages[cid]) == 1 for cid in "xyz")
    assert "skip" not in stub.state.messages


def test_lookup_failure_after_a_page_raises_and_prunes_what_was_sent(
    stub: ApiStub, make_sender: MakeSender
) -> None:
    registry = MemoryRegistry()
    for cid in ("live", "gone", "later"):
        registry.store(cid)
    stub.connect("live", "later")

    def pages() -> Iterator[list[str]]:
        yield ["live", "gone"]
        raise RegistryUnavailable("the table went away")

    sender = make_sender(stub.endpoint, registry=registry)
    with pytest.raises(RegistryUnavailable):
        sender.broadcast_pages(pages(), "x")
    assert stub.state.messages["live"] == [b"x"]
    assert not stub.state.messages.get("later")
    assert registry.get("gone") is None and registry.get("live") is not None


def test_prefetch_holds_at_most_two_pages_ahead() -> None:
    produced: list[int] = []
    taken = threading.Event()

    def pages() -> Iterator[int]:
        for n in range(10):
            produced.append(n)
            yield n

    reader = prefetched(pages())
    assert next(reader) == 0
    taken.wait(0.3)  # give the reader every chance to run ahead
    assert len(produced) <= 3  # the page handed over, one queued, one in the reader's hand
    assert list(reader) == list(range(1, 10))


class _NoFullReads(MemoryRegistry):
    def room_members(self, room: str) -> list[Any]:
        raise AssertionError("a room broadcast must not read whole records")

    def subscribers(self, topic: str) -> list[Any]:
        raise AssertionError("a topic broadcast must not read whole records")


def test_room_broadcasts_use_the_ids_only_pages(
    stub: ApiStub, make_sender: MakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = _NoFullReads()
    ids = [f"c{n:04d}" for n in range(2500)]  # three default pages
    for cid in ids:
        registry.store(cid, endpoint=stub.endpoint)
        registry.join(cid, "lobby")
        registry.subscribe(cid, "news")
    stub.connect(*ids[:-5])  # the last five are gone
    sender = make_sender(registry=registry)
    result = sender.broadcast_to_topic("news", "t", exclude=[ids[0]])
    assert len(result.sent) == 2494 and sorted(result.gone) == ids[-5:]
    assert result.pruned == 5 and registry.get(ids[-1]) is None

    monkeypatch.setattr(config, "get_registry", lambda: registry)
    monkeypatch.setattr(config, "get_sender", lambda: sender)
    delivered = ws_broadcast_to_room("lobby", {"m": 1})
    assert list(delivered) == ids[:-5]  # the room's id order; the gone ones were pruned
    assert all(delivered.values())
    assert stub.state.messages[ids[0]] == [b'{"m":1}']
    assert stub.state.messages[ids[1]] == [b"t", b'{"m":1}']
