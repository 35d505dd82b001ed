"""A route- and authorizer-rich app for the template tests (not the chat example)."""

from __future__ import annotations

from typing import Any

from wsgate import WebSocketApp

app = WebSocketApp("$request.body.type", name="rich-api")


@app.authorizer(
    identity_sources=["route.request.header.Authorization", "route.request.querystring.token"]
)
def authorize(request: Any) -> Any:
    raise NotImplementedError  # never called: the template only reads the declaration


@app.connect
def on_connect(event: Any) -> None:
    return None


@app.disconnect
def on_disconnect(event: Any) -> None:
    return None


@app.default
def fallback(event: Any) -> None:
    return None


@app.route("sendMessage")
def send_message(event: Any) -> None:
    return None


@app.route("echo", two_way=True)
def echo(event: Any) -> str:
    return event.body  # type: ignore[no-any-return]


@app.route("send-message")
def send_message_dashed(event: Any) -> None:
    return None


@app.route("room.join", two_way=True)
def join(event: Any) -> dict[str, Any]:
    return {"joined": True}


@app.route("price${x}")
def dollar(event: Any) -> None:
    return None
