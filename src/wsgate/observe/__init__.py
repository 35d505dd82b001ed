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
