"""The protocol a metrics backend implements: :class:`MetricSink`.

Apart from :mod:`wsgate.observe.sinks` because :mod:`typing` costs ~5 ms to import on a small
Lambda and recording a metric does not need it; ``wsgate.observe`` loads this on first access.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

__all__ = ["MetricSink"]


@runtime_checkable
class MetricSink(Protocol):
    """Where metric data points go. Implement both methods to plug in another backend."""

    def add(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        """Take one data point. Called on the request path: keep it cheap, never raise."""

    def flush(self) -> None:
        """Publish what was added since the last flush. Called once per invocation."""
