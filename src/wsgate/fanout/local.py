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

__all__ = ["LocalFanout", "QueuePoller", "sqs_event"]

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


class _Queue:
    """A queue for :meth:`LocalServices.create_queues`."""

    def __init__(self, logical_id: str, name: str, attributes: dict[str, str]) -> None:
        self.logical_id = logical_id
        self.name = name
        self.attributes = attributes


class LocalFanout:
    """``wsgate serve APP --fanout N``: the deployed hand-off, locally.

    Starts (or uses) the local SQS-compatible server of :class:`~wsgate.local.services.
    LocalServices`, creates the FIFO hand-off queue and its dead-letter queue as the template
    declares them (redrive after :data:`~wsgate.deploy.fanout.MAX_RECEIVES` receives), points
    ``WSGATE_FANOUT_QUEUE_URL`` and ``AWS_ENDPOINT_URL_SQS`` at them, and runs ``workers``
    pollers that call the worker handler with real SQS events in this process (so its sends
    go through the emulator's own ``@connections``).

    Args:
        workers: Concurrent worker "functions" (pollers), 1-64.
        handler: The worker handler (default ``wsgate.fanout.worker``).
        endpoint: An SQS endpoint already running; ``None`` starts a moto server.
        region: The queues' region.
    """

    def __init__(
        self,
        workers: int = 1,
        *,
        handler: Handler | None = None,
        endpoint: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        from wsgate.exceptions import ConfigurationError

        if not 1 <= workers <= 64:
            raise ConfigurationError(f"--fanout {workers}: 1 to 64 workers")
        self.workers = workers
        self._handler = handler
        self._endpoint = endpoint
        self.region = region
        self.queue_url = ""
        self.dlq_url = ""
        self._services: Any = None
        self._pollers: list[QueuePoller] = []
        self._saved: dict[str, str | None] = {}

    def start(self) -> None:
        """Start the server, create the queues, set the environment, start the pollers.

        Raises:
            ConfigurationError: moto_server is missing or a queue is refused.
        """
        import json
        import os

        from wsgate.deploy.fanout import MAX_RECEIVES, WORKER_TIMEOUT
        from wsgate.local.services import LocalServices

        services = LocalServices(endpoint=self._endpoint, region=self.region)
        services.start()
        self._services = services
        dlq = services.create_queues(
            [_Queue("dlq", "wsgate-fanout-dlq.fifo", {"FifoQueue": "true"})]
        )["dlq"]
        sqs = services.client("sqs")
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
        redrive = {
            "deadLetterTargetArn": arn["Attributes"]["QueueArn"],
            "maxReceiveCount": str(MAX_RECEIVES),
        }
        attributes = {
            "FifoQueue": "true",
            "VisibilityTimeout": str(6 * WORKER_TIMEOUT),
            "RedrivePolicy": json.dumps(redrive),
        }
        queue = services.create_queues([_Queue("queue", "wsgate-fanout.fifo", attributes)])
        self.queue_url, self.dlq_url = queue["queue"], dlq
        values = {
            "WSGATE_FANOUT_QUEUE_URL": self.queue_url,
            "AWS_ENDPOINT_URL_SQS": services.endpoint,
        }
        if not os.environ.get("AWS_ACCESS_KEY_ID"):
            values.update(AWS_ACCESS_KEY_ID="wsgate-local", AWS_SECRET_ACCESS_KEY="wsgate-local")
        if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
            values["AWS_DEFAULT_REGION"] = self.region
        for name, value in values.items():
            self._saved[name] = os.environ.get(name)
            os.environ[name] = value
        handler = self._handler
        if handler is None:
            from wsgate.fanout.worker import worker

            handler = worker
        for _ in range(self.workers):
            poller = QueuePoller(
                services.client("sqs"),
                self.queue_url,
                handler,
                visibility_timeout=6 * WORKER_TIMEOUT,
            )
            poller.start()
            self._pollers.append(poller)
        logger.info("fan-out: %d local workers on %s", self.workers, self.queue_url)

    def stop(self) -> None:
        """Stop the pollers and the server; restore the environment."""
        import os

        for poller in self._pollers:
            poller.stop()
        self._pollers.clear()
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved.clear()
        services, self._services = self._services, None
        if services is not None:
            services.stop()
