"""``WebSocketTestClient``: drive a WebSocket app in process, as ``wsgate serve`` would.

::

    from wsgate.testing import WebSocketTestClient

    def test_chat():
        with WebSocketTestClient(app) as client:
            with client.connect("/?name=ann") as ann, client.connect("/?name=bob") as bob:
                ann.send_json({"action": "join", "room": "lobby"})
                bob.send_json({"action": "join", "room": "lobby"})
                ann.send_json({"action": "sendMessage", "room": "lobby", "text": "hi"})
                assert bob.receive_json()["text"] == "hi"

Everything goes through the app's real ``dispatch`` with API Gateway's events (built by the
emulator's builders), route selection (the emulator's), two-way responses and error frames.
The client owns a connection registry (in memory unless one is given) and a
:class:`~wsgate.sender.Sender` whose transport is a
:class:`~wsgate.testing.recording.RecordingTransport`; while the client is open,
:mod:`wsgate.gateway`'s functions use both (through :func:`wsgate.config.configure`), so a
message any handler sends to a connection arrives on that connection's session.

Not emulated in process (use :class:`~wsgate.testing.remote.RemoteTestClient` against
``wsgate serve`` for these): integration timeouts, idle and 2-hour limits, compression.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from wsgate import config
from wsgate.exceptions import HandshakeRejected
from wsgate.local.eventgen import make_id
from wsgate.local.invoke import AppSpec, Outcome
from wsgate.local.routing import _status as connect_status
from wsgate.local.routing import error_frame
from wsgate.testing.base import BaseClient
from wsgate.testing.factories import (
    DEFAULT_REGION,
    DEFAULT_SOURCE_IP,
    DEFAULT_STAGE,
    ConnectionEvents,
    HeadersArg,
    merge_headers,
)
from wsgate.testing.recording import ManagementCall, RecordingTransport
from wsgate.testing.session import WebSocketTestSession

if TYPE_CHECKING:
    from wsgate.registry.base import ConnectionRegistry
    from wsgate.sender import Sender

__all__ = ["WebSocketTestClient"]

#: The User-Agent of the test client's handshakes (Starlette's TestClient says "testclient").
USER_AGENT = "wsgate-testclient"


class _ErrorCapture(logging.Handler):
    """Catches the exceptions ``dispatch`` logs and swallows in the current thread (a
    ``ConnectRejected`` with a status that is not an error); crashes it raises directly."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._local = threading.local()

    def start(self) -> None:
        self._local.errors = []

    def stop(self) -> list[BaseException]:
        errors: list[BaseException] = getattr(self._local, "errors", None) or []
        self._local.errors = None
        return errors

    def emit(self, record: logging.LogRecord) -> None:
        # Only dispatch's own report of a failed handler (logger "wsgate", with the exception);
        # records of child loggers that propagate here are someone else's business.
        if record.name != "wsgate" or not record.exc_info or record.exc_info[1] is None:
            return
        errors = getattr(self._local, "errors", None)
        if errors is not None:
            errors.append(record.exc_info[1])


