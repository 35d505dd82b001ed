"""What happens around each handler call: ``$connect`` gating, message routing, ``$disconnect``."""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any

from wsgate.local.eventgen import (
    build_connect_event,
    build_disconnect_event,
    build_message_event,
    forwarded_headers,
    make_id,
)
from wsgate.local.invoke import AppSpec, Outcome
from wsgate.local.scheduler import Scheduler

if TYPE_CHECKING:
    from wsgate.local.server import Emulator
    from wsgate.local.session import Session

__all__ = ["Routing", "error_frame"]

logger = logging.getLogger("wsgate.local")

# Handshake headers API Gateway does not pass to the $connect integration
# (docs/aws-behaviour.md §1.2).
_HIDDEN_HEADERS = frozenset({"connection", "upgrade", "content-length"})
# Headers of the $connect response that must not override the emulator's own 101 headers.
_HANDSHAKE_HEADERS = frozenset(
    {"connection", "upgrade", "sec-websocket-accept", "sec-websocket-extensions", "content-length"}
)


def error_frame(message: str, connection_id: str, request_id: str) -> bytes:
    """An API Gateway error frame, byte for byte as observed (docs/aws-behaviour.md §2.4)."""
    return (
        f'{{"message": "{message}", "connectionId":"{connection_id}", "requestId":"{request_id}"}}'
    ).encode()


def _status(result: Any) -> int | None:
    """The ``statusCode`` of a ``$connect`` result; ``None`` for a malformed response."""
    if result is None:
        return 200
    if not isinstance(result, dict):
        return None
    code = result.get("statusCode", 200)
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
        return None
    return code


