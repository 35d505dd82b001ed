"""Fixtures for the hand-off tests: a FIFO queue and its dead-letter queue on moto_server,
the Management API stub, a registry of room members."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest

from sender.apistub import ApiStub
from wsgate.sender import Sender, StaticCredentials
from wsgate.testing.servers import LocalServer

CREDS = StaticCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
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


@pytest.fixture
def make_sender() -> Iterator[Any]:
    made: list[Sender] = []

    def make(endpoint: str | None = None, **kwargs: Any) -> Sender:
        kwargs.setdefault("credentials", CREDS)
        kwargs.setdefault("backoff_base", 0.001)
        kwargs.setdefault("backoff_cap", 0.01)
        kwargs.setdefault("timeout", 2.0)
        kwargs.setdefault("region", "us-east-1")
        sender = Sender(endpoint, **kwargs)
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.shutdown()