class WebSocketTestClient(BaseClient):
    """An in-process API Gateway WebSocket API in front of ``app``, for tests.

    Args:
        app: A :class:`~wsgate.router.WebSocketApp`, a plain Lambda handler (routes
            ``$connect``/``$disconnect``/``$default``) or an emulator
            :class:`~wsgate.local.invoke.AppSpec`.
        registry: The connection registry handlers use; a fresh in-memory one when omitted.
        stage: The stage name in events and the management endpoint.
        api_id: The API id in events; random when omitted.
        region: Region of the default domain name.
        source_ip: ``identity.sourceIp`` of every connection.
        timeout: Default seconds ``receive_*`` waits.
        raise_server_exceptions: Re-raise in the test an exception a handler raised (which
            ``dispatch`` logs, counts and lets propagate, as a crashing Lambda function);
            ``False`` shows what the client would see instead: the ``Internal server error``
            frame on a message route (one-way or two-way), a 502 handshake on ``$connect``.
        configure_gateway: Point :mod:`wsgate.gateway` at this client's registry and sender
            while it is open (reset by :meth:`close`).
    """

    def __init__(
        self,
        app: Any,
        *,
        registry: ConnectionRegistry | None = None,
        stage: str = DEFAULT_STAGE,
        api_id: str | None = None,
        region: str = DEFAULT_REGION,
        source_ip: str = DEFAULT_SOURCE_IP,
        timeout: float = 5.0,
        raise_server_exceptions: bool = True,
        configure_gateway: bool = True,
    ) -> None:
        self.app = app if isinstance(app, AppSpec) else AppSpec.from_object(app)
        template = ConnectionEvents(stage=stage, api_id=api_id, region=region)
        self.stage = stage
        self.api_id = template.api_id
        self.domain_name = template.domain_name
        self.source_ip = source_ip
        self.timeout = timeout
        self.raise_server_exceptions = raise_server_exceptions
        if registry is None:
            from wsgate.registry import open_registry

            registry = open_registry("memory://")
            self._owns_registry = True
        else:
            self._owns_registry = False
        self.registry: ConnectionRegistry = registry
        self._sessions: dict[str, WebSocketTestSession] = {}
        self._lock = threading.Lock()
        self.transport = RecordingTransport(self._live, frozenset({self.endpoint}))
        from wsgate.sender import Sender, loop

        self._sender = Sender(self.endpoint, transport=self.transport, registry=registry)
        loop.get_loop()  # start the sender's loop thread now, not inside the first test's send
        self._capture = _ErrorCapture()
        logging.getLogger("wsgate").addHandler(self._capture)
        self._configured = configure_gateway
        if configure_gateway:
            config.configure(registry=registry, sender=self.sender)
        self._open = True

    def __repr__(self) -> str:
        return f"<WebSocketTestClient {self.endpoint} connections={len(self._sessions)}>"

    @property
    def endpoint(self) -> str:
        """The management endpoint of this API: ``https://{domainName}/{stage}``."""
        return f"https://{self.domain_name}/{self.stage}"

    @property
    def connections(self) -> list[str]:
        """Ids of the open connections, oldest first."""
        with self._lock:
            return list(self._sessions)

    @property
    def sender(self) -> Sender:
        """The :class:`~wsgate.sender.Sender` on the recording transport (handlers' sends)."""
        return self._sender

    @property
    def calls(self) -> list[ManagementCall]:
        """Every ``@connections`` call handlers made (and what API Gateway answered)."""
        return self.transport.calls

    # --- connecting ---------------------------------------------------------------------------

    def connect(
        self,
        path: str = "/",
        *,
        headers: HeadersArg | None = None,
        subprotocols: list[str] | None = None,
        authorizer: dict[str, Any] | None = None,
        user_agent: str | None = USER_AGENT,
    ) -> WebSocketTestSession:
        """Open a connection: run the authorizer and ``$connect``, as the handshake does.

        Args:
            path: ``/`` or ``/{stage}``, with the query string (``"/?token=abc"``).
            headers: Extra handshake headers (``{"Authorization": "Bearer ..."}``).
            subprotocols: Offered as ``Sec-WebSocket-Protocol``.
            authorizer: Use this as ``requestContext.authorizer`` instead of running the
                app's authorizer (e.g. ``{"principalId": "alice"}``).
            user_agent: The ``User-Agent`` header; ``None`` sends none.

        Returns:
            The open session (use it with ``with`` to close it at the end of the block).

        Raises:
            HandshakeRejected: The client would not get ``101``: 403 for a path other than
                the stage, the authorizer's 401/403/500, ``$connect``'s 4xx/5xx status, or
                502 when ``$connect`` raised (with ``raise_server_exceptions=False``).
            SessionError: The client is closed.
            Exception: What a handler raised, with ``raise_server_exceptions=True``.
        """
        self._check_open()
        parts = urlsplit(path)
        if parts.path.rstrip("/") not in ("", "/" + self.stage):
            raise HandshakeRejected(403, '{"message":"Forbidden"}')
        extra = merge_headers([], headers)
        for name, value in extra:
            if name.lower() == "user-agent":
                user_agent = value
        if user_agent is not None:
            extra = merge_headers([("User-Agent", user_agent)], extra)
        if subprotocols:
            extra.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
        events = ConnectionEvents(
            connection_id=make_id(),
            stage=self.stage,
            api_id=self.api_id,
            domain_name=self.domain_name,
            source_ip=self.source_ip,
            user_agent=user_agent,
            authorizer=authorizer,
        )
        # The emulator's CONNECT carries what the client sent plus API Gateway's headers.
        event = events.connect(query=parts.query, headers=extra)
        if authorizer is None and self.app.authorizer is not None:
            self._authorize(events, event)
            # Same handshake (key, trace id, request id), now with the authorizer's context.
            event["requestContext"]["authorizer"] = dict(events.authorizer or {})
        response_headers: dict[str, str] = {}
        if "$connect" in self.app.route_keys:
            outcome = self._invoke(event, "$connect")
            status = 502 if outcome.kind != "ok" else connect_status(outcome.result)
            if status is None:
                logging.getLogger("wsgate.testing").error(
                    "$connect returned a malformed response: %r", outcome.result
                )
                status = 502
            if not 200 <= status < 300:
                raise HandshakeRejected(status)
            raw_headers = (
                outcome.result.get("headers") if isinstance(outcome.result, dict) else None
            )
            if isinstance(raw_headers, dict):
                response_headers = {str(k): str(v) for k, v in raw_headers.items()}
        session = WebSocketTestSession(self, events, response_headers)
        with self._lock:
            self._sessions[session.connection_id] = session
        return session

    def _authorize(self, events: ConnectionEvents, connect_event: dict[str, Any]) -> None:
        from wsgate.local.authorizer import LocalAuthorizer, build_authorizer_event

        local = LocalAuthorizer(self.app.authorizer, region=DEFAULT_REGION)
        event = build_authorizer_event(connect_event, local.method_arn(self.api_id, self.stage))
        verdict = local.run(event, self._context(make_id(), "authorizer"))
        if verdict.status is not None:
            raise HandshakeRejected(verdict.status)
        events.authorizer = verdict.authorizer

    # --- the event flow (mirrors wsgate.local.routing) ----------------------------------------

    def _context(self, request_id: str, route_key: str) -> Any:
        from wsgate.context import LambdaContext

        return LambdaContext(
            self.app.name,
            aws_request_id=request_id,
            timeout=self.app.timeouts.get(route_key, 29.0),
        )

    def _invoke(self, event: dict[str, Any], route_key: str) -> Outcome:
        """Call the handler like Lambda does; never raises unless told to re-raise."""
        request_id = event["requestContext"]["requestId"]
        context = self._context(request_id, route_key)
        capture = self.raise_server_exceptions
        if capture:
            self._capture.start()
        try:
            result = self.app.handler(event, context)
        except Exception as exc:
            if self.raise_server_exceptions:
                raise
            logging.getLogger("wsgate.testing").error(
                "handler failed for %s (request %s)", route_key, request_id, exc_info=exc
            )
            return Outcome("error", error=exc)
        finally:
            errors = self._capture.stop() if capture else []
        if errors:
            raise errors[0]
        return Outcome("ok", result=result)

    def _on_message(self, session: WebSocketTestSession, text: str) -> None:
        events = session.events
        try:
            route_key = self.app.select_route(text)
        except Exception:
            logging.getLogger("wsgate.testing").exception("route selection failed")
            route_key = "$default" if "$default" in self.app.route_keys else None
        cid = session.connection_id
        if route_key is None:
            session.deliver(error_frame("Forbidden", cid, make_id()))
            return
        event = events.message(text, route_key=route_key)
        outcome = self._invoke(event, route_key)
        request_id = event["requestContext"]["requestId"]
        if outcome.kind == "error":
            session.deliver(error_frame("Internal server error", cid, request_id))
        elif route_key in self.app.two_way_route_keys and isinstance(outcome.result, dict):
            body = outcome.result.get("body")
            if isinstance(body, str) and body:
                session.deliver(body.encode("utf-8"))

    def _on_closed(self, session: WebSocketTestSession, code: int, reason: str) -> None:
        with self._lock:
            if self._sessions.pop(session.connection_id, None) is None:
                return
        if "$disconnect" not in self.app.route_keys:
            return
        event = session.events.disconnect(code, reason)
        self._invoke(event, "$disconnect")

    def _live(self, connection_id: str) -> WebSocketTestSession | None:
        with self._lock:
            session = self._sessions.get(connection_id)
        return session if session is not None and not session.closed else None

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close every open connection (1001 ``Going away``, with ``$disconnect``), stop
        capturing handler errors and reset :mod:`wsgate.config`. Safe to call twice."""
        if not self._open:
            return
        self._open = False
        try:
            for connection_id in self.connections:
                session = self._live(connection_id)
                if session is not None:
                    session._closed_by_server(1001, "Going away")
        finally:
            logging.getLogger("wsgate").removeHandler(self._capture)
            if self._configured:
                config.reset()
            if self._owns_registry:
                self.registry.close()

    def _check_open(self) -> None:
        if not self._open:
            from wsgate.exceptions import SessionError

            raise SessionError("this WebSocketTestClient is closed")
