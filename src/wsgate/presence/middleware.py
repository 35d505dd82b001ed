"""Wiring :class:`~wsgate.presence.Presence` into a :class:`~wsgate.router.WebSocketApp`.

:func:`enable` adds the presence routes (``presence.enter``, ``presence.leave``,
``presence.update``, ``presence.heartbeat``) and one middleware that counts every message as a
sign of life (throttled: see :meth:`Presence.alive`) and removes a closed connection from
presence on ``$disconnect``, announcing the leave at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wsgate.events import WebSocketEvent
from wsgate.exceptions import (
    ConnectionNotFound,
    EventError,
    InvalidRecordError,
    MessageRejected,
    SendError,
    WsgateError,
)
from wsgate.presence import protocol
from wsgate.responses import Response, error_response

if TYPE_CHECKING:
    from wsgate.presence.service import Presence
    from wsgate.router import CallNext, WebSocketApp

__all__ = ["PresenceMiddleware", "enable"]

logger = logging.getLogger("wsgate.presence")


def enable(app: WebSocketApp, presence: Presence, *, client_routes: bool = True) -> Presence:
    """Turn on presence for ``app``: call once, at import time (after
    :func:`wsgate.delivery.enable` when the app uses acked delivery, so presence frames ride
    on it).

    Adds the ``presence.heartbeat`` route and, with ``client_routes``, ``presence.enter``,
    ``presence.leave`` and ``presence.update`` (bodies ``{"room": ..., "data": {...}}``; leave
    them out to enter users from your own routes with :meth:`Presence.enter`). Stores
    ``presence`` as ``app.presence``: the emulator's sweep finds it there.

    Raises:
        DuplicateRouteError: The app already has one of these routes.
    """
    if presence.delivery is None:
        presence.delivery = getattr(app, "delivery", None) or None

    @app.route(protocol.HEARTBEAT_ACTION)
    def _heartbeat(event: WebSocketEvent) -> None:
        return None  # the middleware records the sign of life

    if client_routes:

        @app.route(protocol.ENTER_ACTION)
        def _enter(event: WebSocketEvent) -> Response | None:
            body = _body(event)
            return _run(app, event, presence.enter, body.get("room"), body.get("data"))

        @app.route(protocol.UPDATE_ACTION)
        def _update(event: WebSocketEvent) -> Response | None:
            body = _body(event)
            return _run(app, event, presence.update, body.get("room"), body.get("data"))

        @app.route(protocol.LEAVE_ACTION)
        def _leave(event: WebSocketEvent) -> Response | None:
            return _run(app, event, presence.leave, _body(event).get("room"))

    app.add_middleware(PresenceMiddleware(presence))
    app.presence = presence  # type: ignore[attr-defined]
    from wsgate.presence.functions import set_default_presence

    set_default_presence(presence)
    return presence


def _body(event: WebSocketEvent) -> Mapping[str, Any]:
    try:
        document = event.json
    except EventError:
        return {}
    return document if isinstance(document, Mapping) else {}


def _run(app: Any, event: WebSocketEvent, func: Any, *args: Any) -> Response | None:
    """Run a presence change for the event's connection; bad input is answered, not raised
    (as a rejected ack when the app has acked delivery, else a ``presence.error`` frame)."""
    try:
        func(event.connection_id, *args)
    except (InvalidRecordError, ConnectionNotFound) as exc:
        if isinstance(exc, InvalidRecordError):
            reason = str(exc)
        elif func.__name__ == "enter":
            reason = "unknown connection"
        else:
            reason = "not present in this room"
        if getattr(app, "delivery", None) is not None:
            raise MessageRejected(reason) from None
        room = args[0] if args and isinstance(args[0], str) else None
        try:
            app.presence.sender.send(event.connection_id, protocol.error_frame(reason, room))
        except SendError as send_error:
            logger.info("could not answer %s: %s", event.connection_id, send_error)
        return error_response(400, reason)
    except SendError as exc:  # the connection went while it was answered: nothing to do
        logger.info("presence answer to %s failed: %s", event.connection_id, exc)
    return None


class PresenceMiddleware:
    """The middleware :func:`enable` installs (see the module doc)."""

    def __init__(self, presence: Presence) -> None:
        self.presence = presence

    def __call__(self, event: WebSocketEvent, call_next: CallNext) -> Any:
        kind = event.event_type
        if kind == "MESSAGE":
            self._quietly(self.presence.alive, event.connection_id)
            return call_next(event)
        if kind == "CONNECT":
            response = call_next(event)
            # $connect just wrote lastActivity (ws_store_connection): no heartbeat write is
            # due for an interval, so the first messages make no refused conditional request.
            self.presence.connected(event.connection_id)
            return response
        if kind != "DISCONNECT":
            return call_next(event)
        record = self._quietly(self.presence.registry.get, event.connection_id)
        try:
            return call_next(event)
        finally:
            if record is not None:
                self._quietly(self.presence.disconnected, record)

    @staticmethod
    def _quietly(func: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except WsgateError as exc:
            logger.warning("presence bookkeeping failed: %s", exc)
            return None
