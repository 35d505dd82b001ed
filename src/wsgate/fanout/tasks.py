"""The hand-off's messages: a *plan* (read this room and cut it into chunks) and a *chunk*
(post this message to these recipients), as compact JSON in an SQS message body.

Both carry the broadcast's id and the payload. Chunks are numbered within the plan, and the
queue's deduplication id is ``<broadcast>:<seq>`` (``:plan`` for the plan; a retry of the
failed part of a chunk adds ``r<attempt>``), so a plan read twice enqueues each chunk once.

A chunk is bounded: at most ``chunk_size`` recipients and :data:`MAX_MESSAGE_BYTES` as a
message (recipients grouped by endpoint, so an id costs its own length plus a few bytes).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from wsgate.exceptions import WsgateError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_CHUNK_SIZE",
    "MAX_MESSAGE_BYTES",
    "Chunk",
    "Plan",
    "TaskError",
    "chunk_recipients",
    "decode_task",
]

VERSION: Final = 1
DEFAULT_CHUNK_SIZE: Final = 500
"""Recipients per chunk: about 50 ms of sends at the sender's rate, far from any timeout."""
MAX_CHUNK_SIZE: Final = 5000
MAX_MESSAGE_BYTES: Final = 262_144
"""SQS's largest message (256 KiB)."""
_ENVELOPE: Final = 512  # keys, ids and numbers around the payload and the recipients


class TaskError(WsgateError, ValueError):
    """An SQS message is not a hand-off task (or is damaged). Carries the reason and the body.

    Attributes:
        reason: What is wrong.
        body: The start of the message body (up to 200 characters).
    """

    def __init__(self, reason: str, body: str = "") -> None:
        super().__init__(f"not a wsgate fan-out task: {reason}")
        self.reason = reason
        self.body = body[:200]


def encode_payload(body: bytes) -> dict[str, Any]:
    """The payload as JSON fields: text as is, other bytes base64."""
    try:
        return {"data": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"data64": base64.b64encode(body).decode("ascii")}


def payload_size(body: bytes) -> int:
    """Bytes the payload takes in a message (JSON escaping of text counted generously)."""
    fields = encode_payload(body)
    text = fields.get("data") or fields.get("data64") or ""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8"))


@dataclass(frozen=True, slots=True)
class Plan:
    """Read a room's or topic's members and enqueue them as chunks.

    Attributes:
        broadcast_id: The broadcast's id (deduplication ids derive from it).
        kind: ``"room"`` or ``"topic"``.
        name: The room or topic.
        body: The message to send.
        exclude: Ids not to send to.
    """

    broadcast_id: str
    kind: str
    name: str
    body: bytes
    exclude: tuple[str, ...] = ()

    def to_json(self) -> str:
        """The message body."""
        task = {"v": VERSION, "task": "plan", "id": self.broadcast_id, "kind": self.kind}
        task.update(name=self.name, exclude=list(self.exclude), **encode_payload(self.body))
        return json.dumps(task, separators=(",", ":"), ensure_ascii=False)

    @property
    def dedup_id(self) -> str:
        """The queue's deduplication id."""
        return f"{self.broadcast_id}:plan"


@dataclass(frozen=True, slots=True)
class Chunk:
    """Post one message to a bounded set of recipients.

    Attributes:
        broadcast_id: The broadcast's id.
        seq: The chunk's number within the broadcast.
        recipients: ``{endpoint or "": [connection ids]}``; ``""`` means "resolve as usual".
        body: The message to send.
        attempt: 0 for the chunk as planned; n for the n-th retry of its failed recipients.
    """

    broadcast_id: str
    seq: int
    recipients: dict[str, list[str]] = field(hash=False)
    body: bytes = b""
    attempt: int = 0

    def to_json(self) -> str:
        """The message body."""
        task: dict[str, Any] = {"v": VERSION, "task": "chunk", "id": self.broadcast_id}
        task.update(seq=self.seq, attempt=self.attempt, to=self.recipients)
        task.update(encode_payload(self.body))
        return json.dumps(task, separators=(",", ":"), ensure_ascii=False)

    @property
    def dedup_id(self) -> str:
        """The queue's deduplication id."""
        retry = f":r{self.attempt}" if self.attempt else ""
        return f"{self.broadcast_id}:{self.seq}{retry}"

    def members(self) -> list[tuple[str, str | None]]:
        """``(connection_id, endpoint or None)`` for every recipient, in order."""
        return [(cid, ep or None) for ep, ids in self.recipients.items() for cid in ids]

    def __len__(self) -> int:
        return sum(len(ids) for ids in self.recipients.values())


