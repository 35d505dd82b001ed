"""An app that makes every handshake, routing and close outcome visible to a client.

Used by ``test_parity.py`` in process and behind ``wsgate serve``: ``$disconnect`` tells the
connections of user ``watcher`` which connection closed, with which code and reason.
"""

from __future__ import annotations

from typing import Any

from wsgate import ConnectEvent, DisconnectEvent, MessageEvent, WebSocketApp, reject
from wsgate.gateway import (
    ws_broadcast_to_users,
    ws_delete_connection,
    ws_get_connection,
    ws_store_connection,
)

app = WebSocketApp(observe=False)


@app.connect
def on_connect(event: ConnectEvent) -> Any:
    token = event.query_params.get("token")
    if token == "bad":
        return reject(401)
    if token == "crash":
        raise RuntimeError("connect crashed")
    ws_store_connection(
        event.connection_id,
        user_id=token,
        metadata={
            "ua": event.headers.get("User-Agent"),
            "auth": event.headers.get("Authorization"),
        },
    )
    offered = event.headers.get("Sec-WebSocket-Protocol") or ""
    if "chat.v2" in offered:
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "chat.v2"}}
    return None


@app.disconnect
def on_disconnect(event: DisconnectEvent) -> None:
    ws_delete_connection(event.connection_id)
    ws_broadcast_to_users(
        ["watcher"],
        {
            "bye": event.connection_id,
            "code": event.disconnect_status_code,
            "reason": event.disconnect_reason,
        },
    )


@app.route("echo", two_way=True)
def echo(event: MessageEvent) -> Any:
    return {"echo": event.json.get("text"), "me": ws_get_connection(event.connection_id)}


@app.route("boom")
def boom(event: MessageEvent) -> None:
    raise ValueError("one-way handler bug")


@app.route("boom2", two_way=True)
def boom2(event: MessageEvent) -> None:
    raise ValueError("two-way handler bug")
