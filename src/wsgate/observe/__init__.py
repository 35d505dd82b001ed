"""Observability for wsgate apps: structured logging and CloudWatch EMF metrics.

Everything here is standard library only and configures nothing on import.

* :mod:`wsgate.observe.logging` — the ``wsgate`` logger, the event's ids on every record,
  a JSON formatter compatible with Lambda's JSON log format and Powertools' Logger.
* :mod:`wsgate.observe.metrics` — connects, disconnects, messages, sends, failures, prunes and
  broadcasts, recorded into a replaceable sink (:mod:`wsgate.observe.sinks`: Embedded Metric
  Format lines by default, or Powertools).
* :mod:`wsgate.observe.middleware` — what ``WebSocketApp`` runs around each invocation.
"""

from __future__ import annotations

TYPE_CHECKING = False  # nothing is imported until a name is used
if TYPE_CHECKING:
    from wsgate.observe.logging import (
        EventContextFilter,
        JsonFormatter,
        add_event_context,
        configure_logging,
        get_logger,
    )
    from wsgate.observe.metrics import (
        EMFSink,
        Metrics,
        MetricSink,
        PowertoolsSink,
        get_metrics,
        set_metrics,
    )

# Loaded on first access (PEP 562): recording a send's metric (wsgate.observe.metrics) must
# not import logging, and configuring logging must not import the metrics.
_LAZY = {
    "EventContextFilter": "wsgate.observe.logging",
    "JsonFormatter": "wsgate.observe.logging",
    "add_event_context": "wsgate.observe.logging",
    "configure_logging": "wsgate.observe.logging",
    "get_logger": "wsgate.observe.logging",
    "EMFSink": "wsgate.observe.metrics",
    "Metrics": "wsgate.observe.metrics",
    "MetricSink": "wsgate.observe.protocols",
    "PowertoolsSink": "wsgate.observe.metrics",
    "get_metrics": "wsgate.observe.metrics",
    "set_metrics": "wsgate.observe.metrics",
}

__all__ = [
    "EMFSink",
    "EventContextFilter",
    "JsonFormatter",
    "MetricSink",
    "Metrics",
    "PowertoolsSink",
    "add_event_context",
    "configure_logging",
    "get_logger",
    "get_metrics",
    "set_metrics",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
