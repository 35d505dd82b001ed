"""The presence test app: ``$connect`` stores ``?user=``; presence with its client routes."""

from __future__ import annotations

from typing import Any

from wsgate.gateway import ws_delete_connection, ws_store_connection
from wsgate.presence import Presence, enable
from wsgate.router import WebSocketApp


def make_app(*, delivery: Any = None, **options: Any) -> tuple[WebSocketApp, Presence]:
    """A fresh app and its presence (``options`` go to :class:`Presence`)."""
    app = WebSocketApp(route_selection_expression="$request.body.action")

    @app.connect
    def connect(event: Any) -> None:
        ws_store_connection(event.connection_id, user_id=event.query_params.get("user"))

    @app.disconnect
    def disconnect(event: Any) -> None:
        ws_delete_connection(event.connection_id)

    @app.route("echo")
    def echo(event: Any) -> None:
        return None

    if delivery is not None:
        from wsgate.delivery import enable as enable_delivery

        enable_delivery(app, delivery)
    presence = enable(app, Presence(**options))
    return app, presence
