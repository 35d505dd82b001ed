"""``WebSocketApp``: route registration, middleware and ``dispatch(event, context)``.

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
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from wsgate.context import _current_context, _current_event
from wsgate.events import WebSocketEvent, parse_event
from wsgate.exceptions import (
    AuthError,
    ConnectRejected,
    DuplicateRouteError,
    EventError,
    InvalidRouteError,
)
from wsgate.responses import Response, error_response, to_response
from wsgate.selection import _NOT_JSON, compile_expression, validate_route_key

if TYPE_CHECKING:
    import logging

    from wsgate.auth.authorizer import RequestAuthorizer

__all__ = ["CallNext", "Middleware", "Route", "Router", "WebSocketApp"]

F = TypeVar("F", bound=Callable[..., Any])
CallNext = Callable[[WebSocketEvent], Response]
Middleware = Callable[[WebSocketEvent, CallNext], Any]
_Endpoint = Callable[[WebSocketEvent, Any], Response]

_CO_VARARGS = 0x04
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


def _takes_context(func: Callable[..., Any]) -> bool:
    """Whether ``func`` accepts a second positional argument (the Lambda context)."""
    code = getattr(func, "__code__", None)
    if code is not None and not isinstance(func, type):
        if code.co_flags & (_CO_COROUTINE | _CO_ASYNC_GENERATOR):
            raise TypeError(f"{func!r} is async; wsgate handlers must be plain functions")
        if code.co_flags & _CO_VARARGS:
            return True
        bound = 1 if getattr(func, "__self__", None) is not None else 0
        return bool(code.co_argcount - bound >= 2)
    import inspect  # rare path (partials, callable objects): keep it off the import path

    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)


class Route:
    """One registered route: its key, handler, two-way flag and router middleware."""

    __slots__ = ("handler", "key", "middleware", "takes_context", "two_way")

    def __init__(
        self,
        key: str,
        handler: Callable[..., Any],
        *,
        two_way: bool = False,
        middleware: tuple[Middleware, ...] = (),
        takes_context: bool | None = None,
    ) -> None:
        if not callable(handler):
            raise TypeError(f"handler for {key!r} is not callable")
        self.key = key
        self.handler = handler
        self.two_way = two_way
        self.middleware = middleware
        self.takes_context = _takes_context(handler) if takes_context is None else takes_context

    def __repr__(self) -> str:
        name = getattr(self.handler, "__qualname__", repr(self.handler))
        return f"Route({self.key!r}, {name}, two_way={self.two_way})"


class Router:
    """A group of routes (and middleware) to include into a :class:`WebSocketApp`."""

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name
        self._routes: dict[str, Route] = {}
        self._middleware: list[Middleware] = []

    # --- registration ------------------------------------------------------------------------

    def add_route(
        self, route_key: str, handler: Callable[..., Any], *, two_way: bool = False
    ) -> None:
        """Register ``handler`` for ``route_key`` (``$connect``, ``$disconnect``, ``$default``
        or a custom key).

        Raises:
            InvalidRouteError: the key is empty or starts with ``$`` without being predefined.
            DuplicateRouteError: the key is already registered.
            TypeError: the handler is not callable or is async.
        """
        validate_route_key(route_key)
        if two_way and route_key in ("$connect", "$disconnect"):
            raise InvalidRouteError(route_key, "only message routes can be two-way")
        self._add(Route(route_key, handler, two_way=two_way))

    def _add(self, route: Route) -> None:
        if route.key in self._routes:
            raise DuplicateRouteError(route.key)
        self._routes[route.key] = route
        self._changed()

    def _changed(self) -> None:
        """Hook for subclasses that cache derived state."""

    def route(self, route_key: str, *, two_way: bool = False) -> Callable[[F], F]:
        """Decorator: handle messages whose selection expression evaluates to ``route_key``.

        With ``two_way=True`` the handler's body is sent back to the client (the deployment
        needs a ``$default`` route response on this route).

        Raises:
            InvalidRouteError, DuplicateRouteError: see :meth:`add_route`.
        """
        validate_route_key(route_key)

        def decorator(func: F) -> F:
            self.add_route(route_key, func, two_way=two_way)
            return func

        return decorator

    def connect(self, func: F) -> F:
        """Decorator: handle ``$connect``. Return a 4xx/5xx :class:`Response` (or raise
        :class:`~wsgate.exceptions.ConnectRejected`) to refuse the handshake."""
        self.add_route("$connect", func)
        return func

    def disconnect(self, func: F) -> F:
        """Decorator: handle ``$disconnect`` (best effort; the response is ignored)."""
        self.add_route("$disconnect", func)
        return func

    @overload
    def default(self, func: F, *, two_way: bool = False) -> F: ...

    @overload
    def default(self, func: None = None, *, two_way: bool = False) -> Callable[[F], F]: ...

    def default(self, func: F | None = None, *, two_way: bool = False) -> F | Callable[[F], F]:
        """Decorator: handle ``$default`` (unmatched and non-JSON messages).

        Use bare (``@app.default``) or with options (``@app.default(two_way=True)``).
        """
        if func is not None:
            self.add_route("$default", func, two_way=two_way)
            return func

        def decorator(f: F) -> F:
            self.add_route("$default", f, two_way=two_way)
            return f

        return decorator

    def add_middleware(self, middleware: Middleware) -> None:
        """Wrap this router's handlers in ``middleware`` (see the module doc for the shape)."""
        if not callable(middleware):
            raise TypeError("middleware must be callable")
        self._middleware.append(middleware)
        self._changed()

    def middleware(self, func: F) -> F:
        """Decorator form of :meth:`add_middleware`."""
        self.add_middleware(func)
        return func

    def include_router(self, router: Router, *, prefix: str = "") -> None:
        """Copy ``router``'s routes into this one, with ``router``'s middleware around them.

        ``prefix`` is prepended to custom route keys (``prefix="chat/"`` turns ``join`` into
        ``chat/join``, to pair with an expression like ``${request.body.service}/...``);
        predefined keys keep their names. Routes added to ``router`` later are not seen.

        Raises:
            DuplicateRouteError: a key (after prefixing) is already registered here.
            InvalidRouteError: the prefixed key is not a valid route key.
        """
        if router is self:
            raise ValueError("a router cannot include itself")
        wrap = tuple(router._middleware)
        for route in router._routes.values():
            key = route.key if route.key.startswith("$") else validate_route_key(prefix + route.key)
            self._add(
                Route(
                    key,
                    route.handler,
                    two_way=route.two_way,
                    middleware=wrap + route.middleware,
                    takes_context=route.takes_context,
                )
            )

    # --- introspection -----------------------------------------------------------------------

    @property
    def routes(self) -> Mapping[str, Route]:
        """Registered routes by key (read-only)."""
        return MappingProxyType(self._routes)

    @property
    def route_keys(self) -> tuple[str, ...]:
        """Every registered route key, in registration order: the routes to deploy."""
        return tuple(self._routes)

    @property
    def two_way_route_keys(self) -> tuple[str, ...]:
        """The keys whose handler's body is sent back to the client."""
        return tuple(k for k, r in self._routes.items() if r.two_way)


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
        except EventError as exc:
            self._log_failure(parsed, route, context, exc, error=False)
            return error_response(400, "Bad request body").to_dict()
        except Exception as exc:
            self._log_failure(parsed, route, context, exc, error=True)
            return error_response(500, "Internal server error").to_dict()
        finally:
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
        handler = route.handler
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
