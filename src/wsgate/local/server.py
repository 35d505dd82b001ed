"""The emulator: one asyncio server for the WebSocket endpoint, ``@connections`` and dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from wsgate.local.config import EmulatorConfig
from wsgate.local.dashboard import Dashboard
from wsgate.local.eventgen import make_api_id, make_id
from wsgate.local.http import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    HttpError,
    HttpRequest,
    aws_error,
    parse_head,
    response,
)
from wsgate.local.invoke import AppSpec, Invoker, load_app
from wsgate.local.listener import Listener
from wsgate.local.management import Management
from wsgate.local.origin import cross_site_refusal
from wsgate.local.routing import Routing
from wsgate.local.session import Session

__all__ = ["Authorizer", "Emulator", "exposure_warning", "signature_refusal"]

logger = logging.getLogger("wsgate.local")

DELIVERY_SWEEP_INTERVAL = 1.0
#: Bytes a client may leave unread in our write buffer before its messages stop being handled
#: (backpressure: its socket is then not read either).
WRITE_BUFFER_HIGH = 256 * 1024
# What _set_environment may change, and stop() restores.
_ENVIRONMENT_KEYS = (
    "WSGATE_ENDPOINT",
    "WSGATE_REGISTRY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
)
"""Seconds between two ``wsgate.delivery`` sweeps of an app that has delivery enabled."""

#: Hook for ``$connect`` authorizers (issue 8): called before the integration runs. Return
#: ``None`` to allow (after setting ``session.authorizer`` to the context to propagate), or an
#: HTTP status (401, 403, 500) to refuse the handshake with.
Authorizer = Callable[["Emulator", Session], Awaitable[int | None]]

HttpResult = bytes | Awaitable[bytes] | None


class _Channel(asyncio.Protocol):
    """One TCP connection: HTTP requests until it upgrades, then a WebSocket :class:`Session`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.streaming = False
        self._buffer = bytearray()
        self._busy = False
        # Slowloris guard: a request must arrive whole within request_timeout of its first
        # byte; a keep-alive connection waiting for its next request closes after
        # keep_alive_timeout.
        self._timer: asyncio.TimerHandle | None = None
        # Known from the moment asyncio accepts the socket (it builds the protocol first and
        # calls connection_made loop turns later): stop() waits for every channel to go.
        emulator._channels.add(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.emulator.stopping:
            transport.abort()  # accepted as the server closed: stop() is waiting for it
            return
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        self._arm(self.emulator.config.keep_alive_timeout)

    def _arm(self, delay: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = (
            None if delay is None else asyncio.get_running_loop().call_later(delay, self._expired)
        )

    def _expired(self) -> None:
        self._timer = None
        transport = self.transport
        if transport is None or transport.is_closing() or self.session is not None:
            return
        if self._buffer:  # a request started and never completed (slowloris): 408
            logger.info("closing a connection whose request did not complete in time")
            self._reply(response(408, keep_alive=False), keep_alive=False)
        else:
            transport.close()  # an idle keep-alive connection

    def pause_writing(self) -> None:
        if self.session is not None:
            self.session.pause_writing()

    def resume_writing(self) -> None:
        if self.session is not None:
            self.session.resume_writing()

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            if self.session.is_open:
                self.session.data_received(data)
            return  # nothing may arrive before the 101; a client that sends anyway is ignored
        if self.streaming:
            return
        if not self._buffer and not self._busy:
            self._arm(self.emulator.config.request_timeout)  # a new request begins
        self._buffer += data
        if not self._busy:
            self._process()

    def _process(self) -> None:
        transport = self.transport
        assert transport is not None
        while not self._busy and self.session is None and not transport.is_closing():
            end = self._buffer.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES + 4)
            if end < 0:
                # Checked on every read, however the head arrived (one large read included).
                if len(self._buffer) >= MAX_HEAD_BYTES + 4:
                    self._reply(response(431, keep_alive=False), keep_alive=False)
                return
            head = bytes(self._buffer[: end + 4])
            try:
                request = parse_head(head)
                length = request.content_length
                if length > MAX_BODY_BYTES:
                    raise HttpError(413, "body too large")
            except HttpError as exc:
                self._reply(response(exc.status, keep_alive=False), keep_alive=False)
                return
            if len(self._buffer) < end + 4 + length:
                return
            request.body = bytes(self._buffer[end + 4 : end + 4 + length])
            del self._buffer[: end + 4 + length]
            self._arm(None)
            if request.is_upgrade:
                self.emulator._upgrade(self, request)
                return
            result = self.emulator._handle_http(self, request)
            if result is None:
                self.streaming = True
                return
            if isinstance(result, bytes):
                self._reply(result, request.keep_alive)
                self._await_next()
                continue
            self._busy = True
            task: asyncio.Future[bytes] = asyncio.ensure_future(result)
            task.add_done_callback(functools.partial(self._finished, request=request))

    def _finished(self, task: asyncio.Future[bytes], *, request: HttpRequest) -> None:
        self._busy = False
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            logger.error("request %s %s failed", request.method, request.path, exc_info=exc)
            payload = aws_error(500, "InternalServerErrorException", keep_alive=False)
            self._reply(payload, keep_alive=False)
            return
        self._reply(task.result(), request.keep_alive)
        self._await_next()
        if self._buffer:
            self._process()

    def _await_next(self) -> None:
        config = self.emulator.config
        self._arm(config.request_timeout if self._buffer else config.keep_alive_timeout)

    def _reply(self, payload: bytes, keep_alive: bool) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(payload)
        if not keep_alive:
            transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._arm(None)
        self.emulator._channels.discard(self)
        if self.session is not None:
            self.session.connection_lost()
        if self.streaming and self.transport is not None:
            self.emulator.dashboard.feed.unsubscribe(self.transport)


class Emulator:
    """A local API Gateway WebSocket API in front of an app.

    Start it with :meth:`start` (or ``async with``), connect clients to :attr:`ws_url`, point
    boto3's ``apigatewaymanagementapi`` client at :attr:`endpoint`.

    Args:
        app: The app: an :class:`AppSpec`, an ``APP`` string (``path/app.py[:attr]`` or
            ``module:attr``, imported after the environment is set) or a handler/``WebSocketApp``.
        config: Settings; API Gateway's defaults when omitted.
        template: SAM/CloudFormation template giving a plain function its routes.
        configure_environment: Set ``WSGATE_ENDPOINT``, a default ``WSGATE_REGISTRY`` and dummy
            AWS credentials for the app, as ``wsgate serve`` does.
        reload: Re-import an ``APP`` string when its folder changes.
    """

    def __init__(
        self,
        app: AppSpec | str | Any,
        config: EmulatorConfig | None = None,
        *,
        template: str | Path | None = None,
        configure_environment: bool = True,
        reload: bool = False,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.api_id = self.config.api_id or make_api_id()
        self._app_source = app
        self._template = template
        self._configure_environment = configure_environment
        self._saved_environment: dict[str, str | None] = {}
        self._reload = reload
        self.app: AppSpec | None = app if isinstance(app, AppSpec) else None
        self.connections: dict[str, Session] = {}
        self.pending: dict[str, Session] = {}
        self.invoker = Invoker(self.config.max_workers)
        self.dashboard = Dashboard(self)
        self.management = Management(self)
        self.routing = Routing(self)
        self.authorizer: Authorizer | None = None
        self._channels: set[_Channel] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: Listener | None = None
        self._port = self.config.port
        self._installed_sender: Any = None
        self._installed_metrics = False
        #: True from the start of :meth:`stop`: messages that still arrive are not handled.
        self.stopping = False

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (useful with ``port=0``)."""
        return self._port

    @property
    def endpoint(self) -> str:
        """The Management API endpoint for boto3's ``endpoint_url``."""
        return f"http://{self.config.host}:{self._port}/{self.config.stage}"

    @property
    def ws_url(self) -> str:
        """The WebSocket URL clients connect to."""
        return f"ws://{self.config.host}:{self._port}/{self.config.stage}"

    @property
    def https_endpoint(self) -> str | None:
        """The Management API endpoint over TLS; ``None`` when TLS is off."""
        if self.config.tls is None:
            return None
        return f"https://{self.config.host}:{self._port}/{self.config.stage}"

    @property
    def dashboard_url(self) -> str:
        """The dashboard page."""
        return f"http://{self.config.host}:{self._port}/"

    async def start(self) -> None:
        """Bind the port, set the app's environment and import the app.

        Raises:
            OSError: The port cannot be bound.
            ConfigurationError: The app cannot be loaded.
        """
        self.stopping = False
        loop = asyncio.get_running_loop()
        if self.config.switch_interval is not None:
            # A handler thread posting to @connections hands off between three threads (the
            # handler, the sender's loop, this loop); with the default 5 ms GIL switch interval
            # each hand-off can wait that long.
            sys.setswitchinterval(self.config.switch_interval)
        self._server = Listener(
            lambda: _Channel(self),
            tls=self.config.tls,
            first_byte_timeout=self.config.first_byte_timeout,
            handshake_timeout=self.config.tls_handshake_timeout,
        )
        await self._server.start(self.config.host, self.config.port, backlog=4096)
        self._port = self._server.sockets[0].getsockname()[1]
        if self._configure_environment:
            self._set_environment()
            if self.config.in_process_sends:
                self._install_sender(loop)
            if not self.config.emf_metrics:
                self._install_metrics(loop)
        if self.app is None:
            self.app = self._load()
        if self.authorizer is None:
            from wsgate.local.authorizer import app_authorizer

            self.authorizer = app_authorizer  # runs the app's @app.authorizer, if any
        self.dashboard.set_static(self.config.static_dir, self.app.source)
        self._spawn(self._sweep_delivery())
        if self._reload and isinstance(self._app_source, str):
            self._spawn(self._watch())
        logger.info("wsgate emulator on %s (management API %s)", self.ws_url, self.endpoint)
        warning = exposure_warning(self.config.host, self.config.verify_signatures)
        if warning:
            logger.warning(warning)

    def _load(self) -> AppSpec:
        if isinstance(self._app_source, str):
            return load_app(self._app_source, template=self._template)
        return AppSpec.from_object(self._app_source, template=self._template)

    def _install_sender(self, loop: asyncio.AbstractEventLoop) -> None:
        """Make ``wsgate.gateway`` sends from handlers reach this emulator in-process.

        Done before the app is imported, so an app that calls ``wsgate.config.configure``
        itself keeps its own sender.
        """
        from wsgate import config as wsgate_config
        from wsgate.local.transport import LocalTransport
        from wsgate.sender import Sender

        wsgate_config.reset()  # settings read from an earlier environment are stale now
        try:
            registry = wsgate_config.get_registry()
        except Exception:
            logger.warning("registry unavailable; handler sends will use HTTP", exc_info=True)
            return
        sender = Sender(self.endpoint, transport=LocalTransport(self, loop), registry=registry)
        wsgate_config.configure(sender=sender)
        self._installed_sender = sender

    def _install_metrics(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send the app's metrics to the dashboard instead of EMF lines on stdout.

        Only when nobody chose a recorder yet (an app that calls ``set_metrics`` at import,
        or a test that silenced metrics, keeps its own).
        """
        from wsgate.local.telemetry import DashboardSink
        from wsgate.observe import metrics

        if metrics._default is not None:
            return
        sink = DashboardSink(self.dashboard.feed, loop)
        metrics.set_metrics(metrics.Metrics(sink=sink))
        self.dashboard.metrics = sink
        self._installed_metrics = True

    def _uninstall_sender(self) -> None:
        sender, self._installed_sender = self._installed_sender, None
        if sender is None:
            return
        from wsgate import config as wsgate_config

        # The emulator owned these settings (it set the environment they came from). The
        # sender holds nothing to close: LocalTransport has no sockets of its own.
        wsgate_config.reset()

    def _set_environment(self) -> None:
        # Remember what was there, so stop() gives the process its environment back (an
        # emulator started inside a test run must not leak its endpoint into later tests).
        self._saved_environment = {name: os.environ.get(name) for name in _ENVIRONMENT_KEYS}
        os.environ["WSGATE_ENDPOINT"] = self.endpoint
        if "WSGATE_REGISTRY" not in os.environ and "WSGATE_TABLE" not in os.environ:
            folder = Path.cwd() / ".wsgate"
            folder.mkdir(exist_ok=True)
            os.environ["WSGATE_REGISTRY"] = f"sqlite:///{folder / 'registry.db'}"
        if not os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_PROFILE"):
            os.environ["AWS_ACCESS_KEY_ID"] = "wsgate-local"
            os.environ["AWS_SECRET_ACCESS_KEY"] = "wsgate-local"
        if not os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
            os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

    async def _watch(self) -> None:
        from watchfiles import PythonFilter, awatch

        assert self.app is not None and self.app.source is not None
        # Python files only: the SQLite registry may live in the same folder and changes on
        # every connect.
        extra = (".yaml", ".yml", ".json") if self._template is not None else ()
        folder = self.app.source.parent
        async for _changes in awatch(folder, watch_filter=PythonFilter(extra_extensions=extra)):
            try:
                self.app = await asyncio.to_thread(self._load)
            except Exception:
                logger.exception("reload failed; keeping the previous app")
            else:
                logger.info("reloaded %s", self._app_source)
                self.dashboard.feed.publish("reload", {"app": str(self._app_source)})

    async def stop(self) -> None:
        """Close every connection (1001 Going away), run their ``$disconnect`` and unbind.

        Messages arriving from now on and handlers still waiting for a worker are dropped;
        running ones finish (up to the integration timeout).
        """
        self.stopping = True
        # Messages still queued for a worker belong to connections closing now: drop them, so
        # the $disconnect calls that follow do not wait behind them (Ctrl-C under load).
        dropped = self.routing.scheduler.drop(self.connections.values())
        dropped += self.invoker.cancel_queued()
        if self._server is not None:
            await self._stop_accepting(self._server)
        for session in list(self.connections.values()):
            session.close(1001, "Going away")
        if dropped:
            logger.info("stopping: dropped %d queued message(s) of closed connections", dropped)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3.0
        while self.connections and loop.time() < deadline:
            await asyncio.sleep(0.02)
        for channel in list(self._channels):
            if channel.transport is not None:
                channel.transport.abort()
        for task in list(self._tasks):
            if task.get_coro().__name__ in ("_watch", "_sweep_delivery"):  # type: ignore[union-attr]
                task.cancel()
        # Wait for every task and handler, including the $disconnect calls the aborts above
        # start on a later loop turn: one pass over a snapshot would return before they ran
        # (their handlers then wrote logs and metrics after stop() had returned).
        deadline = loop.time() + self.config.integration_timeout + 1
        while loop.time() < deadline:
            await asyncio.sleep(0)  # let connection_lost callbacks spawn their $disconnect
            tasks = [t for t in self._tasks if not t.done()]
            if tasks:
                await asyncio.wait(tasks, timeout=max(0.0, deadline - loop.time()))
            elif self.invoker.in_flight:
                await asyncio.sleep(0.02)  # message handlers still running (reported by callback)
            else:
                break
        if self._server is not None:
            await self._server.wait_closed()
        # Until every channel is gone: one accepted just before the server closed gets its
        # connection_made (and is aborted there) only now, and a socket still open when the
        # loop closes is an "unclosed socket" ResourceWarning later, wherever GC runs.
        deadline = loop.time() + 5.0
        while self._channels and loop.time() < deadline:
            for channel in list(self._channels):
                if channel.transport is not None and not channel.transport.is_closing():
                    channel.transport.abort()
            await asyncio.sleep(0.001)
        self.invoker.shutdown()
        self._uninstall_sender()
        if self._installed_metrics:
            from wsgate.observe.metrics import set_metrics

            self._installed_metrics = False
            set_metrics(None)
        self._restore_environment()

    @staticmethod
    async def _stop_accepting(server: Listener) -> None:
        """Stop taking connections and settle the ones being accepted.

        The listener closes the sockets it accepted but has not handed to asyncio yet (still
        waiting for their first byte) and cancels the hand-overs under way, each of which
        closes its socket: none is left open to surface later as an ``unclosed socket``
        ResourceWarning, wherever garbage collection happens to run (a server closed between
        asyncio's accept and its transport set-up did that with ``loop.create_server``).
        """
        server.close()
        await server.wait_closed()

    def _restore_environment(self) -> None:
        saved, self._saved_environment = self._saved_environment, {}
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def serve_forever(self) -> None:
        """Run until cancelled (Ctrl-C in ``wsgate serve``)."""
        assert self._server is not None
        with contextlib.suppress(asyncio.CancelledError):
            await self._server.serve_forever()

    async def _sweep_delivery(self) -> None:
        """Redeliver unacked ``wsgate.delivery`` messages and sweep ``wsgate.presence`` every
        second: the local stand-in for the deployed EventBridge schedules that call their
        ``scheduled_handler``."""
        while True:
            await asyncio.sleep(DELIVERY_SWEEP_INTERVAL)
            handler = self.app.handler if self.app is not None else None
            # app.delivery (redelivery) and app.presence (ghost removal), set by their enable().
            for name in ("delivery", "presence"):
                part = getattr(getattr(handler, "__self__", None), name, None)
                if part is None:
                    continue
                try:
                    await asyncio.to_thread(part.scheduled_handler, {}, None)
                except Exception:
                    logger.exception("%s sweep failed", name)

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- HTTP side --------------------------------------------------------------------------

    def _handle_http(self, channel: _Channel, request: HttpRequest) -> HttpResult:
        # Other sites, DNS rebinding; the API's own AWS hostnames are not a rebinding.
        refused = cross_site_refusal(request, self.config.host, allowed=self.config.api_hostnames)
        if refused is not None:
            return refused
        stage = "/" + self.config.stage
        path = request.path
        if path in (stage, stage + "/"):
            if request.method == "GET":
                return response(426, b"Upgrade Required", [("Upgrade", "websocket")])
            return aws_error(403, "ForbiddenException")
        if path.startswith(stage + "/"):
            head, _, connection_id = path[len(stage) + 1 :].partition("/")
            if (
                head.lower() in ("@connections", "%40connections")
                and connection_id
                and "/" not in connection_id
            ):
                if self.config.verify_signatures:
                    refused = signature_refusal(request)
                    if refused is not None:
                        return refused
                return self.management.handle(request, connection_id)
            return aws_error(403, "ForbiddenException")
        if self.config.dashboard and path.startswith("/_wsgate/"):
            assert channel.transport is not None
            result: HttpResult = self.dashboard.handle(request, channel.transport)
            return result
        if request.method == "GET":
            page = self.dashboard.app_file(path, request.keep_alive)
            if page is not None:
                return page
            if path == "/" and self.config.dashboard:
                return response(302, headers=[("Location", "/_wsgate/")])
        return aws_error(403, "ForbiddenException")

    def _upgrade(self, channel: _Channel, request: HttpRequest) -> None:
        transport = channel.transport
        assert transport is not None
        if request.path not in ("/" + self.config.stage, "/" + self.config.stage + "/"):
            transport.write(aws_error(403, "ForbiddenException", keep_alive=False))
            transport.close()
            return
        peer = transport.get_extra_info("peername")
        session = Session(
            transport,
            request,
            connection_id=make_id(),
            source_ip=str(peer[0]) if peer else "127.0.0.1",
            domain_name=request.header("host") or f"{self.config.host}:{self._port}",
            compression=self.config.compression,
            on_message=self.routing.on_message,
            on_closed=self.routing.on_closed,
            on_ready=self.routing.scheduler.ready,
        )
        channel.session = session
        self._spawn(self.routing.handshake(session))


def signature_refusal(request: HttpRequest) -> bytes | None:
    """403 as AWS answers an unsigned or forged management call; ``None`` when it verifies."""
    from wsgate.local.sigv4_verify import (
        credentials_from_environment,
        rejection_response,
        verify_sigv4,
    )

    rejection = verify_sigv4(
        request.method,
        request.target,
        request.headers,
        request.body,
        credentials_from_environment(),
    )
    if rejection is None:
        return None
    return rejection_response(rejection, keep_alive=request.keep_alive)


def exposure_warning(host: str, verify_signatures: bool) -> str | None:
    """What to tell the user when the emulator listens beyond loopback; ``None`` on loopback."""
    import ipaddress

    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve to anything
    unsigned = "" if verify_signatures else " (unsigned: add --verify-signatures)"
    return (
        f"listening on {host}, not loopback: anyone who can reach it can connect, call the "
        f"Management API{unsigned} and use the dashboard"
    )