def chunk_recipients(
    broadcast_id: str,
    members: Iterable[Any],
    body: bytes,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    first_seq: int = 0,
) -> Iterator[Chunk]:
    """Cut ``(connection_id, endpoint)`` pairs (or :class:`~wsgate.registry.paging.Member`)
    into chunks of at most ``chunk_size`` recipients and :data:`MAX_MESSAGE_BYTES` each.

    Raises:
        TaskError: The payload leaves no room for even one recipient in a message.
    """
    budget = MAX_MESSAGE_BYTES - _ENVELOPE - payload_size(body)
    if budget < 1024:
        raise TaskError(f"a {len(body)}-byte payload leaves no room for recipients")
    seq = first_seq
    groups: dict[str, list[str]] = {}
    count = used = 0
    for member in members:
        cid, endpoint = member[0], member[1] or ""
        cost = len(cid.encode("utf-8")) + 3 + (0 if endpoint in groups else len(endpoint) + 8)
        if count and (count >= chunk_size or used + cost > budget):
            yield Chunk(broadcast_id, seq, groups, body)
            seq += 1
            groups, count, used = {}, 0, 0
            cost = len(cid.encode("utf-8")) + 3 + len(endpoint) + 8
        groups.setdefault(endpoint, []).append(cid)
        count += 1
        used += cost
    if count:
        yield Chunk(broadcast_id, seq, groups, body)


def decode_task(text: str) -> Plan | Chunk:
    """Read a message body.

    Raises:
        TaskError: Not JSON, another version, or a field missing or of the wrong type.
    """
    try:
        task = json.loads(text)
    except ValueError as exc:
        raise TaskError(f"not JSON ({exc})", text) from None
    if not isinstance(task, Mapping) or task.get("v") != VERSION:
        raise TaskError("not a version-1 task object", text)
    try:
        broadcast_id = _text(task, "id")
        if "data64" in task:
            body = base64.b64decode(_text(task, "data64"), validate=True)
        else:
            body = _text(task, "data", empty=True).encode("utf-8")
        if task.get("task") == "plan":
            kind = _text(task, "kind")
            exclude = task.get("exclude", [])
            if kind not in ("room", "topic") or not _all_text(exclude):
                raise TaskError("bad kind or exclude", text)
            return Plan(broadcast_id, kind, _text(task, "name"), body, tuple(exclude))
        if task.get("task") == "chunk":
            seq, attempt, to = task.get("seq"), task.get("attempt", 0), task.get("to")
            if not _whole(seq) or not _whole(attempt) or not isinstance(to, Mapping):
                raise TaskError("bad seq, attempt or recipients", text)
            if not all(isinstance(ep, str) and _all_text(ids) for ep, ids in to.items()):
                raise TaskError("recipients must map endpoints to lists of ids", text)
            recipients = {ep: list(ids) for ep, ids in to.items()}
            return Chunk(broadcast_id, int(seq or 0), recipients, body, int(attempt))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, TaskError):
            raise
        raise TaskError(f"bad field: {exc}", text) from None
    raise TaskError(f"unknown task {task.get('task')!r}", text)


def _text(task: Mapping[str, Any], key: str, *, empty: bool = False) -> str:
    value = task[key]
    if not isinstance(value, str) or (not value and not empty):
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _all_text(values: object) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) and v for v in values)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
