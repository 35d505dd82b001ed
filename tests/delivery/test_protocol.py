"""The wire format, and what a tracked send refuses before touching any store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wsgate.delivery import Delivery, MemoryDeliveryStore
from wsgate.delivery.protocol import message_frame, parse_ack_id, parse_positions
from wsgate.delivery.store import BufferedMessage
from wsgate.exceptions import InvalidBodyError, PayloadTooLargeError
from wsgate.registry.memory import MemoryRegistry


def test_a_tracked_message_is_the_app_object_plus_the_wsgate_key() -> None:
    frame = json.loads(message_frame("room:a", 7, "m7", '{"type":"message","text":"hé"}'))
    assert frame == {
        "type": "message",
        "text": "hé",
        "wsgate": {"stream": "room:a", "seq": 7, "id": "m7"},
    }
    again = json.loads(message_frame("room:a", 7, "m7", "{}", attempt=3))
    assert again == {"wsgate": {"stream": "room:a", "seq": 7, "id": "m7", "attempt": 3}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"acks": {}}, "acks"),
        ({"acks": []}, "acks"),
        ({"acks": {"room:a": 1.5}}, "acks.room:a"),
        ({"acks": {"room:a": True}}, "acks.room:a"),
        ({"acks": {"room:a": 2**53}}, "acks.room:a"),
        ({"acks": {"bad name": 1}}, "acks.bad name"),
        ({"acks": {f"s{i}": 1 for i in range(65)}}, "acks"),
    ],
)
def test_malformed_positions_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidBodyError) as info:
        parse_positions(body, "acks")
    assert info.value.field == field


def test_positions_and_ack_ids_parse() -> None:
    parsed = parse_positions({"streams": {"room:a": 0, "user:u": 9}}, "streams")
    assert [(p.stream, p.seq) for p in parsed] == [("room:a", 0), ("user:u", 9)]
    assert parse_ack_id({"ackId": "c1-7"}) == "c1-7"
    assert parse_ack_id({}) is None
    for bad in ("", "x" * 129, "with space", 7):
        with pytest.raises(InvalidBodyError):
            parse_ack_id({"ackId": bad})


@pytest.mark.parametrize(
    "data",
    [["a", "list"], "text", {"wsgate": 1}, {1: "int key"}, {"x": float("nan")}, {"x": {1, 2}}],
)
def test_a_tracked_send_refuses_what_is_not_a_json_object(data: Any) -> None:
    store = MemoryDeliveryStore()
    delivery = Delivery(store, registry=object(), sender=object())
    with pytest.raises(TypeError):
        delivery.publish("room:a", data, [])
    assert store.latest("room:a") == 0  # nothing was buffered


def test_a_tracked_send_over_the_size_limit_is_refused_before_buffering() -> None:
    store = MemoryDeliveryStore()
    delivery = Delivery(store, registry=object(), sender=object())
    with pytest.raises(PayloadTooLargeError):
        delivery.publish("room:a", {"text": "x" * 131_000}, ["c1"])
    assert store.latest("room:a") == 0
    assert delivery.publish("room:a", {"text": "x" * 100}, []).seq == 1


class TwoStepStore(MemoryDeliveryStore):
    """A memory store whose appends can be split as DynamoDB's are (counter first, message
    second), to reproduce the window a concurrent resume can fall into."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.fill_on_read: int | None = None
        self.pending_fill: tuple[str, str, str] | None = None

    def take_number(self, stream: str) -> None:
        with self._lock:
            self._heads[stream] = self._heads.get(stream, 0) + 1
        self.pending_fill = (stream, "late-id", '{"text":"late"}')

    def read_after(self, stream: str, after: int, **kw: Any) -> Any:
        self.reads += 1
        if self.pending_fill and self.reads == self.fill_on_read:
            name, message_id, data = self.pending_fill
            with self._lock:
                seq = self._heads[name]
                self._buffers.setdefault(name, {})[seq] = BufferedMessage(
                    name, seq, message_id, data, kw["now"], int(kw["now"]) + 60
                )
        return super().read_after(stream, after, **kw)


class Frames:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, connection_id: str, data: Any) -> None:
        self.sent.append(json.loads(data))


def _resume_with(store: TwoStepStore) -> list[dict[str, Any]]:
    registry = MemoryRegistry()
    registry.store("c")
    registry.join("c", "r")
    frames = Frames()
    delivery = Delivery(store, registry=registry, sender=frames, metrics=False)
    store.take_number("room:r")
    delivery.handle_resume("c", {"streams": {"room:r": 0}})
    return frames.sent


def test_a_resume_racing_an_append_waits_for_the_message() -> None:
    store = TwoStepStore()
    store.fill_on_read = 2  # the message lands between the first and second read
    sent = _resume_with(store)
    assert [f.get("text") for f in sent[:-1]] == ["late"]
    assert sent[-1]["status"] == "ok" and sent[-1]["replayed"] == 1


def test_a_message_that_never_lands_is_continuity_lost_after_the_retries() -> None:
    store = TwoStepStore()
    sent = _resume_with(store)
    assert store.reads == 4  # the first read and three more
    assert (sent[-1]["status"], sent[-1]["latest"]) == ("lost", 1)
