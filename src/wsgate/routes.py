"""Route registration: :class:`Route` and :class:`Router` (the decorators and ``include_router``).

:class:`~wsgate.router.WebSocketApp` is a :class:`Router` that also dispatches; import both from
:mod:`wsgate.router` (or :mod:`wsgate`). This module is the registration half: it checks route
keys and handler shapes when a route is added, so mistakes fail at import time, not at the
first message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from wsgate.events import WebSocketEvent
from wsgate.exceptions import DuplicateRouteError, InvalidRouteError
from wsgate.responses import Response
from wsgate.selection import validate_route_key

__all__ = ["CallNext", "Middleware", "Route", "Router", "is_async_callable"]

CallNext = Callable[[WebSocketEvent], Response]

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any, TypeVar, overload

    F = TypeVar("F", bound=Callable[..., Any])
    Middleware = Callable[[WebSocketEvent, CallNext], Any]
else:
    # The same alias at run time, without typing's ``Any``.
    Middleware = Callable[[WebSocketEvent, CallNext], object]


_CO_VARARGS = 0x04
_CO_COROUTINE = 0x80
_CO_ASYNC_GENERATOR = 0x200


def is_async_callable(func: Any) -> bool:
    """Whether calling ``func`` returns a coroutine: an ``async def`` function or method, a
    ``functools.partial`` of one, or an object whose ``__call__`` is ``async def``.

    Reads code flags only (no :mod:`inspect`, no :mod:`asyncio`).
    """
    while hasattr(func, "func") and hasattr(func, "args") and hasattr(func, "keywords"):
        func = func.func  # functools.partial
    code = getattr(func, "__code__", None)
    if code is None and not isinstance(func, type):
        call = next(
            (k.__dict__["__call__"] for k in type(func).__mro__ if "__call__" in k.__dict__), None
        )
        code = getattr(call, "__code__", None)  # an object with an async __call__
    return code is not None and bool(code.co_flags & _CO_COROUTINE)


def _refuse_async_generator(func: Any, what: str) -> None:
    code = getattr(func, "__code__", None)
    if code is not None and code.co_flags & _CO_ASYNC_GENERATOR:
        raise TypeError(f"{func!r} is an async generator; a wsgate {what} returns one value")


def _takes_context(func: Callable[..., Any]) -> bool:
    """Whether ``func`` accepts a second positional argument (the Lambda context)."""
    code = getattr(func, "__code__", None)
    if code is not None and not isinstance(func, type):
        _refuse_async_generator(func, "handler")
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


def _may_declare_body(func: Callable[..., Any]) -> bool:
    """Cheap pre-check: does ``func`` annotate a parameter other than its first (the event)?

    Only then is :mod:`wsgate.bodies` loaded, so apps without models never import it.
    """
    annotations = getattr(func, "__annotations__", None)
    if not annotations:
        return False
    code = getattr(func, "__code__", None)
    first = code.co_varnames[0] if code is not None and code.co_argcount else None
    return any(name not in ("return", first) for name in annotations)


class Route:
    """One registered route: its key, handler, two-way flag, router middleware and typed
    inputs (``body``: a :class:`wsgate.bodies.Binding`, or ``None``)."""

    __slots__ = ("body", "handler", "key", "middleware", "takes_context", "two_way")

    def __init__(
        self,
        key: str,
        handler: Callable[..., Any],
        *,
        two_way: bool = False,
        middleware: tuple[Middleware, ...] = (),
        takes_context: bool | None = None,
        body: Any = None,
        query: Any = None,
        headers: Any = None,
    ) -> None:
        if not callable(handler):
            raise TypeError(f"handler for {key!r} is not callable")
        self.key = key
        self.handler = handler
        self.two_way = two_way
        self.middleware = middleware
        self.body: Any = None
        if body is not None or query is not None or headers is not None:
            from wsgate.bodies import Binding, bind

            self.body = (
                body
                if isinstance(body, Binding)
                else bind(key, handler, body, query=query, headers=headers)
            )
        elif _may_declare_body(handler):
            from wsgate.bodies import bind

            self.body = bind(key, handler)
        if self.body is not None:
            _takes_context(handler)  # the same checks (async) as for any handler
            takes_context = self.body.takes_context
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
        self._server_messages: dict[str, tuple[Any, str | None]] = {}

    # --- registration ------------------------------------------------------------------------

    def add_route(
        self,
        route_key: str,
        handler: Callable[..., Any],
        *,
        two_way: bool = False,
        body: Any = None,
    ) -> None:
        """Register ``handler`` for ``route_key`` (``$connect``, ``$disconnect``, ``$default``
        or a custom key).

        ``body`` declares the message body type (a Pydantic model, a dataclass or a
        ``TypedDict``; or annotate a handler parameter with it): see :mod:`wsgate.bodies`.

        Raises:
            InvalidRouteError: the key is empty or starts with ``$`` without being predefined.
            DuplicateRouteError: the key is already registered.
            TypeError: the handler is not callable or is an async generator, or its body type
                is unusable.
        """
        validate_route_key(route_key)
        if two_way and route_key in ("$connect", "$disconnect"):
            raise InvalidRouteError(route_key, "only message routes can be two-way")
        self._add(Route(route_key, handler, two_way=two_way, body=body))

    def _add(self, route: Route) -> None:
        if route.key in self._routes:
            raise DuplicateRouteError(route.key)
        self._routes[route.key] = route
        self._changed()

    def _changed(self) -> None:
        """Hook for subclasses that cache derived state."""

    def route(self, route_key: str, *, two_way: bool = False, body: Any = None) -> Callable[[F], F]:
        """Decorator: handle messages whose selection expression evaluates to ``route_key``.

        With ``two_way=True`` the handler's body is sent back to the client (the deployment
        needs a ``$default`` route response on this route). ``body`` declares the body type
        (see :meth:`add_route`).

        Raises:
            InvalidRouteError, DuplicateRouteError: see :meth:`add_route`.
        """
        validate_route_key(route_key)

        def decorator(func: F) -> F:
            self.add_route(route_key, func, two_way=two_way, body=body)
            return func

        return decorator

    if TYPE_CHECKING:  # the overloads, for type checkers only

        @overload
        def connect(self, func: F, *, query: Any = None, headers: Any = None) -> F: ...

        @overload
        def connect(
            self, func: None = None, *, query: Any = None, headers: Any = None
        ) -> Callable[[F], F]: ...

    def connect(
        self, func: F | None = None, *, query: Any = None, headers: Any = None
    ) -> F | Callable[[F], F]:
        """Decorator: handle ``$connect``. Return a 4xx/5xx :class:`Response` (or raise
        :class:`~wsgate.exceptions.ConnectRejected`) to refuse the handshake.

        Use bare (``@app.connect``) or with models for the query string and the handshake
        headers (``@app.connect(query=ConnectQuery)``): they are validated before the handler
        (an invalid handshake is refused with 400) and passed to its ``query`` / ``headers``
        parameters when it has them. Header names are matched in lower case.
        """

        def register(f: F) -> F:
            validate_route_key("$connect")
            self._add(Route("$connect", f, query=query, headers=headers))
            return f

        return register(func) if func is not None else register

    def disconnect(self, func: F) -> F:
        """Decorator: handle ``$disconnect`` (best effort; the response is ignored)."""
        self.add_route("$disconnect", func)
        return func

    if TYPE_CHECKING:  # the overloads, for type checkers only

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
        _refuse_async_generator(middleware, "middleware")
        self._middleware.append(middleware)
        self._changed()

    def middleware(self, func: F) -> F:
        """Decorator form of :meth:`add_middleware`."""
        self.add_middleware(func)
        return func

    def server_message(
        self, name: str, model: Any = None, *, description: str | None = None
    ) -> Any:
        """Declare a message the server sends to clients (for the AsyncAPI document).

        ``app.server_message("chat", ChatMessage)``, or as a class decorator
        ``@app.server_message("chat")``. ``model`` is a body type (or ``None`` for any JSON).

        Raises:
            ValueError: ``name`` is empty or already declared.
        """
        if not isinstance(name, str) or not name:
            raise ValueError("a server message needs a name")

        def register(cls: Any) -> Any:
            if name in self._server_messages:
                raise ValueError(f"server message {name!r} is already declared")
            self._server_messages[name] = (cls, description)
            return cls

        return register(model) if model is not None else register

    @property
    def server_messages(self) -> Mapping[str, tuple[Any, str | None]]:
        """Declared server-to-client messages: name → ``(model, description)``."""
        return MappingProxyType(self._server_messages)

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
                    body=route.body.renamed(key) if route.body is not None else None,
                )
            )
        for name, declared in router._server_messages.items():
            self._server_messages.setdefault(name, declared)

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
