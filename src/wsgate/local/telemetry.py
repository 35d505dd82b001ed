"""Where an app's metrics go under ``wsgate serve``: the dashboard, not the terminal.

Deployed, wsgate writes its metrics as CloudWatch EMF lines on stdout (one per invocation),
which CloudWatch Logs turns into metrics. Locally those lines would flood the terminal the
developer reads, so the emulator installs a :class:`DashboardSink` instead: it keeps running
totals (``GET /_wsgate/api/metrics``) and pushes each flushed batch to the dashboard's live
feed as a ``metrics`` event. ``wsgate serve --metrics`` keeps the EMF lines on stdout.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsgate.local.dashboard import Feed

__all__ = ["DashboardSink"]


class DashboardSink:
    """A :class:`wsgate.observe.MetricSink` that totals points and shows them on the dashboard.

    Thread-safe: handlers flush from worker threads; the feed is written on the emulator's loop.

    Args:
        feed: The dashboard's live feed.
        loop: The emulator's event loop (where the feed lives).
    """

    def __init__(self, feed: Feed, loop: asyncio.AbstractEventLoop) -> None:
        self._feed = feed
        self._loop = loop
        self._lock = threading.Lock()
        self._batch: dict[str, float] = {}
        self._totals: dict[str, float] = {}
        self._units: dict[str, str] = {}

    def add(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        """Count one data point (dimensions are summed over: the page shows totals)."""
        with self._lock:
            self._batch[name] = self._batch.get(name, 0.0) + value
            self._units[name] = unit

    def flush(self) -> None:
        """Add the batch to the totals and push it to open dashboard pages."""
        with self._lock:
            batch, self._batch = self._batch, {}
            for name, value in batch.items():
                self._totals[name] = self._totals.get(name, 0.0) + value
            totals = dict(self._totals)
        if not batch:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the emulator stopped
            self._loop.call_soon_threadsafe(
                self._feed.publish, "metrics", {"batch": batch, "totals": totals}
            )

    def totals(self) -> dict[str, Any]:
        """Every metric's running total and unit since the emulator started."""
        with self._lock:
            return {
                name: {"value": value, "unit": self._units.get(name, "")}
                for name, value in sorted(self._totals.items())
            }
