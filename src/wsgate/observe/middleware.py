"""The router middleware that logs and counts each invocation, then flushes the metrics.

``WebSocketApp`` installs :func:`observe_middleware` as its outermost middleware unless created
with ``observe=False``; :func:`instrument` adds it to an app (or a :class:`~wsgate.router.Router`)
that was created without it. Per invocation it:

* counts ``Connects`` (an accepted ``$connect``: status below 400), ``Disconnects``,
  ``MessagesIn`` (every other route) and ``HandlerErrors`` (a handler raised anything but
  wsgate's own flow-control errors: ``ConnectRejected``, ``AuthError``, ``EventError``);
* logs the connect (INFO), the disconnect with its close code (INFO) and each routed message
  (DEBUG) on the ``wsgate`` logger, with the event's ids on the record;
* flushes the metrics, so each invocation's EMF lines are written before it returns.
"""

from __future__ import annotations

import sys

from wsgate.exceptions import AuthError, ConnectRejected, EventError
from wsgate.observe.metrics import Metrics, get_metrics

TYPE_CHECKING = False  # typing and logging stay unloaded on a cold start
if TYPE_CHECKING:
    import logging

    from wsgate.events import WebSocketEvent
    from wsgate.responses import Response
    from wsgate.router import CallNext, Router

__all__ = ["instrument", "observe_middleware"]


class _LazyLog:
    """``get_logger("wsgate.observe")``, built on the first record that can be emitted.

    Until something imports :mod:`logging`, nothing can have configured it: the root logger
    is at its default WARNING level, so these INFO and DEBUG records would be dropped anyway,
    and importing ``logging`` for them (~5 ms of a cold start) is skipped.
    """

    __slots__ = ("_adapter",)

    def __init__(self) -> None:
        self._adapter: logging.LoggerAdapter[logging.Logger] | None = None

    def info(self, message: str, *args: object) -> None:
        self._emit(20, message, args)

    def debug(self, message: str, *args: object) -> None:
        self._emit(10, message, args)

    def _emit(self, level: int, message: str, args: tuple[object, ...]) -> None:
        if "logging" not in sys.modules:
            return
        if self._adapter is None:
            from wsgate.observe.logging import get_logger

            self._adapter = get_logger("wsgate.observe")
        # stacklevel 3: the record names the caller of info/debug, not this class.
        self._adapter.log(level, message, *args, stacklevel=3)


_log = _LazyLog()
_EXPECTED = (ConnectRejected, AuthError, EventError)


def _record(metrics: Metrics, event: WebSocketEvent, response: Response | None) -> None:
    context = event.request_context
    event_type = context.get("eventType")
    connection_id = context.get("connectionId")
    if event_type == "CONNECT":
        if response is not None and response.status_code < 400:
            metrics.connected(event)
            _log.info("connection %s connected", connection_id)
        else:
            status = response.status_code if response is not None else None
            _log.info("connection %s refused with status %s", connection_id, status)
    elif event_type == "DISCONNECT":
        metrics.disconnected(event)
        reason = context.get("disconnectReason")
        _log.info(
            "connection %s disconnected (%s%s)",
            connection_id,
            context.get("disconnectStatusCode"),
            f" {reason}" if reason else "",
        )
    else:
        metrics.message_received(event)
        _log.debug("connection %s message on route %s", connection_id, context.get("routeKey"))


def observe_middleware(event: WebSocketEvent, call_next: CallNext) -> Response:
    """Count, log and flush around one invocation; exceptions pass through unchanged.

    Uses the process-wide recorder from :func:`wsgate.observe.metrics.get_metrics`.
    """
    metrics = get_metrics()
    try:
        response = call_next(event)
    except _EXPECTED as exc:
        status = getattr(exc, "status_code", 400)
        if event.request_context.get("eventType") == "CONNECT":
            connection_id = event.request_context.get("connectionId")
            _log.info("connection %s refused with status %s", connection_id, status)
        else:
            metrics.message_received(event)
        metrics.flush()
        raise
    except Exception:
        if event.request_context.get("eventType") == "MESSAGE":
            metrics.message_received(event)
        metrics.handler_error(event)
        metrics.flush()
        raise
    try:
        _record(metrics, event, response)
    finally:
        metrics.flush()
    return response


def instrument(target: Router) -> Router:
    """Add :func:`observe_middleware` to an app or router that does not have it yet.

    Returns ``target`` so it can wrap a constructor: ``app = instrument(WebSocketApp(...,
    observe=False))`` re-enables it. Adding it twice is a no-op.
    """
    if not any(_is_observe(mw) for mw in getattr(target, "_middleware", ())):
        target.add_middleware(observe_middleware)
    return target


def _is_observe(middleware: object) -> bool:
    """This middleware, or the router's lazy shim around it."""
    if middleware is observe_middleware:
        return True
    return (
        getattr(middleware, "__module__", None) == "wsgate.router"
        and getattr(middleware, "__qualname__", None) == "_observe"
    )
