"""``WebSocketApp``: route registration, middleware and ``dispatch(event, context)``.

Registration (:class:`Route`, :class:`Router`, the decorators) lives in :mod:`wsgate.routes`;
this module adds dispatch and re-exports those names, so ``wsgate.router`` stays the import.

::

    app = WebSocketApp()              # route selection expression: $request.body.action

    @app.connect
    def on_connect(event: ConnectEvent) -> Response | None:
        if "token" not in event.query_params:
            return reject(401)
        return None                   # 200: accept

    @app.route("sendMessage")
    def send_message(event: MessageEvent, context: Any) -> None: ...

    handler = app                     # the Lambda handler: app(event, context)

Handlers take the typed event, and also the Lambda context when they accept a second
positional parameter (decided once, at registration). Return values are normalised by
:func:`wsgate.responses.to_response`. A handler may be ``async def``: ``dispatch`` (still a
plain function, as Lambda calls it) runs it to completion on the thread's event loop, created
once and reused by later invocations (:mod:`wsgate.eventloop`, imported only then).

Middleware is a callable ``(event, call_next) -> result``: ``call_next(event)`` runs the rest
of the chain and returns the normalised :class:`~wsgate.responses.Response`; the middleware
may return it (changed or not), return anything a handler may return (to answer early, e.g. a
rejection), or raise. Middleware added to the app wraps every route; middleware added to a
:class:`Router` wraps that router's routes. The first added is the outermost. An ``async def``
middleware gets an awaitable ``call_next`` (``response = await call_next(event)``); sync and
async middleware mix in any order (:mod:`wsgate.chain`).

Errors: a malformed event gives 400; ``ConnectRejected`` and ``AuthError`` give their status;
a body that is not JSON (``InvalidBodyError`` from ``event.json``) gives 400. Any other
exception is a Lambda error, as in a function without wsgate: it is logged on the ``wsgate``
logger with the request id, connection id and route key, counted (``HandlerErrors``, by the
observe middleware it passes through) and raised out of ``dispatch``. Lambda then reports the
invocation as failed (the function's ``Errors`` metric and alarms see it) and API Gateway tells
the client: an ``{"message": "Internal server error", ...}`` frame on a message route (one-way
routes too), a 502 handshake on ``$connect``. To answer an exception instead, register an
exception handler (``@app.exception_handler(ValueError)``, most specific class wins; see
:meth:`WebSocketApp.add_exception_handler`).

Single-route deployments: when a MESSAGE arrives on ``$default`` and the app has custom routes,
the app evaluates its own selection expression on the body and calls the matching handler
(``route_locally=True``, the default). So one ``$default`` route in API Gateway can feed
every ``@app.route``. Pass ``route_locally=False`` to trust API Gateway's ``routeKey`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from wsgate.chain import as_sync, async_handler, guard, settle, wrap, wrap_async
from wsgate.context import _current_app, _current_context, _current_event
from wsgate.events import WebSocketEvent, parse_event
from wsgate.exceptions import (
    AuthError,
    BodyValidationError,
    ConnectRejected,
    EventError,
    MessageRejected,
)
from wsgate.responses import Response, error_response, to_response
from wsgate.routes import CallNext, Middleware, Route, Router, is_async_callable
from wsgate.selection import _NOT_JSON, compile_expression

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    import logging
    from typing import Any, TypeVar

    from wsgate.auth.authorizer import RequestAuthorizer

    _F = TypeVar("_F", bound=Callable[..., Any])
    _Endpoint = Callable[[WebSocketEvent, Any], Response]

__all__ = ["CallNext", "Middleware", "Route", "Router", "WebSocketApp"]

# wsgate's own flow-control errors: dispatch answers them; an `Exception` handler must not.
_FLOW_CONTROL: tuple[type[Exception], ...] = (
    ConnectRejected,
    AuthError,
    EventError,
    MessageRejected,
)


def _log() -> logging.Logger:
    import logging  # only on the error path: keeps `import wsgate` light

    return logging.getLogger("wsgate")


def _observe(event: WebSocketEvent, call_next: CallNext) -> Response:
    """Logs, counts and flushes metrics per invocation; ``wsgate.observe`` loads on first use."""
    from wsgate.observe.middleware import observe_middleware

    return observe_middleware(event, call_next)


def _accept(event: WebSocketEvent) -> None:
    """Stands in for a missing ``$connect``/``$disconnect`` handler (AWS accepts)."""
    return None


def _forbidden(event: WebSocketEvent) -> Response:
    """Stands in when no route matches and there is no ``$default`` (AWS: Forbidden)."""
    _log().warning(
        "no handler for route %r and no $default (connection_id=%s)",
        event.route_key,
        event.connection_id,
    )
    return error_response(403, "Forbidden")


_BUILTIN = {
    "CONNECT": Route("$connect", _accept, takes_context=False),
    "DISCONNECT": Route("$disconnect", _accept, takes_context=False),
    "MESSAGE": Route("$default", _forbidden, takes_context=False),
}
_PREDEFINED_BY_TYPE = {"CONNECT": "$connect", "DISCONNECT": "$disconnect"}


class WebSocketApp(Router):
    """A WebSocket API: its routes, its selection expression, and the Lambda entry point.

    Register handlers with the decorators of :class:`Router`, then use the app itself as the
    Lambda handler (``handler = app``); the local emulator and the test client call the same
    :meth:`dispatch`.
    """

    def __init__(
        self,
        route_selection_expression: str = "$request.body.action",
        *,
        name: str | None = None,
        route_locally: bool = True,
        observe: bool = True,
    ) -> None:
        """Create an app.

        Args:
            route_selection_expression: The API's ``RouteSelectionExpression``.
            name: A name for the API (used by the template generator).
            route_locally: Re-select the route from the body when a message arrives on
                ``$default`` (single-route deployments). See the module doc.
            observe: Log and count each invocation and flush its EMF metrics, as the
                outermost middleware (:mod:`wsgate.observe.middleware`; metrics can also be
                switched off with ``WSGATE_METRICS=off``).

        Raises:
            InvalidRouteError: the selection expression is invalid.
        """
        super().__init__(name=name)
        self._selection = compile_expression(route_selection_expression)
        self.route_locally = route_locally
        self._chains: dict[str, _Endpoint] = {}
        self._has_custom = False
        # Extension point for the $connect authorizer (issue 8): a callable taking the raw
        # REQUEST authorizer event and the context and returning the authorizer output dict.
        # `dispatch` hands it every event with `"type": "REQUEST"` and a `methodArn`.
        self._authorizer: Callable[[Mapping[str, Any], Any], dict[str, Any]] | None = None
        self._exception_handlers: dict[type[Exception], Callable[..., Any]] = {}
        if observe:
            self.add_middleware(_observe)

    @property
    def route_selection_expression(self) -> str:
        """The API's route selection expression, as given."""
        return self._selection.expression

    # --- authorizer (wsgate.auth) --------------------------------------------------------------

    def authorizer(
        self,
        func: Callable[..., Any] | None = None,
        *,
        identity_sources: Sequence[str] = ("route.request.header.Authorization",),
        user_id_key: str | None = None,
    ) -> Any:
        """Register the ``$connect`` REQUEST authorizer (decorator, bare or with arguments).

        ``func`` takes a :class:`wsgate.auth.AuthorizerRequest` and returns a
        :class:`wsgate.auth.Principal` (or raises ``Unauthorized`` / ``AccessDenied``); a ready
        :class:`wsgate.auth.RequestAuthorizer` (e.g. ``JWTAuthorizer(...)``) is taken as is.
        The app then answers authorizer events itself (``app(event, context)``), the emulator
        runs it before ``$connect``, and the template declares its identity sources.

        Raises:
            ConfigurationError: a malformed identity source, or a second authorizer.
        """
        from wsgate.auth.authorizer import RequestAuthorizer
        from wsgate.exceptions import ConfigurationError

        def register(f: Callable[..., Any]) -> Any:
            if self._authorizer is not None:
                raise ConfigurationError("this app already has an authorizer")
            if isinstance(f, RequestAuthorizer):
                self._authorizer = f
            else:
                self._authorizer = RequestAuthorizer(f, identity_sources, user_id_key=user_id_key)
            return f

        return register(func) if func is not None else register

    @property
    def authorizer_config(self) -> RequestAuthorizer | None:
        """The registered authorizer (its ``identity_sources``, ``user_id_key``), or ``None``.

        Read by the emulator (to run it before ``$connect``) and the template generator.
        """
        if self._authorizer is None:
            return None  # the common case, without importing the authorizer module
        from wsgate.auth.authorizer import RequestAuthorizer

        return self._authorizer if isinstance(self._authorizer, RequestAuthorizer) else None

    # --- exception handlers ---------------------------------------------------------------------

    def add_exception_handler(
        self, exc_class: type[Exception], handler: Callable[[Any, Any], Any]
    ) -> None:
        """Answer exceptions of ``exc_class`` (and its subclasses) with ``handler``'s response.

        ``handler(event, exc)`` returns anything a route handler may return (a
        :class:`~wsgate.responses.Response`, a dict with ``statusCode``, a str...). It runs for
        what a route handler raises, inside the middleware, which sees its response. When
        several registered classes match, the most specific one (first in the exception's MRO)
        wins. wsgate's own flow-control errors (``ConnectRejected``, ``AuthError``,
        ``EventError``, ``MessageRejected``) reach a handler only when it is registered for
        that class or a subclass of it: ``Exception`` does not swallow a rejection.

        Without a matching handler an exception is logged, counted (``HandlerErrors``) and
        propagates out of :meth:`dispatch`, as a crashing Lambda function does.

        Raises:
            TypeError: ``exc_class`` is not an ``Exception`` subclass, or ``handler`` is not
                callable.
            ConfigurationError: ``exc_class`` already has a handler.
        """
        if not (isinstance(exc_class, type) and issubclass(exc_class, Exception)):
            raise TypeError(f"{exc_class!r} is not an Exception subclass")
        if not callable(handler):
            raise TypeError("an exception handler must be callable")
        if exc_class in self._exception_handlers:
            from wsgate.exceptions import ConfigurationError

            raise ConfigurationError(f"{exc_class.__name__} already has an exception handler")
        self._exception_handlers[exc_class] = handler
        self._changed()

    def exception_handler(self, exc_class: type[Exception]) -> Callable[[_F], _F]:
        """Decorator form of :meth:`add_exception_handler`::

        @app.exception_handler(ValueError)
        def bad_value(event, exc):
            return reject(400, str(exc))    # on $connect; a body on a two-way route
        """

        def decorator(func: _F) -> _F:
            self.add_exception_handler(exc_class, func)
            return func

        return decorator

    def _exception_handler_for(self, exc: Exception) -> Callable[..., Any] | None:
        handlers = self._exception_handlers
        flow = next((base for base in _FLOW_CONTROL if isinstance(exc, base)), None)
        for cls in type(exc).__mro__:
            if flow is not None and not issubclass(cls, flow):
                return None  # past wsgate's own class: leave it to dispatch
            handler = handlers.get(cls)
            if handler is not None:
                return handler
        return None

    def _changed(self) -> None:
        self._chains.clear()
        self._has_custom = any(not k.startswith("$") for k in self._routes)

    # --- dispatch ----------------------------------------------------------------------------

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda handler: same as :meth:`dispatch`."""
        return self.dispatch(event, context)

    def dispatch(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        """Run the handler for one raw API Gateway event and return the proxy response dict.

        Call this from any I/O layer (Lambda, emulator, test client). A bad event gives a 4xx
        response; an exception of a handler that no exception handler answers is logged,
        counted and raised (a Lambda error); see the module doc.
        """
        authorizer = self._authorizer
        if authorizer is not None and _is_authorizer_event(event):
            return authorizer(event, context)
        try:
            parsed = parse_event(event)
        except EventError as exc:
            _log().warning("rejected a malformed event: %s", exc)
            return error_response(400, "Bad request").to_dict()
        route = self._select(parsed)
        endpoint = self._chains.get(route.key) if route.key in self._routes else None
        if endpoint is None:
            endpoint = self._build(route)
        event_token = _current_event.set(parsed)
        context_token = _current_context.set(context)
        app_token = _current_app.set(self)
        try:
            return endpoint(parsed, context).to_dict()
        except ConnectRejected as exc:
            if not (isinstance(exc.status_code, int) and 400 <= exc.status_code <= 599):
                # A rejection must be a 4xx/5xx; anything else is a bug in the handler.
                self._log_failure(parsed, route, context, exc, error=True)
                return error_response(500, "Internal server error").to_dict()
            body = None if not exc.reason else error_response(exc.status_code, exc.reason).body
            return Response(exc.status_code, body).to_dict()
        except AuthError as exc:
            message = "Unauthorized" if exc.status_code == 401 else "Forbidden"
            return error_response(exc.status_code, message).to_dict()
        except BodyValidationError as exc:  # logged and counted where it was raised
            from wsgate.bodies import answer

            return answer(parsed, route, exc).to_dict()
        except EventError as exc:
            self._log_failure(parsed, route, context, exc, error=False)
            return error_response(400, "Bad request body").to_dict()
        except Exception as exc:
            # A crash is a Lambda error: logged here with the ids (and counted by the observe
            # middleware it passed through), then raised, so the function's Errors metric and
            # alarms see it and API Gateway sends its "Internal server error" frame.
            self._log_failure(parsed, route, context, exc, error=True)
            _mark_logged(exc)
            raise
        finally:
            _current_app.reset(app_token)
            _current_context.reset(context_token)
            _current_event.reset(event_token)

    def _select(self, event: WebSocketEvent) -> Route:
        routes = self._routes
        event_type = event.request_context["eventType"]
        predefined = _PREDEFINED_BY_TYPE.get(event_type)
        if predefined is not None:
            return routes.get(predefined) or _BUILTIN[event_type]
        key: str = event.request_context["routeKey"]
        if key == "$default" and self.route_locally and self._has_custom:
            try:
                document = event.json
            except EventError:
                document = _NOT_JSON
            key = self._selection.select_value(document, routes) or key
        route = routes.get(key)
        if route is None or key in ("$connect", "$disconnect"):
            route = routes.get("$default") or _BUILTIN["MESSAGE"]
        return route

    def _build(self, route: Route) -> _Endpoint:
        """The route's handler inside its exception handlers and middleware, as one callable.

        ``async def`` layers (handler, middleware, exception handlers) are awaited in one
        coroutine; where a sync layer wraps an async one, :mod:`wsgate.chain` drives it on the
        thread's loop (:mod:`wsgate.eventloop`, imported only then). The result is sync.
        """
        # Typed inputs (wsgate.bodies): validated before the handler is called; the wrapper
        # returns what the handler returns (an awaitable for an async handler).
        handler = route.handler if route.body is None else route.body.bind(route.handler)
        endpoint: Any  # a chain.Endpoint, or a chain.AsyncEndpoint while is_async
        is_async = is_async_callable(route.handler)
        if is_async:
            endpoint = async_handler(handler, route.takes_context)
        elif route.takes_context:

            def endpoint(event: WebSocketEvent, context: Any) -> Response:
                return to_response(settle(handler(event, context)))
        else:

            def endpoint(event: WebSocketEvent, context: Any) -> Response:
                return to_response(settle(handler(event)))

        if self._exception_handlers:
            endpoint = guard(endpoint, self._exception_handler_for, is_async=is_async)
        for mw in reversed((*self._middleware, *route.middleware)):
            if is_async_callable(mw):
                endpoint = wrap_async(mw, endpoint, inner_is_async=is_async)
                is_async = True
            else:
                endpoint = wrap(mw, as_sync(endpoint) if is_async else endpoint)
                is_async = False
        chain: _Endpoint = as_sync(endpoint) if is_async else endpoint
        if route.key in self._routes and self._routes[route.key] is route:
            self._chains[route.key] = chain
        return chain

    def _log_failure(
        self,
        event: WebSocketEvent,
        route: Route,
        context: Any,
        exc: BaseException,
        *,
        error: bool,
    ) -> None:
        ids = {
            "request_id": event.request_context.get("requestId"),
            "connection_id": event.request_context.get("connectionId"),
            "route_key": route.key,
            "aws_request_id": getattr(context, "aws_request_id", None),
        }
        logger = _log()
        if error:
            logger.error(
                "unhandled %s in handler for route %r "
                "(request_id=%s connection_id=%s aws_request_id=%s)",
                type(exc).__name__,
                route.key,
                ids["request_id"],
                ids["connection_id"],
                ids["aws_request_id"],
                exc_info=exc,
                extra={"wsgate": ids},
            )
        else:
            logger.warning(
                "bad message body for route %r (request_id=%s connection_id=%s): %s",
                route.key,
                ids["request_id"],
                ids["connection_id"],
                exc,
                extra={"wsgate": ids},
            )


def _mark_logged(exc: BaseException) -> None:
    """Note on the exception that dispatch logged it (the emulator then skips its traceback)."""
    attributes = getattr(exc, "__dict__", None)
    if isinstance(attributes, dict):
        attributes["_wsgate_logged"] = True


def _is_authorizer_event(event: Any) -> bool:
    return isinstance(event, Mapping) and event.get("type") == "REQUEST" and "methodArn" in event
