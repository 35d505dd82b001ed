"""The delivery protocol's messages: what goes over the wire, both ways. Stdlib only.

Every frame is one JSON object. Client → server frames carry the app's route key
(``action`` by default) so API Gateway routes them. A tracked server → client message is the
app's own JSON object plus one reserved key, ``wsgate``, holding its stream, sequence number and
id — so a client that does not speak the protocol still reads the app's fields. The protocol's
own server → client frames carry a ``type`` starting with ``wsgate.``.

Client → server::

    {"action": "sendMessage", "ackId": "c1-17", ...}        an app message that wants an ack
    {"action": "wsgate.ack", "acks": {"room:lobby": 12}}     "I have everything up to 12"
    {"action": "wsgate.resume", "streams": {"room:lobby": 12}}   "replay what came after 12"

Server → client::

    {…the app's fields…, "wsgate": {"stream": "room:lobby", "seq": 13, "id": "…"}}
                                 (redeliveries add "attempt": 2, 3, … inside "wsgate")
    {"type": "wsgate.ack", "ackId": "c1-17", "status": "accepted"}     (or "rejected" + reason)
    {"type": "wsgate.sync", "stream": "room:lobby", "seq": 12}         position at subscribe
    {"type": "wsgate.resumed", "stream": "room:lobby", "status": "ok", "from": 12, "latest": 20,
     "replayed": 8}               (or "lost" + "oldest": the replay began there / "denied")
    {"type": "wsgate.error", "reason": "…"}                            a malformed protocol frame
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from wsgate.exceptions import InvalidBodyError

__all__ = [
    "ACK_ACTION",
    "ACK_ID_FIELD",
    "MAX_ID_LENGTH",
    "RESUME_ACTION",
    "TRACKING_KEY",
    "StreamAck",
    "ack_frame",
    "error_frame",
    "message_frame",
    "parse_ack_id",
    "parse_positions",
    "resumed_frame",
    "room_stream",
    "sync_frame",
    "user_stream",
]

ACK_ACTION: Final = "wsgate.ack"
"""Route key of the client's acknowledgement of server messages."""

RESUME_ACTION: Final = "wsgate.resume"
"""Route key of the client's resume request after a reconnect (or a gap)."""

TRACKING_KEY: Final = "wsgate"
"""Key a tracked message's stream, sequence number and id are added under (reserved)."""

ACK_ID_FIELD: Final = "ackId"
"""Body field of an app message that asks the server for an acknowledgement."""

MAX_ID_LENGTH: Final = 128
"""Longest ack id or stream name accepted."""

MAX_STREAMS_PER_FRAME: Final = 64
"""Most streams one ack or resume frame may name (bounds the work one frame can cause)."""

MAX_SEQ: Final = 2**53 - 1
"""Largest sequence number: JavaScript clients read numbers as doubles."""

_NAME = re.compile(r"^[\x21-\x7e]{1,128}$")

AckStatus = Literal["accepted", "rejected", "pending"]
ResumeStatus = Literal["ok", "lost", "denied"]


def room_stream(room: str) -> str:
    """The stream name of a room: its messages share one sequence."""
    return f"room:{room}"


def user_stream(user_id: str) -> str:
    """The stream name of a user: messages to all of a user's connections share one sequence."""
    return f"user:{user_id}"


def _dumps(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def message_frame(
    stream: str, seq: int, message_id: str, data_json: str, *, attempt: int = 1
) -> str:
    """A tracked server → client message: the app's JSON object (``data_json``, compact JSON
    text of an object without a ``wsgate`` key) with the ``wsgate`` key added."""
    meta: dict[str, Any] = {"stream": stream, "seq": seq, "id": message_id}
    if attempt > 1:
        meta["attempt"] = attempt
    tail = f'"{TRACKING_KEY}":{_dumps(meta)}}}'
    return "{" + tail if data_json == "{}" else f"{data_json[:-1]},{tail}"


def ack_frame(
    ack_id: str, status: AckStatus, reason: str | None = None, *, duplicate: bool = False
) -> str:
    """The server's answer to a client message carrying ``ackId``."""
    frame: dict[str, Any] = {"type": "wsgate.ack", "ackId": ack_id, "status": status}
    if reason:
        frame["reason"] = reason
    if duplicate:
        frame["duplicate"] = True
    return _dumps(frame)


def sync_frame(stream: str, seq: int) -> str:
    """Tells a client where a stream stands, so it expects ``seq + 1`` next."""
    return _dumps({"type": "wsgate.sync", "stream": stream, "seq": seq})


def resumed_frame(
    stream: str,
    status: ResumeStatus,
    *,
    after: int,
    latest: int,
    replayed: int = 0,
    oldest: int | None = None,
) -> str:
    """The outcome of resuming one stream (sent after the replayed messages)."""
    frame: dict[str, Any] = {
        "type": "wsgate.resumed",
        "stream": stream,
        "status": status,
        "from": after,
        "latest": latest,
        "replayed": replayed,
    }
    if oldest is not None:
        frame["oldest"] = oldest
    return _dumps(frame)


def error_frame(reason: str) -> str:
    """Tells the client one of its protocol frames was refused, and why."""
    return _dumps({"type": "wsgate.error", "reason": reason})


@dataclass(frozen=True, slots=True)
class StreamAck:
    """A stream name and a sequence number, as named in an ack or a resume frame."""

    stream: str
    seq: int


def _check_name(value: object, field: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidBodyError(
            f"expected 1-{MAX_ID_LENGTH} printable ASCII characters, got {value!r:.80}", field
        )
    return value


def parse_ack_id(body: Mapping[str, Any]) -> str | None:
    """The ``ackId`` of an app message, or ``None`` when it asks for no ack.

    Raises:
        InvalidBodyError: ``ackId`` is present but not a short printable string.
    """
    value = body.get(ACK_ID_FIELD)
    if value is None:
        return None
    return _check_name(value, ACK_ID_FIELD)


def parse_positions(body: Mapping[str, Any], field: str) -> list[StreamAck]:
    """The ``{stream: seq}`` map of an ack (``acks``) or resume (``streams``) frame.

    Raises:
        InvalidBodyError: The field is missing, not a map, too long, or holds a bad name or a
            sequence number that is not a whole number in ``0..2**53-1``.
    """
    raw = body.get(field)
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidBodyError("expected a non-empty map of stream name to sequence", field)
    if len(raw) > MAX_STREAMS_PER_FRAME:
        raise InvalidBodyError(f"more than {MAX_STREAMS_PER_FRAME} streams", field)
    result = []
    for stream, seq in raw.items():
        name = _check_name(stream, f"{field}.{stream!s:.40}")
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= MAX_SEQ:
            raise InvalidBodyError(
                f"expected a whole number 0..2**53-1, got {seq!r:.40}", f"{field}.{name}"
            )
        result.append(StreamAck(name, seq))
    return result
