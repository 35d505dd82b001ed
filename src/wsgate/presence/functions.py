"""Presence in the seed's style: ``ws_presence_*`` functions over one process-wide
:class:`~wsgate.presence.Presence`.

::

    from wsgate.presence.functions import ws_presence_enter, ws_presence_members

    ws_presence_enter(connection_id, "lobby", {"name": "Ada"})
    for member in ws_presence_members("lobby"):
        print(member["userId"], member["data"], member["connections"])

They use the ``Presence`` that :func:`wsgate.presence.enable` installed last, else one built
on the ``ws_*`` functions' registry and sender (:mod:`wsgate.config`). Members come back as
dicts: ``userId``, ``data``, ``connections`` (the ids), ``since`` (epoch seconds), and
``anonymous`` when the connection has no user id.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from wsgate.presence.protocol import Member
from wsgate.presence.service import Presence

__all__ = [
    "set_default_presence",
    "ws_presence_count",
    "ws_presence_enter",
    "ws_presence_heartbeat",
    "ws_presence_leave",
    "ws_presence_members",
    "ws_presence_sweep",
    "ws_presence_update",
]

_lock = threading.Lock()
_default: Presence | None = None


def set_default_presence(presence: Presence | None) -> None:
    """Make ``presence`` the one the functions use (``None``: build one on next use)."""
    global _default
    with _lock:
        _default = presence


def _presence() -> Presence:
    global _default
    with _lock:
        if _default is None:
            _default = Presence()
        return _default


def _item(member: Member) -> dict[str, Any]:
    item: dict[str, Any] = {
        "userId": member.user_id,
        "data": dict(member.data),
        "connections": list(member.connections),
        "since": member.since,
    }
    if member.anonymous:
        item["anonymous"] = True
    return item


def ws_presence_enter(
    connection_id: str, room_id: str, data: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Enter ``room_id`` with member ``data``; returns the member dict. See
    :meth:`Presence.enter`."""
    return _item(_presence().enter(connection_id, room_id, data))


def ws_presence_update(connection_id: str, room_id: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Change the member data of the connection's user; returns the member dict."""
    return _item(_presence().update(connection_id, room_id, data))


def ws_presence_leave(connection_id: str, room_id: str) -> bool:
    """Leave ``room_id``'s presence; True when the connection was present."""
    return _presence().leave(connection_id, room_id)


def ws_presence_members(room_id: str) -> list[dict[str, Any]]:
    """The users present in ``room_id``, earliest first."""
    return [_item(m) for m in _presence().members(room_id)]


def ws_presence_count(room_id: str) -> int:
    """How many users are present in ``room_id``."""
    return _presence().count(room_id)


def ws_presence_heartbeat(connection_id: str) -> bool:
    """Record a sign of life; True when the registry was written (at most once per
    heartbeat interval)."""
    return _presence().alive(connection_id)


def ws_presence_sweep() -> dict[str, int]:
    """Remove silent connections from presence and announce it (run on a schedule)."""
    return _presence().sweep()
