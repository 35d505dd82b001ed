"""The layers of a route's call chain: handler, exception handlers, middleware; sync or async.

:class:`~wsgate.router.WebSocketApp` builds one chain per route from these, innermost first:
the handler, then (when any are registered) the exception handlers, then each middleware. A
layer is either a plain callable ``(event, context) -> Response`` or an ``async def`` one. An
async middleware gets an awaitable ``call_next``; where a sync layer wraps an async one,
:func:`as_sync` drives the coroutine to completion on the thread's event loop
(:mod:`wsgate.eventloop`, imported only then, so synchronous apps never load asyncio). A plain
callable that returns an awaitable anyway is settled the same way (:func:`settle`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from wsgate.responses import Response, to_response

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any

    from wsgate.events import WebSocketEvent
    from wsgate.routes import Middleware

    Endpoint = Callable[[WebSocketEvent, Any], Response]
    AsyncEndpoint = Callable[[WebSocketEvent, Any], Awaitable[Response]]
    HandlerLookup = Callable[[Exception], Callable[..., Any] | None]
else:  # the same aliases at run time, without typing's Any
    Endpoint = Callable[["WebSocketEvent", object], Response]
    AsyncEndpoint = Callable[["WebSocketEvent", object], Awaitable[Response]]
    HandlerLookup = Callable[[Exception], "Callable[..., object] | None"]

__all__ = [
    "AsyncEndpoint",
    "Endpoint",
    "as_sync",
    "async_handler",
    "guard",
    "is_awaitable",
    "run",
    "settle",
    "wrap",
    "wrap_async",
]


def wrap(middleware: Middleware, inner: Endpoint) -> Endpoint:
    """A plain middleware around ``inner``: ``call_next`` returns the Response."""

    def endpoint(event: WebSocketEvent, context: Any) -> Response:
        def call_next(next_event: WebSocketEvent) -> Response:
            return inner(next_event, context)

        return to_response(settle(middleware(event, call_next)))

    return endpoint


def wrap_async(middleware: Any, inner: Any, *, inner_is_async: bool) -> AsyncEndpoint:
    """An ``async def`` middleware: its ``call_next`` is awaitable, as in Starlette."""

    async def endpoint(event: WebSocketEvent, context: Any) -> Response:
        async def call_next(next_event: WebSocketEvent) -> Response:
            response: Response = (
                await inner(next_event, context) if inner_is_async else inner(next_event, context)
            )
            return response

        return to_response(await middleware(event, call_next))

    return endpoint


def async_handler(handler: Callable[..., Any], takes_context: bool) -> AsyncEndpoint:
    """An ``async def`` route handler as an async layer."""
    if takes_context:

        async def endpoint(event: WebSocketEvent, context: Any) -> Response:
            return to_response(await handler(event, context))
    else:

        async def endpoint(event: WebSocketEvent, context: Any) -> Response:
            return to_response(await handler(event))

    return endpoint


def as_sync(inner: AsyncEndpoint) -> Endpoint:
    """An async layer as a plain one: each call runs it to completion (:func:`run`)."""

    def endpoint(event: WebSocketEvent, context: Any) -> Response:
        response: Response = run(inner(event, context))
        return response

    return endpoint


def is_awaitable(value: Any) -> bool:
    """Whether ``value`` can be awaited (a coroutine, a future), without importing inspect."""
    return getattr(type(value), "__await__", None) is not None


def settle(value: Any) -> Any:
    """``value``, or its result when a sync-looking callable returned an awaitable."""
    return run(value) if is_awaitable(value) else value


def run(awaitable: Any) -> Any:
    """Drive ``awaitable`` to completion on this thread's loop (see :mod:`wsgate.eventloop`)."""
    from wsgate.eventloop import run as run_on_loop  # loads asyncio: only for an awaitable

    return run_on_loop(awaitable)


def guard(inner: Any, lookup: HandlerLookup, *, is_async: bool) -> Any:
    """Wrap ``inner`` so the exception handler ``lookup(exc)`` finds answers what it raises.

    An exception without a handler propagates unchanged; a handler's own exception too.
    """
    if is_async:

        async def guarded(event: WebSocketEvent, context: Any) -> Response:
            try:
                response: Response = await inner(event, context)
                return response
            except Exception as exc:
                handler = lookup(exc)
                if handler is None:
                    raise
                value = handler(event, exc)
                if is_awaitable(value):
                    value = await value
                return to_response(value)

        return guarded

    def endpoint(event: WebSocketEvent, context: Any) -> Response:
        try:
            response: Response = inner(event, context)
            return response
        except Exception as exc:
            handler = lookup(exc)
            if handler is None:
                raise
            return to_response(settle(handler(event, exc)))

    return endpoint
