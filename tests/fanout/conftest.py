"""Fixtures for the hand-off tests: a FIFO queue and its dead-letter queue on moto_server,
the Management API stub, a registry of room members."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sender.apistub import ApiStub
from support.senders import make_sender
from wsgate.testing.servers import LocalServer

__all__ = ["make_sender"]  # the senders' fixture (support.senders), used here too

_names = itertools.count()


@pytest.fixture
def sqs(moto_server: LocalServer) -> Iterator[Any]:
    import boto3

    client = boto3.client("sqs", **moto_server.boto_kwargs)
    yield client
    client.close()


@pytest.fixture
def queues(sqs: Any) -> dict[str, str]:
    """``{"queue": url, "dlq": url}``: a FIFO queue whose messages go to the DLQ after 3
    receives."""
    n = next(_names)
    dlq = sqs.create_queue(QueueName=f"fanout-dlq-{n}.fifo", Attributes={"FifoQueue": "true"})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=f"fanout-{n}.fifo",
        Attributes={
            "FifoQueue": "true",
            "VisibilityTimeout": "30",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
        },
    )["QueueUrl"]
    return {"queue": queue, "dlq": dlq}


@pytest.fixture
def stub() -> Iterator[ApiStub]:
    with ApiStub() as server:
        yield server
