"""Wiring :class:`~wsgate.delivery.Delivery` into a :class:`~wsgate.router.WebSocketApp`.

:func:`enable` adds two routes (``wsgate.ack``, ``wsgate.resume``) and one middleware that:

* answers an app message carrying ``ackId`` once its handler has run — ``accepted``, or
  ``rejected`` with the reason of a :class:`~wsgate.exceptions.MessageRejected` — and runs a
  retried id only once (the idempotency window lives in the delivery store); a
  ``MessageRejected`` from a message without ``ackId`` becomes a 400 response with the reason;
* redelivers what is due for the sending connection after each of its messages;
* forgets a connection's pending messages on ``$disconnect`` (reported undelivered).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from wsgate.delivery import protocol
from wsgate.delivery.store import ClaimState
from wsgate.events import WebSocketEvent
from wsgate.exceptions import EventError, MessageRejected, SendError, WsgateError
from wsgate.responses import Response, error_response

if TYPE_CHECKING:
    from wsgate.delivery.service import Delivery
    from wsgate.router import CallNext, WebSocketApp

__all__ = ["DeliveryMiddleware", "enable"]

logger = logging.getLogger("wsgate.delivery")

_PROTOCOL_ROUTES = frozenset({protocol.ACK_ACTION, protocol.RESUME_ACTION})


def enable(app: WebSocketApp, delivery: Delivery, *, pump_on_message: bool = True) -> Delivery:
    """Turn on acknowledged delivery and resume for ``app``. Call once, at import time,
    before the first event is dispatched.

    Adds the ``wsgate.ack`` and ``wsgate.resume`` routes (so deployments create them) and the
    delivery middleware, and stores ``delivery`` as ``app.delivery`` (the emulator and the
    scheduled sweep find it there).

    Raises:
        DuplicateRouteError: The app already has a ``wsgate.ack`` or ``wsgate.resume`` route.
    """

    @app.route(protocol.ACK_ACTION)
    def _ack(event: WebSocketEvent) -> None:
        try:
            delivery.handle_ack(event.connection_id, _body(event))
        except EventError as exc:
            _reply(delivery, event.connection_id, protocol.error_frame(str(exc)))

    @app.route(protocol.RESUME_ACTION)
    def _resume(event: WebSocketEvent) -> None:
        try:
            delivery.handle_resume(event.connection_id, _body(event))
        except EventError as exc:
            _reply(delivery, event.connection_id, protocol.error_frame(str(exc)))

    app.add_middleware(DeliveryMiddleware(delivery, pump_on_message=pump_on_message))
    app.delivery = delivery  # type: ignore[attr-defined]
    return delivery


def _body(event: WebSocketEvent) -> Mapping[str, Any]:
    document = event.json
    if not isinstance(document, Mapping):
        raise EventError("expected a JSON object", "body")
    return document


def _reply(delivery: Delivery, connection_id: str, frame: str) -> None:
    try:
        delivery.sender.send(connection_id, frame)
    except (SendError, WsgateError) as exc:
        logger.info("could not answer %s: %s", connection_id, exc)


class DeliveryMiddleware:
    """The middleware :func:`enable` installs (see the module doc)."""

    def __init__(self, delivery: Delivery, *, pump_on_message: bool = True) -> None:
        self.delivery = delivery
        self.pump_on_message = pump_on_message

    def __call__(self, event: WebSocketEvent, call_next: CallNext) -> Any:
        event_type = event.event_type
        if event_type == "DISCONNECT":
            try:
                return call_next(event)
            finally:
                self._quietly(self.delivery.disconnected, event.connection_id)
        if event_type != "MESSAGE":
            return call_next(event)
        try:
            return self._message(event, call_next)
        finally:
            if self.pump_on_message:
                self._quietly(self.delivery.pump_connection, event.connection_id)

    def _message(self, event: WebSocketEvent, call_next: CallNext) -> Any:
        delivery = self.delivery
        try:
            ack_id = self._ack_id(event)
        except EventError as exc:
            # A malformed ackId: the handler does not run, and the client is told why.
            _reply(delivery, event.connection_id, protocol.error_frame(str(exc)))
            return error_response(400, "Bad request body")
        if ack_id is None:
            try:
                return call_next(event)
            except MessageRejected as exc:  # no ack asked for: a 400 (the body of a two-way route)
                if isinstance(exc, EventError):
                    raise  # an invalid typed body: the router answers with its error frame
                logger.info("message rejected on %s: %s", event.route_key, exc.reason)
                return error_response(400, exc.reason)
        scope = self._scope(event)
        now = delivery.clock()
        claim = delivery.store.claim(
            scope, ack_id, now=now, lease=delivery.lease, ttl=delivery.ack_window
        )
        if claim.state is ClaimState.DONE:
            frame = protocol.ack_frame(
                ack_id,
                "rejected" if claim.status == "rejected" else "accepted",
                claim.reason,
                duplicate=True,
            )
            _reply(delivery, event.connection_id, frame)
            return None
        if claim.state is ClaimState.IN_PROGRESS:
            _reply(delivery, event.connection_id, protocol.ack_frame(ack_id, "pending"))
            return None
        try:
            response = call_next(event)
        except MessageRejected as exc:
            self._finish(event, scope, ack_id, "rejected", exc.reason)
            return None
        except BaseException:
            self._quietly(delivery.store.release, scope, ack_id)
            _reply(
                delivery,
                event.connection_id,
                protocol.ack_frame(ack_id, "rejected", "internal error"),
            )
            raise
        if isinstance(response, Response) and response.status_code >= 400:
            self._quietly(delivery.store.release, scope, ack_id)
            reason = f"status {response.status_code}"
            _reply(delivery, event.connection_id, protocol.ack_frame(ack_id, "rejected", reason))
            return response
        self._finish(event, scope, ack_id, "accepted", None)
        return response

    def _finish(
        self, event: WebSocketEvent, scope: str, ack_id: str, status: str, reason: str | None
    ) -> None:
        delivery = self.delivery
        self._quietly(
            delivery.store.complete,
            scope,
            ack_id,
            status,
            reason,
            now=delivery.clock(),
            ttl=delivery.ack_window,
        )
        frame = protocol.ack_frame(
            ack_id, "rejected" if status == "rejected" else "accepted", reason
        )
        _reply(delivery, event.connection_id, frame)

    @staticmethod
    def _ack_id(event: WebSocketEvent) -> str | None:
        if event.route_key in _PROTOCOL_ROUTES:
            return None
        try:
            if protocol.ACK_ID_FIELD not in event.body:  # most messages: skip the JSON parse
                return None
            document = event.json
        except EventError:
            return None
        if not isinstance(document, Mapping):
            return None
        return protocol.parse_ack_id(document)

    @staticmethod
    def _scope(event: WebSocketEvent) -> str:
        authorizer = event.authorizer
        principal = getattr(authorizer, "principal_id", None) if authorizer else None
        return f"user:{principal}" if principal else "anon"

    @staticmethod
    def _quietly(func: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except WsgateError as exc:
            logger.warning("delivery bookkeeping failed: %s", exc)
            return None
