"""Run a template's WebSocket API in the emulator: each route's function in its own processes.

:class:`TemplateRunner` turns a :class:`TemplateApp` into what the emulator runs:

- an :class:`~wsgate.local.invoke.AppSpec` whose handler sends each event to the route's
  function through :class:`~wsgate.local.lambda_runtime.FunctionHost` (the emulator already
  calls handlers in worker threads under the integration timeout);
- the template's ``$connect`` authorizer as a :class:`~wsgate.local.authorizer.LocalAuthorizer`;
- the local AWS services (tables and queues created at start) and the function network
  (endpoints, the local CA, the API hostname routed to the emulator).

A function error, crash or ``Timeout`` is an error of the integration, as API Gateway sees a
failed Lambda invocation: the client gets the ``Internal server error`` frame. Only the
integration timeout (29 s, or the route's ``TimeoutInMillis``) gives ``Endpoint request timed
out``. Source: Amazon API Gateway Developer Guide, "Setting up a WebSocket API integration
request in API Gateway" and "Amazon API Gateway quotas".
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsgate.exceptions import WsgateError
from wsgate.local.apptemplate.model import TemplateApp

if TYPE_CHECKING:
    from wsgate.local.authorizer import LocalAuthorizer
    from wsgate.local.invoke import AppSpec
    from wsgate.local.lambda_runtime import FunctionHost, InvokeResult
    from wsgate.local.services import LocalServices
    from wsgate.local.tls import LocalCA

__all__ = ["FunctionFailed", "TemplateRunner", "startup_line"]

logger = logging.getLogger("wsgate.local")

LogSink = Callable[[str, str], None]


class FunctionFailed(WsgateError):
    """A function invocation failed (error, crash or its own timeout); data for the log."""

    def __init__(self, function: str, error: Mapping[str, Any] | None, timed_out: bool) -> None:
        self.function = function
        self.error = dict(error or {})
        self.timed_out = timed_out
        kind = "timed out" if timed_out else str(self.error.get("errorType", "error"))
        message = str(self.error.get("errorMessage", ""))
        super().__init__(f"function {function} failed: {kind}: {message}".rstrip(": "))


def startup_line(app: TemplateApp) -> str | None:
    """The one line naming what the template has that is not run locally (``None``: nothing)."""
    if not app.unsupported:
        return None
    return "not emulated from the template: " + "; ".join(app.unsupported)


class TemplateRunner:
    """The functions, services and network of one template app, for one emulator.

    Args:
        app: The template, read.
        aws_endpoint: A DynamoDB/SQS endpoint already running (``--aws-endpoint``); ``None``
            starts local services.
        tls: Serve TLS on the emulator's port with the local CA (functions trust it).
        log: ``log(function_name, line)`` for function output (default: prefixed lines on
            standard error).
        max_instances: Most instances per function at once.
        python: Interpreter for ``python3.x`` functions (default: the runtime's choice).
        ca_dir: Folder of the local certificate authority (default: the per-user cache).
    """

    def __init__(
        self,
        app: TemplateApp,
        *,
        aws_endpoint: str | None = None,
        tls: bool = True,
        log: LogSink | None = None,
        max_instances: int = 10,
        python: str | None = None,
        ca_dir: Path | None = None,
    ) -> None:
        self.app = app
        self.aws_endpoint = aws_endpoint
        self.tls = tls
        self.log = log
        self.max_instances = max_instances
        self.python = python
        self.ca_dir = ca_dir
        self.services: LocalServices | None = None
        self.ca: LocalCA | None = None
        self.host: FunctionHost | None = None
        self.created_tables: list[str] = []
        self.queue_urls: dict[str, str] = {}

    # --- before the emulator starts ----------------------------------------------------------
    def start_services(self) -> None:
        """Start (or reach) DynamoDB/SQS and create the template's tables and queues.

        Raises:
            ConfigurationError: The services cannot start or a table cannot be created.
        """
        from wsgate.local.services import LocalServices

        self.services = LocalServices(endpoint=self.aws_endpoint, region=self.app.region)
        self.services.start()
        if self.app.tables:
            self.created_tables = self.services.create_tables(self.app.tables.values())
        if self.app.queues:
            self.queue_urls = self.services.create_queues(self.app.queues.values())

    def emulator_fields(self) -> dict[str, Any]:
        """``EmulatorConfig`` fields the template decides: API id, TLS, the API's hostname."""
        fields: dict[str, Any] = {
            "api_id": self.app.api_id,
            "api_hostnames": frozenset({self.app.hostname}),
        }
        if self.tls:
            from wsgate.local.tls import LocalCA

            self.ca = LocalCA.load_or_create(self.ca_dir)
            fields["tls"] = self.ca.server_context([self.app.hostname])
        return fields

    def app_spec(self) -> AppSpec:
        """The emulator's view of the API: its routes, each sent to its function."""
        from wsgate.local.invoke import AppSpec

        routes = self.app.routes
        timeouts = {k: r.timeout for k, r in routes.items() if r.timeout is not None}
        return AppSpec(
            handler=self.invoke,
            start=self.start,
            route_keys=frozenset(routes),
            two_way_route_keys=self.app.two_way_route_keys,
            route_selection_expression=self.app.route_selection_expression,
            timeouts=timeouts,
            name=self.app.source.name,
            source=self.app.source,
        )

    # --- once the emulator listens -----------------------------------------------------------
    def start_functions(
        self,
        emulator_port: int,
        emulator_host: str = "127.0.0.1",
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        """Make the function host, its processes pointed at the emulator and the services.

        Args:
            emulator_port: The emulator's port (Management API, TLS and plain HTTP).
            emulator_host: The address it listens on.
            loop: The emulator's running loop: the functions' Runtime API is served on it, so
                a warm call needs no thread hand-off (:meth:`close` must then run while the
                loop still runs, from another thread, as ``start_template``'s caller does).
        """
        from wsgate.local.lambda_runtime import FunctionHost
        from wsgate.local.services import function_network

        network = function_network(
            emulator_port=emulator_port,
            api_hostnames=[self.app.hostname],
            ca=self.ca,
            services=self.services,
            emulator_host=emulator_host,
        )
        kwargs: dict[str, Any] = {
            "extra_env": dict(network.env),
            "python_path": network.python_path,
            "node_options": network.node_options,
            "max_instances": self.max_instances,
            "loop": loop,
        }
        if self.log is not None:
            kwargs["log"] = self.log
        if self.python is not None:
            kwargs["python"] = self.python
        self.host = FunctionHost(self.app.functions, **kwargs)

    def prepare(self) -> list[str]:
        """Check every function ahead of its first call (code root, Node.js SDK install).

        Returns:
            One line per function that cannot run (its calls will fail; the others run).
        """
        from wsgate.exceptions import ConfigurationError

        problems: list[str] = []
        if self.host is None:
            return problems
        for logical_id in self.app.functions:
            try:
                self.host.pool(logical_id).prepare()
            except ConfigurationError as exc:
                problems.append(str(exc))
        return problems

    def authorizer(self, timeout: float = 29.0) -> LocalAuthorizer | None:
        """The template's ``$connect`` authorizer, run in its function (``None``: none)."""
        spec = self.app.authorizer
        if spec is None:
            return None
        from wsgate.local.authorizer import LocalAuthorizer

        function = spec.function

        def run(event: dict[str, Any], context: Any) -> Any:
            return self.call(function, event)

        run.__name__ = self.app.functions[function].name
        return LocalAuthorizer(
            run,
            spec.identity_sources or None,
            region=self.app.region,
            account_id=self.app.account_id,
            timeout=timeout,
        )

    # --- calls ---------------------------------------------------------------------------------
    def call(self, function: str, event: Mapping[str, Any]) -> Any:
        """Invoke ``function`` (a logical id) and return its payload.

        Raises:
            FunctionFailed: The function raised, crashed or ran past its ``Timeout``; for an
                authorizer the message is its ``errorMessage`` (``Unauthorized`` → 401).
        """
        if self.host is None:
            raise WsgateError("the template's functions are not started yet")
        return self._payload(function, self.host.pool(function).invoke(dict(event)))

    def start(self, event: dict[str, Any]) -> Future[Any] | None:
        """:meth:`invoke` without blocking, on a warm instance (``AppSpec.start``).

        Returns:
            A future of the payload (or of :class:`FunctionFailed`), resolved on the function
            runtime's loop thread; ``None`` when the call needs a cold start or must wait for
            an instance (the emulator then calls :meth:`invoke` in a worker thread).
        """
        route = self.app.routes.get(str(event.get("requestContext", {}).get("routeKey")))
        if self.host is None or route is None or route.function is None:
            return None
        function = route.function
        started = self.host.pool(function).invoke_nowait(dict(event))
        if started is None:
            return None
        payload: Future[Any] = Future()
        payload.set_running_or_notify_cancel()

        def settle(done: Future[InvokeResult]) -> None:
            try:
                payload.set_result(self._payload(function, done.result()))
            except BaseException as exc:
                payload.set_exception(exc)

        started.add_done_callback(settle)
        return payload

    def _payload(self, function: str, result: InvokeResult) -> Any:
        if result.error is not None or result.timed_out:
            failure = FunctionFailed(
                self.app.functions[function].name, result.error, result.timed_out
            )
            if str((result.error or {}).get("errorMessage")) == "Unauthorized":
                raise WsgateError("Unauthorized") from failure
            raise failure
        return result.payload

    def invoke(self, event: dict[str, Any], context: Any) -> Any:
        """The emulator's handler: the event goes to its route's function."""
        route = self.app.routes.get(str(event.get("requestContext", {}).get("routeKey")))
        if route is None or route.function is None:
            return None  # not a Lambda integration of this template: nothing to run
        return self.call(route.function, event)

    def reload(self) -> None:
        """``--reload``: every function starts afresh on its next call."""
        if self.host is not None:
            self.host.restart()

    def close(self) -> None:
        """Stop the function processes and the local services (safe to call twice)."""
        host, self.host = self.host, None
        if host is not None:
            host.close()
        services, self.services = self.services, None
        if services is not None:
            services.stop()


def print_line(text: str) -> None:
    """Write one ``wsgate:`` line to standard error."""
    print(f"wsgate: {text}", file=sys.stderr, flush=True)
