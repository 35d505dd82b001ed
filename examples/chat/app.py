"""A complete chat app on wsgate: user names, rooms, messages broadcast to the room.

Run it locally with ``wsgate serve examples/chat/app.py`` (or ``scripts/run``) and open
http://127.0.0.1:3001/ in two browser tabs. Deployed, the same module is the Lambda handler
(``app.app``) behind API Gateway; the connection registry is DynamoDB there and SQLite locally.

Client → server messages (the route is picked by ``$request.body.action``)::

    {"action": "setName", "name": "ada"}
    {"action": "join", "room": "lobby"}
    {"action": "leave", "room": "lobby"}
    {"action": "sendMessage", "room": "lobby", "text": "hello"}
    {"action": "whoami"}                      (two-way: the answer is the route's response)

Server → client messages are JSON objects with a ``type``: ``name``, ``joined``, ``left``,
``members``, ``message``, ``error``, ``me``.

Each route declares its body as a dataclass (``wsgate.bodies``, docs/bodies.md): a message that
does not match (a missing ``room``, a number for ``text``) never reaches the handler; the page
gets one ``wsgate.invalid`` frame listing the fields. ``wsgate asyncapi examples/chat/app.py``
describes the whole API (AsyncAPI 3.0); ``wsgate serve`` shows it at ``/_wsgate/asyncapi``.

Chat messages go out with acknowledged delivery (``wsgate.delivery``, docs/delivery.md): each
carries a per-room sequence number, the page's ``wsgate-client.js`` acks it, delivers it in
order and once, and after a dropped connection resumes the room from the replay buffer.
Unacked messages are redelivered by later invocations and by ``sweep``, the handler of an
EventBridge schedule (Lambda has no timers).

Who is online (``wsgate.presence``, docs/presence.md): the page's ``wsgate-presence.js`` enters
each joined room with the user's name and sends heartbeats; the member list updates live, a
user with several tabs shows once, and ``sweep`` also removes users whose ``$disconnect`` never
came.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

from wsgate.bodies import dump
from wsgate.delivery import Delivery, enable
from wsgate.gateway import (
    log_info,
    ws_broadcast_message,
    ws_delete_connection,
    ws_get_connection,
    ws_get_connections_by_room,
    ws_join_room,
    ws_leave_room,
    ws_send_message,
    ws_store_connection,
    ws_update_connection,
)
from wsgate.presence import Presence
from wsgate.presence import enable as enable_presence
from wsgate.router import WebSocketApp

app = WebSocketApp(route_selection_expression="$request.body.action")
# State (sequences, replay buffer, pending acks) lives beside the connection registry.
delivery = enable(app, Delivery())
# Presence rides on acked delivery (enabled first); its state lives in the registry too.
presence = enable_presence(app, Presence())


def sweep(event: Any = None, context: Any = None) -> dict[str, Any]:
    """The EventBridge schedule's handler: redeliver unacked messages, remove ghosts."""
    return {
        "delivery": delivery.scheduled_handler(event, context),
        "presence": presence.scheduled_handler(event, context),
    }


_ROOM = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_TEXT = 2000


@dataclass
class SetName:
    """Choose the name others see."""

    name: str


@dataclass
class RoomRequest:
    """Join or leave a room (1-32 letters, digits, '-' or '_')."""

    room: str


@dataclass
class SendMessage:
    """Say something in a room you joined."""

    room: str
    text: str


@dataclass
class ChatMessage:
    """A chat line, sent to every member of the room (acked, in order, resumable)."""

    type: Literal["message"]
    room: str
    user: str
    text: str
    at: float


@dataclass
class Me:
    """The answer of ``whoami``."""

    type: Literal["me"]
    connectionId: str  # the wire name
    user: str | None


app.server_message("message", ChatMessage)


def _name_of(connection_id: str) -> str:
    record = ws_get_connection(connection_id)
    if record and record.get("userId"):
        return str(record["userId"])
    return "anonymous"


def _to_room(room: str, payload: dict[str, Any]) -> None:
    members = ws_get_connections_by_room(room)
    ws_broadcast_message(members, json.dumps(payload))


def _error(connection_id: str, text: str) -> None:
    ws_send_message(connection_id, json.dumps({"type": "error", "error": text}))


def _room(event: Any, room: str) -> str | None:
    if _ROOM.match(room):
        return room
    _error(event.connection_id, "room must be 1-32 letters, digits, '-' or '_'")
    return None


@app.connect
def on_connect(event: Any) -> dict[str, Any]:
    # Never post to the connection here: it does not exist until $connect returns (410).
    name = (event.query_params.get("name") or "").strip()[:32] or None
    ws_store_connection(event.connection_id, user_id=name)
    log_info("connected", connection_id=event.connection_id, user=name)
    return {"statusCode": 200}


@app.disconnect
def on_disconnect(event: Any) -> None:
    record = ws_get_connection(event.connection_id)
    ws_delete_connection(event.connection_id)
    if record:
        user = record.get("userId") or "anonymous"
        for room in record.get("rooms") or ():
            _to_room(room, {"type": "left", "room": room, "user": user})


@app.route("setName")
def set_name(event: Any, body: SetName) -> None:
    name = body.name.strip()[:32]
    if not name:
        _error(event.connection_id, "name must not be empty")
        return
    # The presence member is the user: leave under the old name, enter under the new one.
    rooms = presence.rooms_of(event.connection_id)
    for room in rooms:
        presence.leave(event.connection_id, room)
    ws_update_connection(event.connection_id, {"userId": name})
    for room in rooms:
        presence.enter(event.connection_id, room, {"name": name})
    ws_send_message(event.connection_id, json.dumps({"type": "name", "name": name}))


@app.route("join")
def join(event: Any, body: RoomRequest) -> None:
    room = _room(event, body.room)
    if room is None:
        return
    ws_join_room(event.connection_id, room)
    members = ws_get_connections_by_room(room)
    names = sorted({str(m.get("userId") or "anonymous") for m in members})
    ws_send_message(
        event.connection_id, json.dumps({"type": "members", "room": room, "users": names})
    )
    _to_room(room, {"type": "joined", "room": room, "user": _name_of(event.connection_id)})


@app.route("leave")
def leave(event: Any, body: RoomRequest) -> None:
    room = _room(event, body.room)
    if room is None:
        return
    if ws_leave_room(event.connection_id, room):
        ws_send_message(
            event.connection_id, json.dumps({"type": "left", "room": room, "user": "you"})
        )
        _to_room(room, {"type": "left", "room": room, "user": _name_of(event.connection_id)})


@app.route("sendMessage")
def send_message(event: Any, body: SendMessage) -> None:
    room = _room(event, body.room)
    if room is None:
        return
    text = body.text
    if not text.strip():
        _error(event.connection_id, "text must be a non-empty string")
        return
    record = ws_get_connection(event.connection_id)
    if not record or room not in (record.get("rooms") or ()):
        _error(event.connection_id, f"join {room} first")
        return
    message = ChatMessage(
        type="message",
        room=room,
        user=record.get("userId") or "anonymous",
        text=text[:MAX_TEXT],
        at=time.time(),
    )
    delivery.send_to_room(room, dump(message))


@app.route("whoami", two_way=True)
def whoami(event: Any) -> Me:
    record = ws_get_connection(event.connection_id) or {}
    return Me(type="me", connectionId=event.connection_id, user=record.get("userId"))


@app.default
def unknown(event: Any) -> None:
    _error(event.connection_id, "unknown action; use setName, join, leave, sendMessage, whoami")