class Routing:
    """The emulator's event flow; one per :class:`Emulator`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.scheduler = Scheduler(emulator.config.max_workers, self._dispatch)

    def _app(self) -> AppSpec:
        app = self.emulator.app
        assert app is not None, "the emulator was not started"
        return app

    def _timeout(self, app: AppSpec, route_key: str) -> float:
        return app.timeouts.get(route_key, self.emulator.config.integration_timeout)

    # --- $connect ---------------------------------------------------------------------------

    async def handshake(self, session: Session) -> None:
        """Hold the 101 until the authorizer and ``$connect`` allow it (aws-behaviour.md §10.1)."""
        emulator = self.emulator
        accept = session.accept_response()
        if accept.status_code != 101:
            session.send_response(accept)
            return
        emulator.pending[session.connection_id] = session
        try:
            status, headers = await self._connect(session)
        finally:
            emulator.pending.pop(session.connection_id, None)
        if session.closed or session.transport.is_closing():
            return  # the client gave up while $connect ran: no connection, no $disconnect
        if not 200 <= status < 300:
            reject = session.protocol.reject(status, "")
            session.send_response(reject)
            return
        for name, value in headers:
            if name.lower() not in _HANDSHAKE_HEADERS:
                accept.headers[name] = value
        session.send_response(accept)
        if session.closed or session.transport.is_closing():
            return
        session.open(emulator.config.idle_timeout, emulator.config.max_duration)
        emulator.connections[session.connection_id] = session
        emulator.dashboard.feed.publish("connect", emulator.dashboard.describe(session))

    async def _connect(self, session: Session) -> tuple[int, list[tuple[str, str]]]:
        emulator = self.emulator
        if emulator.authorizer is not None:
            verdict = await emulator.authorizer(emulator, session)
            if verdict is not None:
                return verdict, []
        app = self._app()
        if "$connect" not in app.route_keys:
            return 200, []  # $connect is optional: connections are accepted
        request = session.http_request
        headers = forwarded_headers(
            request.headers, source_ip=session.source_ip, port=emulator.port, hide=_HIDDEN_HEADERS
        )
        request_id = make_id()
        event = build_connect_event(
            connection_id=session.connection_id,
            connected_at=session.connected_at_ms,
            stage=emulator.config.stage,
            api_id=emulator.api_id,
            domain_name=session.domain_name,
            headers=headers,
            query=request.query_pairs(),
            source_ip=session.source_ip,
            user_agent=session.user_agent,
            request_id=request_id,
            now=session.connected_at_ms / 1000,  # CONNECT's requestTimeEpoch == connectedAt
            authorizer=session.authorizer,
        )
        outcome = await emulator.invoker.invoke(
            app, event, request_id, self._timeout(app, "$connect"), control=True
        )
        if outcome.kind == "timeout":
            return 504, []
        if outcome.kind == "error":
            return 502, []
        status = _status(outcome.result)
        if status is None:
            logger.error("$connect returned a malformed response: %r", outcome.result)
            return 502, []
        raw_headers = outcome.result.get("headers") if isinstance(outcome.result, dict) else None
        extra = (
            [(str(k), str(v)) for k, v in raw_headers.items()]
            if isinstance(raw_headers, dict)
            else []
        )
        return status, extra

    # --- messages ---------------------------------------------------------------------------

    def on_message(self, session: Session, text: str) -> None:
        """A complete text message arrived (called by the session, on the loop).

        It waits in the connection's queue until the :class:`Scheduler` gives it a worker
        (round robin across connections).
        """
        emulator = self.emulator
        if emulator.stopping:
            return  # its connection is closing with the emulator (Ctrl-C): nobody handles it
        if emulator.config.faults.roll(emulator.config.faults.random_close):
            session.abort()
            return
        emulator.dashboard.feed.publish_message(session, "in", text)
        self.scheduler.enqueue(session, text)

    def _dispatch(self, session: Session, text: str) -> bool:
        """Route one message and submit its handler; False when no worker was taken.

        Selection and the event are built here and the handler is submitted to the pool at
        once; its outcome comes back through a callback (no task per message).
        """
        emulator = self.emulator
        if emulator.stopping:
            return False
        app = self._app()
        request_id = make_id()
        try:
            route_key = app.select_route(text)
        except Exception:
            logger.exception("route selection failed; using $default")
            route_key = "$default" if "$default" in app.route_keys else None
        if route_key is None:
            self._send(session, error_frame("Forbidden", session.connection_id, request_id))
            return False
        event = build_message_event(
            connection_id=session.connection_id,
            connected_at=session.connected_at_ms,
            body=text,
            stage=emulator.config.stage,
            api_id=emulator.api_id,
            domain_name=session.domain_name,
            route_key=route_key,
            source_ip=session.source_ip,
            user_agent=session.user_agent,
            request_id=request_id,
            authorizer=session.authorizer,
        )
        emulator.invoker.submit(
            app,
            event,
            request_id,
            self._timeout(app, route_key),
            functools.partial(self._respond, session, app, route_key, request_id),
            released=self.scheduler.release,
        )
        return True

    def _respond(
        self, session: Session, app: AppSpec, route_key: str, request_id: str, outcome: Outcome
    ) -> None:
        cid = session.connection_id
        if outcome.kind == "timeout":
            self._send(session, error_frame("Endpoint request timed out", cid, request_id))
        elif outcome.kind == "error":
            self._send(session, error_frame("Internal server error", cid, request_id))
        elif route_key in app.two_way_route_keys and isinstance(outcome.result, dict):
            body = outcome.result.get("body")
            if isinstance(body, str) and body:
                self._send(session, body.encode("utf-8"))
        elif route_key in app.two_way_route_keys and outcome.result is not None:
            logger.warning("two-way route %s returned %r, not a dict", route_key, outcome.result)

    def _send(self, session: Session, data: bytes) -> None:
        if session.send_text(data):
            self.emulator.dashboard.feed.publish_message(session, "out", data)

    # --- $disconnect ------------------------------------------------------------------------

    def on_closed(self, session: Session) -> None:
        """The socket closed; fire ``$disconnect`` with the close code and reason."""
        emulator = self.emulator
        if emulator.connections.pop(session.connection_id, None) is None:
            return  # never established (rejected or abandoned handshake)
        code, reason = session.disconnect_status()
        emulator.dashboard.feed.publish(
            "disconnect", {"connectionId": session.connection_id, "code": code, "reason": reason}
        )
        app = self._app()
        if "$disconnect" not in app.route_keys:
            return
        if emulator.config.faults.roll(emulator.config.faults.drop_disconnect):
            logger.info("fault injection: dropped $disconnect for %s", session.connection_id)
            return
        request_id = make_id()
        event = build_disconnect_event(
            connection_id=session.connection_id,
            connected_at=session.connected_at_ms,
            status_code=code,
            reason=reason,
            stage=emulator.config.stage,
            api_id=emulator.api_id,
            domain_name=session.domain_name,
            source_ip=session.source_ip,
            user_agent=session.user_agent,
            request_id=request_id,
            authorizer=session.authorizer,
        )
        emulator._spawn(
            emulator.invoker.invoke(
                app, event, request_id, self._timeout(app, "$disconnect"), control=True
            )
        )
