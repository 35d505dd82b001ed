"""Where metric data points go: the sink protocol, EMF lines on stdout, Powertools.

:class:`EMFSink` is the default: it buffers points and writes CloudWatch Embedded Metric Format
documents (one JSON object per line) when flushed, within the specification's limits of 100
metrics per document and 100 values per metric. Any object with the two methods of
:class:`MetricSink` can replace it.
"""

from __future__ import annotations

import json
import sys
import threading
import time

from wsgate.exceptions import ConfigurationError

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TextIO

    from wsgate.observe.protocols import MetricSink

__all__ = [
    "COUNT",
    "MAX_DIMENSIONS",
    "MAX_METRICS_PER_DOCUMENT",
    "MAX_VALUES_PER_METRIC",
    "MILLISECONDS",
    "EMFSink",
    "MetricSink",
    "PowertoolsSink",
]

COUNT = "Count"
MILLISECONDS = "Milliseconds"

# Limits from the EMF specification: 100 metric definitions per document, 100 values per
# metric, 30 dimensions per dimension set.
MAX_METRICS_PER_DOCUMENT = 100
MAX_VALUES_PER_METRIC = 100
MAX_DIMENSIONS = 30


class EMFSink:
    """Buffers points and writes them as CloudWatch Embedded Metric Format lines.

    Points with the same dimensions share a document; counts are summed, durations kept as
    value arrays. A document holds at most 100 metrics and 100 values per metric, as the EMF
    specification requires; more points make more documents.

    Args:
        namespace: The CloudWatch namespace of every metric.
        stream: Where lines go; ``None`` means ``sys.stdout`` at write time (what Lambda sends
            to CloudWatch Logs).
        clock: Returns epoch seconds; the documents' ``Timestamp`` is taken at flush.
    """

    def __init__(
        self,
        namespace: str,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not namespace or len(namespace) > 255:
            raise ConfigurationError(f"metric namespace must be 1-255 characters: {namespace!r}")
        self.namespace = namespace
        self._stream = stream
        self._clock = clock
        self._lock = threading.Lock()
        # dimensions (sorted items) -> metric name -> (unit, values)
        self._buffer: dict[tuple[tuple[str, str], ...], dict[str, tuple[str, list[float]]]] = {}

    def add(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        """Buffer one data point until the next :meth:`flush`."""
        key = tuple(sorted(dimensions.items()))
        with self._lock:
            group = self._buffer.setdefault(key, {})
            entry = group.get(name)
            if entry is None:
                group[name] = (unit, [value])
            elif unit == COUNT and entry[0] == COUNT:
                entry[1][0] += value
            else:
                entry[1].append(value)

    def documents(self) -> list[dict[str, Any]]:
        """Take the buffered points as EMF documents (and empty the buffer).

        Mostly for tests and custom writers; :meth:`flush` calls it and writes the result.
        """
        with self._lock:
            buffer, self._buffer = self._buffer, {}
        timestamp = int(self._clock() * 1000)
        documents: list[dict[str, Any]] = []
        for key, group in buffer.items():
            dimensions = dict(key)
            if len(group) <= MAX_METRICS_PER_DOCUMENT and all(
                len(values) <= MAX_VALUES_PER_METRIC for _, values in group.values()
            ):  # the usual case: one document
                documents.append(self._document(timestamp, dimensions, group))
                continue
            # Split long value arrays first, then pack at most 100 metrics per document.
            pending: list[tuple[str, str, list[float]]] = []
            for name, (unit, values) in group.items():
                for start in range(0, len(values), MAX_VALUES_PER_METRIC):
                    pending.append((name, unit, values[start : start + MAX_VALUES_PER_METRIC]))
            while pending:
                batch: dict[str, tuple[str, list[float]]] = {}
                rest: list[tuple[str, str, list[float]]] = []
                for name, unit, values in pending:
                    if name in batch or len(batch) >= MAX_METRICS_PER_DOCUMENT:
                        rest.append((name, unit, values))
                    else:
                        batch[name] = (unit, values)
                documents.append(self._document(timestamp, dimensions, batch))
                pending = rest
        return documents

    def _document(
        self,
        timestamp: int,
        dimensions: Mapping[str, str],
        metrics: Mapping[str, tuple[str, list[float]]],
    ) -> dict[str, Any]:
        document: dict[str, Any] = {
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [
                    {
                        "Namespace": self.namespace,
                        "Dimensions": [sorted(dimensions)],
                        "Metrics": [
                            {"Name": name, "Unit": unit} for name, (unit, _) in metrics.items()
                        ],
                    }
                ],
            }
        }
        document.update(dimensions)
        for name, (_, values) in metrics.items():
            document[name] = values[0] if len(values) == 1 else values
        return document

    def flush(self) -> None:
        """Write every buffered point as EMF lines, one JSON document per line."""
        if not self._buffer:  # nothing recorded (or metrics off): no lock, no write
            return
        documents = self.documents()
        if not documents:
            return
        stream = self._stream if self._stream is not None else sys.stdout
        text = "".join(json.dumps(doc, separators=(",", ":")) + "\n" for doc in documents)
        with self._lock:
            stream.write(text)
            stream.flush()


class PowertoolsSink:
    """Sends points to a Powertools for AWS Lambda ``Metrics`` object.

    Powertools keeps one dimension set per flush, so wsgate's per-point dimensions (stage,
    route) are not applied here: add the dimensions you want on the Powertools object, and let
    its ``@metrics.log_metrics`` decorator flush. :meth:`flush` does nothing for that reason.

    Args:
        metrics: A ``aws_lambda_powertools.Metrics`` (or anything with the same
            ``add_metric(name=, unit=, value=)``).
    """

    def __init__(self, metrics: Any) -> None:
        self.metrics = metrics

    def add(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        """Add the point to the Powertools object (its dimensions apply)."""
        self.metrics.add_metric(name=name, unit=unit, value=value)

    def flush(self) -> None:
        """Nothing: Powertools flushes in its own ``log_metrics`` decorator."""


def __getattr__(name: str) -> object:
    # The protocol lives in wsgate.observe.protocols (it needs typing; a send does not).
    if name == "MetricSink":
        from wsgate.observe.protocols import MetricSink

        return MetricSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
