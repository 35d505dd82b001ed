"""Putting hand-off tasks on the SQS queue: batches of up to 10 messages and 256 KiB.

The queue is FIFO (its URL ends in ``.fifo``) so that SQS drops a task enqueued twice within
five minutes (its deduplication id repeats), which makes a re-read plan harmless; a standard
queue also works, without that protection. Each task gets its own message group, so the
worker functions take chunks in parallel.

The SQS client is boto3's (imported on first use, only by the functions that enqueue), or any
object with boto3's ``send_message_batch``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from typing import Any, Final

from wsgate.exceptions import ConfigurationError, WsgateError
from wsgate.fanout.tasks import MAX_MESSAGE_BYTES, Chunk, Plan

__all__ = ["FanoutQueue", "QueueError"]

_BATCH: Final = 10
_ATTEMPTS: Final = 4


class QueueError(WsgateError):
    """Tasks could not be enqueued (after retrying the entries SQS refused).

    Attributes:
        failed: ``{deduplication id: "Code: message"}`` of the tasks that were not enqueued.
    """

    def __init__(self, failed: dict[str, str]) -> None:
        first = next(iter(failed.items()), ("", ""))
        super().__init__(f"{len(failed)} fan-out tasks not enqueued (e.g. {first[0]}: {first[1]})")
        self.failed = failed


class FanoutQueue:
    """Sends plans and chunks to the hand-off queue.

    Args:
        queue_url: The queue (``WSGATE_FANOUT_QUEUE_URL``).
        client: An SQS client (default: boto3's, built on first use; it honours
            ``AWS_ENDPOINT_URL_SQS`` / ``AWS_ENDPOINT_URL``).
    """

    def __init__(self, queue_url: str | None = None, *, client: Any = None) -> None:
        url = queue_url or os.environ.get("WSGATE_FANOUT_QUEUE_URL")
        if not url:
            raise ConfigurationError(
                "no fan-out queue: pass queue_url= or set WSGATE_FANOUT_QUEUE_URL"
            )
        self.queue_url = url
        self.fifo = url.endswith(".fifo")
        self._client = client
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FanoutQueue({self.queue_url!r})"

    @property
    def client(self) -> Any:
        """The SQS client (boto3's unless one was given)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        import boto3
                    except ImportError:  # pragma: no cover - depends on the environment
                        raise ConfigurationError("the fan-out queue needs boto3") from None
                    self._client = boto3.client("sqs")
        return self._client

    def put(self, tasks: Iterable[Plan | Chunk]) -> int:
        """Enqueue tasks in batches; returns how many were sent.

        Raises:
            QueueError: Some could not be enqueued after retries (the others were).
        """
        sent = 0
        batch: list[dict[str, Any]] = []
        size = 0
        for task in tasks:
            entry = self._entry(task, len(batch))
            cost = len(entry["MessageBody"].encode("utf-8"))
            if batch and (len(batch) == _BATCH or size + cost > MAX_MESSAGE_BYTES):
                sent += self._send(batch)
                batch, size = [], 0
                entry["Id"] = "t0"
            batch.append(entry)
            size += cost
        if batch:
            sent += self._send(batch)
        return sent

    def _entry(self, task: Plan | Chunk, index: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"Id": f"t{index}", "MessageBody": task.to_json()}
        if self.fifo:
            entry["MessageGroupId"] = task.dedup_id
            entry["MessageDeduplicationId"] = task.dedup_id
        return entry

    def _send(self, batch: list[dict[str, Any]]) -> int:
        pending = {entry["Id"]: entry for entry in batch}
        errors: dict[str, str] = {}
        for attempt in range(_ATTEMPTS):
            if attempt:
                time.sleep(min(1.0, 0.05 * 2**attempt))
            try:
                answer = self.client.send_message_batch(
                    QueueUrl=self.queue_url, Entries=list(pending.values())
                )
            except Exception as exc:  # botocore's errors, after its own retries
                errors = {e["Id"]: f"{type(exc).__name__}: {exc}" for e in pending.values()}
                continue
            for done in answer.get("Successful", []):
                pending.pop(done["Id"], None)
            errors = {}
            for failed in answer.get("Failed", []):
                errors[failed["Id"]] = f"{failed.get('Code')}: {failed.get('Message', '')}"
                if failed.get("SenderFault"):  # our request is wrong: retrying will not help
                    raise QueueError({_dedup(pending[failed["Id"]]): errors[failed["Id"]]})
            if not pending:
                return len(batch)
        raise QueueError({_dedup(pending[key]): errors.get(key, "?") for key in pending})


def _dedup(entry: dict[str, Any]) -> str:
    return str(entry.get("MessageDeduplicationId") or entry["Id"])
