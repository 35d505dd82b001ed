"""Small pieces of a tracked send: payload checks, frames, recipients, posting to many."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from wsgate.delivery import protocol
from wsgate.delivery.store import BufferedMessage
from wsgate.exceptions import ConnectionGoneError, SendError

__all__ = ["frame_of", "id_of", "post_many", "to_json", "unique"]


def to_json(data: Any) -> str:
    """Compact JSON of a tracked payload.

    Raises:
        TypeError: Not a dict with str keys, holds the reserved ``wsgate`` key, or is not
            JSON-serialisable (NaN, sets, objects).
    """
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise TypeError(
            f"a tracked message is a JSON object (a dict with str keys), not {type(data).__name__}"
        )
    if protocol.TRACKING_KEY in data:
        raise TypeError(f"the key {protocol.TRACKING_KEY!r} is reserved for delivery tracking")
    try:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"tracked messages must be JSON-serialisable: {exc}") from None


def post_many(sender: Any, targets: list[Any], frame: str) -> dict[str, SendError | None]:
    """Post ``frame`` to every target: through ``sender.broadcast`` when it has one (bounded
    concurrency, per-recipient results), else one ``send`` at a time. ``None`` means posted."""
    outcome: dict[str, SendError | None] = {}
    if not targets:
        return outcome
    broadcast = getattr(sender, "broadcast", None)
    if broadcast is not None:
        answer = broadcast(targets, frame)
        for cid in answer.sent:
            outcome[cid] = None
        for cid in answer.gone:
            outcome[cid] = ConnectionGoneError(cid)
        for cid, error in answer.failed.items():
            outcome[cid] = error
        return outcome
    for target in targets:
        cid = id_of(target)
        try:
            sender.send(cid, frame)
        except SendError as exc:
            outcome[cid] = exc
        else:
            outcome[cid] = None
    return outcome


def frame_of(message: BufferedMessage, attempt: int) -> str:
    """The wire frame of a buffered message, for its ``attempt``-th post."""
    return protocol.message_frame(
        message.stream, message.seq, message.message_id, message.data, attempt=attempt
    )


def id_of(target: Any) -> str:
    """The connection id of a recipient: an id, a ``Connection``, or a dict with one."""
    if isinstance(target, str):
        return target
    if isinstance(target, Mapping):
        return str(target["connectionId"])
    return str(target.connection_id)


def unique(recipients: Iterable[Any]) -> list[Any]:
    """Recipients without repeats (by connection id), in their first order."""
    seen: set[str] = set()
    result = []
    for target in recipients:
        cid = id_of(target)
        if cid not in seen:
            seen.add(cid)
            result.append(target)
    return result
