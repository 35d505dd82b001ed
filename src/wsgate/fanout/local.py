"""An SQS event source mapping, locally: poll a queue and call a handler with real SQS events.

Lambda's event source mapping long-polls the queue, calls the function with up to
``batch_size`` records (``messageId``, ``receiptHandle``, ``body``, ``attributes``...), deletes
the records the function did not list in ``batchItemFailures`` (``ReportBatchItemFailures``),
and leaves the others to reappear after the visibility timeout; SQS moves a message to the
dead-letter queue once it has been received ``maxReceiveCount`` times. :class:`QueuePoller`
does the same against any SQS-compatible server (moto_server here), so ``wsgate serve`` and
the tests run the worker exactly as it is deployed.

Source: "Using Lambda with Amazon SQS" and "Handling errors for an SQS event source in
Lambda" (AWS Lambda Developer Guide).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["QueuePoller", "sqs_event"]

logger = logging.getLogger("wsgate.fanout")

Handler = Callable[[Mapping[str, Any], Any], Any]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The Lambda event for messages from ReceiveMessage (the shape Lambda sends)."""
    records = []
    for message in messages:
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": dict(message.get("Attributes", {})),
                "messageAttributes": dict(message.get("MessageAttributes", {})),
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


class QueuePoller:
    """Polls one queue and runs a handler on each batch, as an event source mapping does.

    Args:
        client: A boto3 SQS client for the local server.
        queue_url: The queue.
        handler: ``handler(event, context)``; a partial batch response is honoured.
        batch_size: Records per call (1..10).
        visibility_timeout: Seconds a received message stays hidden while the handler runs.
        retry_visible_after: Seconds before a failed record reappears (``None``: at the end
            of the visibility timeout, as on AWS).
        context: Passed to the handler as the Lambda context.
    """

    def __init__(
        self,
        client: Any,
        queue_url: str,
        handler: Handler,
        *,
        batch_size: int = 10,
        visibility_timeout: int = 30,
        retry_visible_after: int | None = None,
        context: Any = None,
    ) -> None:
        self.client = client
        self.queue_url = queue_url
        self.handler = handler
        self.batch_size = max(1, min(10, batch_size))
        self.visibility_timeout = visibility_timeout
        self.retry_visible_after = retry_visible_after
        self.context = context
        attributes = client.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        self.queue_arn = attributes["Attributes"]["QueueArn"]
        self.region = self.queue_arn.split(":")[3] if self.queue_arn.count(":") >= 5 else ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches = 0

    def poll_once(self, wait: int = 0) -> int:
        """Receive one batch and run the handler on it; returns how many records it had.

        A handler that raises fails the whole batch (as on Lambda): nothing is deleted.
        """
        answer = self.client.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            VisibilityTimeout=self.visibility_timeout,
            WaitTimeSeconds=wait,
            AttributeNames=["All"],
        )
        messages = answer.get("Messages", [])
        if not messages:
            return 0
        self.batches += 1
        event = sqs_event(messages, self.queue_arn, self.region)
        try:
            response = self.handler(event, self.context)
        except Exception:
            logger.exception("queue handler failed on %d records", len(messages))
            self._release(messages)
            return len(messages)
        failed = set()
        if isinstance(response, Mapping):
            failed = {
                str(item.get("itemIdentifier")) for item in response.get("batchItemFailures") or []
            }
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.client.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        self._release([m for m in messages if m["MessageId"] in failed])
        return len(messages)

    def _release(self, messages: list[dict[str, Any]]) -> None:
        if self.retry_visible_after is None:
            return
        for message in messages:
            self.client.change_message_visibility(
                QueueUrl=self.queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=self.retry_visible_after,
            )

    def drain(self, *, idle_polls: int = 2, timeout: float = 60.0) -> int:
        """Poll until the queue has stayed empty for ``idle_polls`` polls; returns records."""
        total = idle = 0
        stop_at = time.monotonic() + timeout
        while idle < idle_polls and time.monotonic() < stop_at:
            got = self.poll_once()
            total += got
            idle = 0 if got else idle + 1
        return total

    def start(self, wait: int = 1) -> None:
        """Poll in a background thread until :meth:`stop`."""

        def run() -> None:
            while not self._stop.is_set():
                try:
                    self.poll_once(wait)
                except Exception:
                    logger.exception("polling %s failed", self.queue_url)
                    self._stop.wait(1.0)

        self._thread = threading.Thread(target=run, name="wsgate-sqs-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background polling (waits for the batch in hand)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
