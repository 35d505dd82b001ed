"""The presence wire protocol and how presence is kept in the connection registry.

Nothing here does I/O: the frames, the checks of client input, and the mapping between a
presence room and the registry's rooms and metadata, shared by :class:`~wsgate.presence.Presence`,
the route handlers and the dashboard.

Registry layout (no new registry operation is needed):

* a present connection is a member of the registry room ``wsgate.presence/<room>`` for each
  presence room it entered, and of ``wsgate.presence`` (the sweep's one Query);
* its member data and entry time are in its metadata, under ``wsgate.presence`` (an entry
  counts only while the connection is in the room's registry room; ``enter`` drops the others):
  ``{"<room>": {"data": {...}, "since": <first entry>, "at": <last data change>,
  "entered": <this connection's last enter>}}`` (epoch seconds).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from wsgate.exceptions import InvalidRecordError

__all__ = [
    "ENTER_ACTION",
    "HEARTBEAT_ACTION",
    "LEAVE_ACTION",
    "METADATA_KEY",
    "SWEEP_GROUP",
    "UPDATE_ACTION",
    "Member",
    "check_data",
    "check_room",
    "group_of",
    "members_of",
    "presence_by_room",
    "room_of",
]

ENTER_ACTION: Final = "presence.enter"
LEAVE_ACTION: Final = "presence.leave"
UPDATE_ACTION: Final = "presence.update"
HEARTBEAT_ACTION: Final = "presence.heartbeat"

GROUP_PREFIX: Final = "wsgate.presence/"
"""Registry rooms of presence rooms are named ``GROUP_PREFIX + room``."""

SWEEP_GROUP: Final = "wsgate.presence"
"""The registry room every present connection is in: the sweep reads it with one Query."""

METADATA_KEY: Final = "wsgate.presence"
"""The connection metadata key holding member data per room (reserved: merge, never replace)."""

MAX_ROOM_LENGTH: Final = 100
MAX_STATE_FRAME_BYTES: Final = 120_000
"""A ``presence.state`` frame is split into parts below this size (API Gateway's cap: 128 KB)."""


def check_room(room: object) -> str:
    """Return ``room`` if it is a usable presence room name.

    Raises:
        InvalidRecordError: Not a string of 1-100 printable ASCII characters (the limit keeps
            its delivery stream name, ``room:wsgate.presence/<room>``, within 128 characters).
    """
    if not isinstance(room, str):
        raise InvalidRecordError("room", f"expected a string, got {type(room).__name__}")
    if not room or len(room) > MAX_ROOM_LENGTH:
        raise InvalidRecordError("room", f"must be 1-{MAX_ROOM_LENGTH} characters")
    if not all(" " <= ch <= "~" for ch in room):
        raise InvalidRecordError("room", "must be printable ASCII")
    return room


def check_data(data: object, limit: int) -> dict[str, Any]:
    """A private JSON copy of member data (name, avatar, status, ...).

    Raises:
        InvalidRecordError: Not a JSON object with string keys, or over ``limit`` bytes as
            compact JSON.
    """
    if data is None:
        return {}
    if not isinstance(data, Mapping) or not all(isinstance(k, str) for k in data):
        raise InvalidRecordError("data", "member data must be a JSON object")
    try:
        text = json.dumps(dict(data), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRecordError("data", f"not JSON-serialisable: {exc}") from None
    size = len(text.encode())
    if size > limit:
        raise InvalidRecordError("data", f"member data is {size} bytes, over {limit}")
    result: dict[str, Any] = json.loads(text)
    return result


def group_of(room: str) -> str:
    """The registry room of a presence room."""
    return GROUP_PREFIX + room


def room_of(group: str) -> str | None:
    """The presence room of a registry room, or ``None`` for another room."""
    return group[len(GROUP_PREFIX) :] if group.startswith(GROUP_PREFIX) else None


def rooms_present(record: Any) -> frozenset[str]:
    """The presence rooms a registry record is in."""
    return frozenset(r for g in record.rooms if (r := room_of(g)) is not None)


def entries(record: Any) -> dict[str, dict[str, Any]]:
    """The record's per-room presence entries from its metadata (``{}`` when absent/malformed)."""
    found = record.metadata.get(METADATA_KEY) if isinstance(record.metadata, Mapping) else None
    if not isinstance(found, Mapping):
        return {}
    return {k: dict(v) for k, v in found.items() if isinstance(v, Mapping)}


def last_sign_of_life(record: Any) -> float:
    """The latest of the record's last activity and the times it entered its rooms (an update
    made through another tab of the same user is no sign of life of this connection)."""
    times = [float(record.last_activity or 0.0)]
    rooms = rooms_present(record)
    for room, entry in entries(record).items():
        if room in rooms:
            times.append(_number(entry.get("entered"), 0.0))
    return max(times)


@dataclass(frozen=True, slots=True)
class Member:
    """One user present in a room, however many connections (tabs, devices) they have there.

    Attributes:
        user_id: The user id; for a connection without one, ``anonymous:<hash of its id>``.
        data: The member data (name, avatar, status): that of the user's connection that
            entered or updated last.
        connections: The user's connection ids present in the room, sorted.
        since: When the user's earliest present connection entered, epoch seconds.
        anonymous: The connection has no user id: it is a member of its own.
    """

    user_id: str
    data: dict[str, Any] = field(default_factory=dict, hash=False)
    connections: tuple[str, ...] = ()
    since: float = 0.0
    anonymous: bool = False

    def to_frame(self) -> dict[str, Any]:
        """The member as the frames carry it (connection ids stay on the server)."""
        item: dict[str, Any] = {
            "userId": self.user_id,
            "data": self.data,
            "connections": len(self.connections),
            "since": self.since,
        }
        if self.anonymous:
            item["anonymous"] = True
        return item


def member_key(record: Any) -> tuple[str, bool]:
    """The member a connection counts towards: its user id, else a key of its own."""
    if record.user_id:
        return str(record.user_id), False
    digest = hashlib.sha256(record.connection_id.encode()).hexdigest()[:16]
    return f"anonymous:{digest}", True


def members_of(room: str, records: Iterable[Any]) -> dict[str, Member]:
    """The members of ``room`` by user id, from the records of its present connections."""
    grouped: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    anonymous: dict[str, bool] = {}
    for record in records:
        key, anon = member_key(record)
        anonymous[key] = anon
        grouped.setdefault(key, []).append((record, entries(record).get(room, {})))
    members: dict[str, Member] = {}
    for key, items in grouped.items():
        ids = tuple(sorted(r.connection_id for r, _ in items))
        since = min(_number(e.get("since"), r.connected_at) for r, e in items)
        newest = max(
            items, key=lambda item: (_number(item[1].get("at"), 0.0), item[0].connection_id)
        )
        data = newest[1].get("data")
        members[key] = Member(
            key, dict(data) if isinstance(data, Mapping) else {}, ids, since, anonymous[key]
        )
    return dict(sorted(members.items(), key=lambda kv: (kv[1].since, kv[0])))


def _number(value: object, default: float) -> float:
    return (
        float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default
    )


def presence_by_room(records: Iterable[Any]) -> dict[str, list[dict[str, Any]]]:
    """Every presence room among ``records`` with its members (for the emulator dashboard):
    ``{room: [{"userId", "data", "connections": [ids], "since", ...}]}``, rooms sorted."""
    by_room: dict[str, list[Any]] = {}
    for record in records:
        for room in rooms_present(record):
            by_room.setdefault(room, []).append(record)
    return {
        room: [
            {**member.to_frame(), "connections": list(member.connections)}
            for member in members_of(room, found).values()
        ]
        for room, found in sorted(by_room.items())
    }


# --- frames (server -> client) ---------------------------------------------------------------


def event_payload(kind: str, room: str, members: Iterable[Member]) -> dict[str, Any]:
    """A ``presence.join`` / ``presence.leave`` / ``presence.update`` payload."""
    return {"type": f"presence.{kind}", "room": room, "members": [m.to_frame() for m in members]}


def state_frames(
    room: str, members: Iterable[Member], *, heartbeat: float, timeout: float, seq: int | None
) -> list[str]:
    """The ``presence.state`` frame(s) for one room, split into parts that each fit a frame.

    Every part carries ``part`` (1-based) and ``parts``; a client shows the list once it has
    them all. ``heartbeat`` is the interval the client should send heartbeats at, ``timeout``
    the silence after which the sweep removes a connection; ``seq``, when acked delivery is
    on, is the position of the room's presence stream the list reflects.
    """
    items = [json.dumps(m.to_frame(), separators=(",", ":"), ensure_ascii=False) for m in members]
    head = {"type": "presence.state", "room": room, "heartbeat": heartbeat, "timeout": timeout}
    if seq is not None:
        head["seq"] = seq
    chunks: list[list[str]] = [[]]
    size = 0
    for item in items:
        if chunks[-1] and size + len(item) + 1 > MAX_STATE_FRAME_BYTES - 512:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += len(item.encode()) + 1
    frames = []
    prefix = json.dumps(head, separators=(",", ":"))[:-1]
    for number, chunk in enumerate(chunks, 1):
        parts = f',"part":{number},"parts":{len(chunks)},"members":[{",".join(chunk)}]}}'
        frames.append(prefix + parts)
    return frames


def expired_frame(room: str) -> str:
    """Told to a connection the sweep removed for silence: enter again if you are still here."""
    return json.dumps({"type": "presence.expired", "room": room}, separators=(",", ":"))


def error_frame(reason: str, room: str | None = None) -> str:
    """The answer to a malformed presence frame (nothing was changed)."""
    body: dict[str, Any] = {"type": "presence.error", "reason": reason}
    if room is not None:
        body["room"] = room
    return json.dumps(body, separators=(",", ":"))
