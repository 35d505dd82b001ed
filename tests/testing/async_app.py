"""An ``async def`` app: async handlers, async middleware and awaited sends (for the test client
and the emulator alike)."""

from __future__ import annotations

import asyncio
from typing import Any

from wsgate import ConnectEvent, MessageEvent, WebSocketApp, WebSocketEvent, reject
from wsgate.gateway import (
    ws_broadcast_message_async,
    ws_get_all_connections,
    ws_send_json_async,
    ws_store_connection,
)

app = WebSocketApp()
loops: set[int] = set()


@app.middleware
async def stamp(event: WebSocketEvent, call_next: Any) -> Any:
    response = await call_next(event)
    response.headers["x-async-middleware"] = "1"
    return response


@app.connect
async def on_connect(event: ConnectEvent) -> Any:
    await asyncio.sleep(0)
    if event.query_params.get("token") == "crash":
        raise RuntimeError("async connect crash")
    if "token" not in event.query_params:
        return reject(401)
    ws_store_connection(event.connection_id, user_id=event.query_params["token"])
    return None


@app.route("hello")
async def hello(event: MessageEvent) -> None:
    loops.add(id(asyncio.get_running_loop()))
    await asyncio.sleep(0.01)
    await ws_send_json_async(event.connection_id, {"hello": event.json.get("name")})


@app.route("shout")
async def shout(event: MessageEvent) -> None:
    everyone = [c["connectionId"] for c in ws_get_all_connections()]
    results = await asyncio.gather(
        ws_broadcast_message_async(everyone, {"shout": event.json.get("text")}),
        ws_send_json_async(event.connection_id, {"sent": len(everyone)}),
    )
    assert all(results[0].values())


@app.route("echo", two_way=True)
async def echo(event: MessageEvent) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"echo": event.json.get("text")}


@app.route("boom")
async def boom(event: MessageEvent) -> None:
    await asyncio.sleep(0)
    raise ValueError("async message crash")
