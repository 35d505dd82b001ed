"""The wire format, and what a tracked send refuses before touching any store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from wsgate.delivery import Delivery, MemoryDeliveryStore
from wsgate.delivery.protocol import message_frame, parse_ack_id, parse_positions
from wsgate.exceptions import InvalidBodyError, PayloadTooLargeError


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
