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
:func:`wsgate.responses.to_response`.

Middleware is a callable ``(event, call_next) -> result``: ``call_next(event)`` runs the rest
of the chain and returns the normalised :class:`~wsgate.responses.Response`; the middleware
may return it (changed or not), return anything a handler may return (to answer early, e.g. a
rejection), or raise. Middleware added to the app wraps every route; middleware added to a
:class:`Router` wraps that router's routes. The first added is the outermost.

Errors never escape ``dispatch``: a malformed event gives 400, ``ConnectRejected`` and
``AuthError`` give their status, a body that is not JSON (``InvalidBodyError`` from
``event.json``) gives 400, and any other exception gives 500 ``Internal server error``, logged on
the ``wsgate`` logger with the request id, connection id and route key; no traceback reaches
the client.

Single-route deployments: when a MESSAGE arrives on ``$default`` and the app has custom routes,
the app evaluates its own selection expression on the body and calls the matching handler
(``route_locally=True``, the default). So one ``$default`` route in API Gateway can feed
every ``@app.route``. Pass ``route_locally=False`` to trust API Gateway's ``routeKey`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from wsgate.context import _current_app, _current_context, _current_event
from wsgate.events import WebSocketEvent, parse_event
from wsgate.exceptions import AuthError, BodyValidationError, ConnectRejected, EventError
from wsgate.responses import Response, error_response, to_response
from wsgate.routes import CallNext, Middleware, Route, Router
from wsgate.selection import _NOT_JSON, compile_expression

if TYPE_CHECKING:
    import logging

    from wsgate.auth.authorizer import RequestAuthorizer

__all__ = ["CallNext", "Middleware", "Route", "Router", "WebSocketApp"]

_Endpoint = Callable[[WebSocketEvent, Any], Response]


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
        from wsgate.auth.authorizer import RequestAuthorizer

        return self._authorizer if isinstance(self._authorizer, RequestAuthorizer) else None

    def _changed(self) -> None:
        self._chains.clear()
        self._has_custom = any(not k.startswith("$") for k in self._routes)

    # --- dispatch ----------------------------------------------------------------------------

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda handler: same as :meth:`dispatch`."""
        return self.dispatch(event, context)

    def dispatch(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        """Run the handler for one raw API Gateway event and return the proxy response dict.

        Call this from any I/O layer (Lambda, emulator, test client). It never raises for a
        bad event or a failing handler; see the module doc for the status codes.
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
            self._log_failure(parsed, route, context, exc, error=True)
            return error_response(500, "Internal server error").to_dict()
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
        # Typed inputs (wsgate.bodies): validated before the handler is called; the wrapper
        # returns what the handler returns (an awaitable for an async handler).
        handler = route.handler if route.body is None else route.body.bind(route.handler)
        endpoint: _Endpoint
        if route.takes_context:

            def endpoint(event: WebSocketEvent, context: Any) -> Response:
                return to_response(handler(event, context))
        else:

            def endpoint(event: WebSocketEvent, context: Any) -> Response:
                return to_response(handler(event))

        for mw in reversed((*self._middleware, *route.middleware)):
            endpoint = _wrap(mw, endpoint)
        if route.key in self._routes and self._routes[route.key] is route:
            self._chains[route.key] = endpoint
        return endpoint

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


def _wrap(middleware: Middleware, inner: _Endpoint) -> _Endpoint:
    def endpoint(event: WebSocketEvent, context: Any) -> Response:
        def call_next(next_event: WebSocketEvent) -> Response:
            return inner(next_event, context)

        return to_response(middleware(event, call_next))

    return endpoint


def _is_authorizer_event(event: Any) -> bool:
    return isinstance(event, Mapping) and event.get("type") == "REQUEST" and "methodArn" in event
