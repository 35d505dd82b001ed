"""Pieces the benchmarks share: writing a section of RESULTS.md, and the DynamoDB request counter
and null sender of the request-counting benchmarks.

The benchmarks run as scripts (``python bench/bench_x.py``), so this folder is on ``sys.path``
and they import this module as ``common``.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().with_name("RESULTS.md")

__all__ = ["RESULTS", "NullSender", "RequestCounter", "write_section"]


def write_section(heading: str, text: str, path: Path = RESULTS) -> None:
    """Put ``text`` in place of the section that starts with the line ``heading`` (up to the
    next ``## `` heading), or append it when there is none; one blank line between sections.

    ``heading`` must be the whole heading line: ``## Sender and broadcast`` does not match
    ``## Sender and broadcast over TLS``.
    """
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    body = text.rstrip("\n") + "\n"
    padded = "\n" + current
    found = padded.find("\n" + heading + "\n")
    if found < 0:
        updated = current.rstrip("\n") + "\n\n" + body
    else:
        start = found  # in ``current``: the padding's "\n" shifts every index by one
        end = current.find("\n## ", start + len(heading))
        updated = current[:start] + body + (current[end:] if end >= 0 else "")
    path.write_text(updated, encoding="utf-8")


class NullSender:
    """Accepts every post: these benchmarks measure DynamoDB requests, not @connections."""

    def send(self, connection_id: str, data: Any) -> None:
        pass

    def broadcast(self, recipients: Iterable[Any], data: Any) -> Any:
        ids = [r if isinstance(r, str) else r.connection_id for r in recipients]
        return collections.namedtuple("R", "sent gone failed")(ids, [], {})


class RequestCounter:
    """Counts the DynamoDB operations a boto3 client sends (a ``before-call`` hook)."""

    def __init__(self, client: Any) -> None:
        self.calls: collections.Counter[str] = collections.Counter()
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def take(self) -> collections.Counter[str]:
        """The counts since the last ``take``."""
        calls, self.calls = self.calls, collections.Counter()
        return calls
