"""The worker function: takes hand-off tasks from SQS and posts them with the sender.

One line in your code::

    from wsgate.fanout import worker as handler   # an SQS-triggered Lambda function

* A **plan** reads the room or topic with the ids-only paged lookup and enqueues it as chunks
  (numbered, so a plan delivered twice enqueues each chunk once on a FIFO queue).
* A **chunk** is posted with the existing sender (each id once), gone connections are pruned
  from the registry, and recipients that still failed (throttling, 5xx, the deadline) go back
  on the queue as a smaller chunk, up to ``max_attempts`` times; after that the message is
  reported as failed and SQS moves it to the dead-letter queue after ``maxReceiveCount``.
* The answer is a partial batch response (``batchItemFailures``; the event source mapping
  needs ``ReportBatchItemFailures``), so one bad message does not re-run the others.

Totals go to the metrics (``FanoutChunks``, ``FanoutPlans``, and the sender's own
``MessagesSent``...) and one INFO line per task on ``wsgate.fanout``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Final

from wsgate.fanout.queue import FanoutQueue
from wsgate.fanout.tasks import DEFAULT_CHUNK_SIZE, Chunk, Plan, chunk_recipients, decode_task
from wsgate.registry.paging import Member, member_pages

__all__ = ["FanoutWorker", "worker"]

logger = logging.getLogger("wsgate.fanout")

DEFAULT_MAX_ATTEMPTS: Final = 3


class FanoutWorker:
    """Handles SQS events of hand-off tasks.

    Args:
        queue: Where plans put their chunks and retries go (default: the environment's).
        registry: Groups are read and gone connections pruned here (``config``'s).
        sender: Posts the chunks (``config``'s).
        chunk_size: Recipients per chunk a plan makes.
        max_attempts: Re-enqueues of a chunk's failed part before the message fails.
    """

    def __init__(
        self,
        queue: FanoutQueue | str | None = None,
        *,
        registry: Any = None,
        sender: Any = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        sqs_client: Any = None,
    ) -> None:
        self._queue = queue if isinstance(queue, FanoutQueue) else None
        self._queue_url = queue if isinstance(queue, str) else None
        self._sqs_client = sqs_client
        self._registry = registry
        self._sender = sender
        self.chunk_size = chunk_size
        self.max_attempts = max_attempts

    @property
    def queue(self) -> FanoutQueue:
        """The hand-off queue."""
        if self._queue is None:
            self._queue = FanoutQueue(self._queue_url, client=self._sqs_client)
        return self._queue

    def _config(self, name: str) -> Any:
        value = getattr(self, f"_{name}")
        if value is None:
            from wsgate import config

            value = config.get_registry() if name == "registry" else config.get_sender()
        return value

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda handler: every record of an SQS event, failures reported per message."""
        from wsgate.context import _current_context

        token = _current_context.set(context)  # the sender's retries respect the deadline
        failures = []
        try:
            for record in event.get("Records", []):
                message_id = str(record.get("messageId", ""))
                try:
                    self.process(str(record.get("body", "")))
                except Exception:
                    logger.exception("fan-out task %s failed", message_id)
                    failures.append({"itemIdentifier": message_id})
        finally:
            _current_context.reset(token)
            from wsgate.observe.metrics import get_metrics

            get_metrics().flush()
        return {"batchItemFailures": failures}

    def process(self, body: str) -> None:
        """Run one task.

        Raises:
            TaskError: The message is not a task.
            ChunkFailed: Recipients still failed after ``max_attempts`` re-enqueues.
            QueueError, RegistryError: The queue or the registry failed.
        """
        task = decode_task(body)
        if isinstance(task, Plan):
            self.plan(task)
        else:
            self.deliver(task)

    def plan(self, plan: Plan) -> int:
        """Read the group, enqueue it as chunks; returns how many chunks."""
        skip = set(plan.exclude)
        pages = member_pages(self._config("registry"), plan.kind, plan.name)
        members = (m for page in pages for m in page if m.connection_id not in skip)
        chunks = chunk_recipients(plan.broadcast_id, members, plan.body, chunk_size=self.chunk_size)
        queued = self.queue.put(chunks)
        logger.info(
            "fan-out %s: %s %r planned as %d chunks",
            plan.broadcast_id,
            plan.kind,
            plan.name,
            queued,
        )
        _count("FanoutPlans", 1)
        return queued

    def deliver(self, chunk: Chunk) -> Any:
        """Post one chunk; re-enqueue its failed part; returns the sender's result."""
        members = [Member(cid, ep) for cid, ep in chunk.members()]
        result = self._config("sender").broadcast(members, chunk.body)
        _count("FanoutChunks", 1)
        logger.info(
            "fan-out %s chunk %d (attempt %d): %d sent, %d gone, %d failed",
            chunk.broadcast_id,
            chunk.seq,
            chunk.attempt,
            len(result.sent),
            len(result.gone),
            len(result.failed),
        )
        if result.failed:
            endpoints = dict(chunk.members())
            again: dict[str, list[str]] = {}
            for cid in result.failed:
                if cid in endpoints:
                    again.setdefault(endpoints[cid] or "", []).append(cid)
            if again and chunk.attempt >= self.max_attempts:
                raise ChunkFailed(chunk, sorted(c for ids in again.values() for c in ids))
            if again:
                retry = Chunk(chunk.broadcast_id, chunk.seq, again, chunk.body, chunk.attempt + 1)
                self.queue.put([retry])
        return result


class ChunkFailed(Exception):
    """A chunk's recipients still failed after every re-enqueue (the message then fails).

    Attributes:
        chunk: The chunk.
        failed: The ids that failed.
    """

    def __init__(self, chunk: Chunk, failed: list[str]) -> None:
        super().__init__(
            f"fan-out {chunk.broadcast_id} chunk {chunk.seq}: {len(failed)} recipients still"
            f" failing after {chunk.attempt} retries (e.g. {failed[:3]})"
        )
        self.chunk = chunk
        self.failed = failed


def _count(name: str, value: int) -> None:
    from wsgate.observe.metrics import get_metrics

    get_metrics().put(name, value)


_default: FanoutWorker | None = None
_lock = threading.Lock()


def worker(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
    """The SQS-triggered Lambda handler (``from wsgate.fanout import worker as handler``),
    configured from the environment (``WSGATE_FANOUT_QUEUE_URL``, ``WSGATE_FANOUT_CHUNK``,
    the registry's and sender's variables)."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                import os

                size = int(os.environ.get("WSGATE_FANOUT_CHUNK") or DEFAULT_CHUNK_SIZE)
                _default = FanoutWorker(chunk_size=size)
    return _default(event, context)
