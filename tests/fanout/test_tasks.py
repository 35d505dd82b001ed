"""Hand-off messages: chunks bounded in count and bytes, round trips, damaged messages."""

from __future__ import annotations

import json

import pytest

from wsgate.fanout.tasks import (
    MAX_MESSAGE_BYTES,
    Chunk,
    Plan,
    TaskError,
    chunk_recipients,
    decode_task,
)

EP = "https://abc.execute-api.eu-west-1.amazonaws.com/prod"


def test_chunks_are_bounded_by_count_and_keep_every_recipient_once() -> None:
    members = [(f"id{n:05d}=", EP if n % 2 else None) for n in range(1234)]
    chunks = list(chunk_recipients("b1", members, b"hi", chunk_size=100))
    assert [c.seq for c in chunks] == list(range(13))
    assert all(len(c) <= 100 for c in chunks)
    assert sorted(m[0] for c in chunks for m in c.members()) == [m[0] for m in members]
    assert {m for c in chunks for m in c.members()} == set(members)
    assert len({c.dedup_id for c in chunks}) == 13


def test_chunks_are_bounded_by_message_size_with_a_large_payload() -> None:
    body = ("é" * 60_000).encode()  # 120,000 bytes of text
    members = [(f"{n:040d}", EP) for n in range(5000)]
    chunks = list(chunk_recipients("b2", members, body, chunk_size=5000))
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(chunk.to_json().encode()) <= MAX_MESSAGE_BYTES
    assert sum(len(c) for c in chunks) == 5000


def test_binary_payloads_round_trip() -> None:
    body = bytes(range(256))
    chunk = Chunk("b3", 7, {EP: ["a", "b"], "": ["c"]}, body, attempt=2)
    again = decode_task(chunk.to_json())
    assert again == chunk and again.body == body and again.dedup_id == "b3:7:r2"
    plan = Plan("b3", "topic", "news", b"{}", ("x",))
    assert decode_task(plan.to_json()) == plan


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        json.dumps({"v": 2, "task": "plan"}),
        json.dumps({"v": 1, "task": "nap", "id": "x", "data": ""}),
        json.dumps({"v": 1, "task": "plan", "id": "x", "kind": "hall", "name": "n", "data": ""}),
        json.dumps({"v": 1, "task": "chunk", "id": "x", "seq": -1, "to": {}, "data": ""}),
        json.dumps({"v": 1, "task": "chunk", "id": "x", "seq": 1, "to": {"e": [3]}, "data": ""}),
        json.dumps({"v": 1, "task": "chunk", "id": "x", "seq": 1, "to": {}, "data64": "!!"}),
        json.dumps({"v": 1, "task": "chunk", "id": "", "seq": 1, "to": {}, "data": ""}),
    ],
)
def test_damaged_messages_are_refused_with_the_reason(body: str) -> None:
    with pytest.raises(TaskError) as caught:
        decode_task(body)
    assert caught.value.reason and caught.value.body == body[:200]


def test_a_payload_too_large_for_any_chunk_is_refused() -> None:
    with pytest.raises(TaskError):
        list(chunk_recipients("b4", [("a", None)], b"x" * 262_000))
