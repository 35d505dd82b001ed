"""CloudWatch metrics as Embedded Metric Format (EMF) log lines.

wsgate counts what happens to a WebSocket app — connects, disconnects, messages in, messages
sent, send failures by kind, gone connections pruned, broadcast fan-out — and writes the counts
as EMF documents on stdout. In Lambda, CloudWatch Logs turns each such line into metrics: no AWS
call, no extra dependency, no latency on the request path.

A :class:`Metrics` recorder takes the data points; a :class:`MetricSink` (a two-method protocol)
decides where they go. The default sink, :class:`EMFSink`, buffers points and writes one JSON
line per group of dimensions when :meth:`Metrics.flush` is called — once per invocation, which
``WebSocketApp.dispatch`` does through :mod:`wsgate.observe.middleware`. Pass another sink
(e.g. :class:`PowertoolsSink` around a Powertools ``Metrics``) to send the points elsewhere.

Turn metrics off with ``WSGATE_METRICS=off`` (also ``0``, ``false``, ``no``) or
``Metrics(enabled=False)`` / :meth:`Metrics.disable`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence

from wsgate.exceptions import (
    ConfigurationError,
    ConnectionGoneError,
    ForbiddenError,
    PayloadTooLargeError,
    ServerError,
    ThrottledError,
    TransportError,
)
from wsgate.observe.sinks import (
    COUNT,
    MAX_DIMENSIONS,
    MILLISECONDS,
    EMFSink,
    PowertoolsSink,
)

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from typing import Any, TextIO

    from wsgate.observe.protocols import MetricSink

__all__ = [
    "BROADCAST_DURATION",
    "BROADCAST_RECIPIENTS",
    "CONNECTIONS_PRUNED",
    "CONNECTS",
    "DISCONNECTS",
    "HANDLER_ERRORS",
    "INVALID_BODIES",
    "MESSAGES_IN",
    "MESSAGES_SENT",
    "SEND_FAILURES",
    "EMFSink",
    "MetricSink",
    "Metrics",
    "PowertoolsSink",
    "failure_kind",
    "get_metrics",
    "record_broadcast",
    "record_send",
    "set_metrics",
]

CONNECTS = "Connects"
DISCONNECTS = "Disconnects"
MESSAGES_IN = "MessagesIn"
HANDLER_ERRORS = "HandlerErrors"
INVALID_BODIES = "InvalidBodies"
MESSAGES_SENT = "MessagesSent"
#: Metric name for each send-failure kind (see :func:`failure_kind`).
SEND_FAILURES = {
    "gone": "SendFailuresGone",
    "throttled": "SendFailuresThrottled",
    "too_large": "SendFailuresTooLarge",
    "forbidden": "SendFailuresForbidden",
    "server_error": "SendFailuresServerError",
    "transport": "SendFailuresTransport",
    "other": "SendFailuresOther",
}
CONNECTIONS_PRUNED = "ConnectionsPruned"
BROADCAST_RECIPIENTS = "BroadcastRecipients"
BROADCAST_DURATION = "BroadcastDuration"

KNOWN_DIMENSIONS = ("Stage", "Route")
_OFF_VALUES = frozenset({"off", "0", "false", "no", "disabled"})


def failure_kind(error: BaseException) -> str:
    """The send-failure kind of an error: ``gone``, ``throttled``, ``too_large``,
    ``forbidden`` (403: IAM or endpoint), ``server_error`` (5xx), ``transport`` (network,
    timeout, deadline) or ``other``."""
    if isinstance(error, ConnectionGoneError):
        return "gone"
    if isinstance(error, ThrottledError):
        return "throttled"
    if isinstance(error, PayloadTooLargeError):
        return "too_large"
    if isinstance(error, ForbiddenError):
        return "forbidden"
    if isinstance(error, ServerError):
        return "server_error"
    if isinstance(error, TransportError):
        return "transport"
    return "other"


def _env_enabled() -> bool:
    return os.environ.get("WSGATE_METRICS", "on").strip().lower() not in _OFF_VALUES


def _event_dimensions(event: Any) -> dict[str, str]:
    """Stage and route of an event (typed event or raw dict); absent values are left out."""
    raw = getattr(event, "raw", event)
    found: dict[str, str] = {}
    if isinstance(raw, Mapping):
        context = raw.get("requestContext")
        if isinstance(context, Mapping):
            stage = context.get("stage")
            route = context.get("routeKey")
            if isinstance(stage, str) and stage:
                found["Stage"] = stage
            if isinstance(route, str) and route:
                found["Route"] = route
    return found


class Metrics:
    """Records wsgate's metrics and hands them to a sink.

    Create one per process (or use :func:`get_metrics`); it is thread-safe. Each recording
    method takes the current event from :func:`wsgate.context.current_event` unless given one,
    and reads the ``Stage`` and ``Route`` dimensions from it.

    Args:
        namespace: CloudWatch namespace; default ``WSGATE_METRICS_NAMESPACE`` or ``"wsgate"``.
        dimensions: Which of ``"Stage"`` and ``"Route"`` to apply (``()`` for none).
        static_dimensions: Fixed dimensions added to every point (e.g. ``{"Service": "chat"}``).
        sink: Where points go; default an :class:`EMFSink` writing to ``stream``.
        enabled: ``False`` records nothing; default from ``WSGATE_METRICS`` (on unless ``off``).
        stream: The default sink's output; ``None`` means ``sys.stdout``.

    Raises:
        ConfigurationError: Unknown dimension names, more than 30 dimensions, a bad namespace,
            or a dimension with an empty value.
    """

    def __init__(
        self,
        namespace: str | None = None,
        *,
        dimensions: Sequence[str] = KNOWN_DIMENSIONS,
        static_dimensions: Mapping[str, str] | None = None,
        sink: MetricSink | None = None,
        enabled: bool | None = None,
        stream: TextIO | None = None,
    ) -> None:
        unknown = [name for name in dimensions if name not in KNOWN_DIMENSIONS]
        if unknown:
            raise ConfigurationError(
                f"unknown metric dimensions {unknown}; choose from {list(KNOWN_DIMENSIONS)}"
            )
        static = dict(static_dimensions or {})
        for key, value in static.items():
            if not key or not isinstance(value, str) or not value:
                raise ConfigurationError(f"metric dimension {key!r} needs a non-empty string")
        if len(static) + len(dimensions) > MAX_DIMENSIONS:
            raise ConfigurationError(f"at most {MAX_DIMENSIONS} metric dimensions are allowed")
        self.namespace = namespace or os.environ.get("WSGATE_METRICS_NAMESPACE") or "wsgate"
        self.dimensions = tuple(dimensions)
        self.static_dimensions = static
        self.sink: MetricSink = sink if sink is not None else EMFSink(self.namespace, stream=stream)
        self.enabled = _env_enabled() if enabled is None else enabled
        self._checked_names: set[str] = set()

    def enable(self) -> None:
        """Start recording again after :meth:`disable`."""
        self.enabled = True

    def disable(self) -> None:
        """Stop recording: every method becomes a no-op until :meth:`enable`."""
        self.enabled = False

    def _dimensions(self, event: Any, route: str | None) -> dict[str, str]:
        if event is None:
            event = _current_event()
        found = _event_dimensions(event) if event is not None else {}
        if route is not None:
            found["Route"] = route
        dims = {name: found[name] for name in self.dimensions if name in found}
        dims.update(self.static_dimensions)
        return dims

    def put(
        self,
        name: str,
        value: float,
        unit: str = COUNT,
        *,
        event: Any = None,
        route: str | None = None,
    ) -> None:
        """Record one data point under the current (or given) event's dimensions.

        Use it for metrics of your own; the named methods below cover wsgate's.

        Raises:
            ConfigurationError: ``name`` is empty, longer than 255 characters, ``_aws``, or
                the name of a dimension (EMF keeps both as top-level members).
        """
        if not self.enabled:
            return
        dimensions = self._dimensions(event, route)
        if name not in self._checked_names:
            if not name or len(name) > 255 or name == "_aws" or name in KNOWN_DIMENSIONS:
                raise ConfigurationError(f"invalid metric name {name!r}")
            if name in self.static_dimensions:
                raise ConfigurationError(f"metric name {name!r} is also a dimension")
            self._checked_names.add(name)
        self.sink.add(name, value, unit, dimensions)

    def connected(self, event: Any = None) -> None:
        """Count a ``$connect`` that was accepted."""
        self.put(CONNECTS, 1, event=event)

    def disconnected(self, event: Any = None) -> None:
        """Count a ``$disconnect``."""
        self.put(DISCONNECTS, 1, event=event)

    def message_received(self, event: Any = None) -> None:
        """Count a message that reached a route."""
        self.put(MESSAGES_IN, 1, event=event)

    def handler_error(self, event: Any = None) -> None:
        """Count a handler that raised (answered 500)."""
        self.put(HANDLER_ERRORS, 1, event=event)

    def invalid_body(self, event: Any = None) -> None:
        """Count a message refused before its handler: the body did not match its type."""
        self.put(INVALID_BODIES, 1, event=event)

    def sent(self, count: int = 1, event: Any = None) -> None:
        """Count messages delivered through the Management API."""
        if count:
            self.put(MESSAGES_SENT, count, event=event)

    def send_failed(self, kind: str | BaseException, count: int = 1, event: Any = None) -> None:
        """Count failed sends of one kind (see :func:`failure_kind`).

        ``kind`` may also be the error itself; :func:`failure_kind` classifies it.
        """
        if isinstance(kind, BaseException):
            kind = failure_kind(kind)
        if count:
            self.put(SEND_FAILURES.get(kind, SEND_FAILURES["other"]), count, event=event)

    def pruned(self, count: int, event: Any = None) -> None:
        """Count gone connections deleted from the registry."""
        if count:
            self.put(CONNECTIONS_PRUNED, count, event=event)

    def broadcast(self, recipients: int, duration_ms: float, event: Any = None) -> None:
        """Record one broadcast: how many recipients, and how long it took in milliseconds."""
        self.put(BROADCAST_RECIPIENTS, recipients, event=event)
        self.put(BROADCAST_DURATION, duration_ms, MILLISECONDS, event=event)

    def flush(self) -> None:
        """Publish the buffered points (one EMF line per dimension group). Never raises."""
        try:
            self.sink.flush()
        except Exception:  # a metrics backend must never fail the invocation
            from wsgate.observe.logging import get_logger

            get_logger(__name__).exception("flushing metrics failed")


_default: Metrics | None = None
_default_lock = threading.Lock()


def get_metrics() -> Metrics:
    """The process-wide :class:`Metrics` wsgate records into, built from the environment once."""
    global _default
    current = _default
    if current is None:
        with _default_lock:
            if _default is None:
                _default = Metrics()
            current = _default
    return current


def set_metrics(metrics: Metrics | None) -> None:
    """Replace the process-wide recorder (``None``: rebuild from the environment on next use).

    Call it at import time of your app, e.g.
    ``set_metrics(Metrics("chat", static_dimensions={"Service": "chat"}))``.
    """
    global _default
    with _default_lock:
        _default = metrics


def _current_event() -> Any:
    """The event being handled now, or ``None`` (without importing logging)."""
    try:
        from wsgate.context import current_event
    except ImportError:  # the core is not installed with this build
        return None
    return current_event()


def _flush_outside_handler(metrics: Metrics) -> None:
    """Inside a handler the dispatch middleware flushes; elsewhere (a job, a script) flush now."""
    if _current_event() is None:
        metrics.flush()


def record_send(error: BaseException | None = None, *, pruned: int = 0) -> None:
    """Count one single-connection send: delivered (``error`` is None) or failed, by kind.

    Called by :class:`wsgate.sender.Sender`; never raises.
    """
    metrics = get_metrics()
    if not metrics.enabled:
        return
    try:
        if error is None:
            metrics.sent(1)
        else:
            metrics.send_failed(error)
        metrics.pruned(pruned)
        _flush_outside_handler(metrics)
    except Exception:  # metrics must never break a send
        from wsgate.observe.logging import get_logger

        get_logger(__name__).exception("recording a send failed")


def record_broadcast(result: Any) -> None:
    """Count a broadcast from its result (``sent``, ``gone``, ``failed``, ``pruned``, ``duration``).

    Records messages sent, failures by kind (gone included), gone connections pruned, the
    number of recipients and the duration. Called by :class:`wsgate.sender.Sender`; never raises.
    """
    metrics = get_metrics()
    if not metrics.enabled:
        return
    try:
        metrics.sent(len(result.sent))
        metrics.send_failed("gone", len(result.gone))
        kinds: dict[str, int] = {}
        for error in result.failed.values():
            kind = failure_kind(error)
            kinds[kind] = kinds.get(kind, 0) + 1
        for kind, count in kinds.items():
            metrics.send_failed(kind, count)
        metrics.pruned(int(result.pruned))
        metrics.broadcast(int(result.total), float(result.duration) * 1000.0)
        _flush_outside_handler(metrics)
    except Exception:  # metrics must never break a broadcast
        from wsgate.observe.logging import get_logger

        get_logger(__name__).exception("recording a broadcast failed")


def __getattr__(name: str) -> object:
    if name == "MetricSink":  # see wsgate.observe.protocols
        from wsgate.observe.protocols import MetricSink

        return MetricSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
