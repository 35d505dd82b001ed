"""Arbitrary client frames never crash dispatch and never touch delivery state they should not."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wsgate.delivery import Delivery, MemoryDeliveryStore, enable
from wsgate.delivery.protocol import parse_ack_id, parse_positions
from wsgate.exceptions import InvalidBodyError, SendError
from wsgate.registry.memory import MemoryRegistry
from wsgate.router import WebSocketApp
from wsgate.testing.factories import message_event


class RecordingSender:
    """Keeps what would have been posted (no @connections endpoint is needed for this)."""

    def __init__(self) -> None:
        self.frames: list[tuple[str, Any]] = []

    def send(self, connection_id: str, data: Any) -> None:
        if connection_id == "gone":
            raise SendError(connection_id, 410, "gone")
        self.frames.append((connection_id, json.loads(data)))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    body=st.dictionaries(st.text(max_size=12), json_values, max_size=4),
    field=st.sampled_from(["acks", "streams"]),
)
def test_position_parsing_raises_only_invalid_body(body: dict[str, Any], field: str) -> None:
    try:
        positions = parse_positions(body, field)
    except InvalidBodyError:
        return
    assert all(isinstance(p.seq, int) and 0 <= p.seq < 2**53 for p in positions)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_ack_id_parsing_raises_only_invalid_body(value: Any) -> None:
    try:
        ack_id = parse_ack_id({"ackId": value})
    except InvalidBodyError:
        return
    assert ack_id is None or (isinstance(ack_id, str) and 0 < len(ack_id) <= 128)


registry = MemoryRegistry()
store = MemoryDeliveryStore()
sender = RecordingSender()
app = WebSocketApp(observe=False)
delivery = enable(app, Delivery(store, registry=registry, sender=sender))
registry.store("fuzzer")
registry.store("member")
registry.join("member", "lobby")
delivery.send_to_room("lobby", {"text": "kept"})


@app.route("echo")
def echo(event: Any) -> None:
    pass


@app.default
def fallback(event: Any) -> None:
    pass


@settings(max_examples=300, deadline=None)
@given(
    action=st.sampled_from(["wsgate.ack", "wsgate.resume", "echo", "other"]),
    extra=st.dictionaries(
        st.sampled_from(["acks", "streams", "ackId", "x"]), json_values, max_size=3
    ),
    raw=st.none() | st.text(max_size=40),
)
def test_any_frame_gets_an_answer_not_a_crash(
    action: str, extra: dict[str, Any], raw: str | None
) -> None:
    body = raw if raw is not None else json.dumps({"action": action, **extra})
    event = message_event(body, app=app, connection_id="fuzzer")
    response = app.dispatch(event, None)
    assert response["statusCode"] in (200, 400)
    # The member's pending message is untouched by whatever the fuzzer sent.
    assert [(p.stream, p.seq) for p in store.pending_of("member")] == [("room:lobby", 1)]
    # Resuming a room the fuzzer is not in is always denied, never replayed.
    assert not any(cid == "fuzzer" and frame.get("text") == "kept" for cid, frame in sender.frames)
