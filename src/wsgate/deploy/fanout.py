"""The hand-off's resources: a FIFO queue and its dead-letter queue, the worker function, its
event source mapping, and the IAM each function needs for it (``wsgate template --fanout``).

Least privilege: the handler may only ``sqs:SendMessage`` to the hand-off queue; the worker
may receive, delete and send on that queue (the event source mapping polls with the
function's role), post to this stage's ``@connections``, and read groups / prune gone
connections in the table. Nothing else, and no managed policy with ``Resource: "*"``.

Sources: "Using Lambda with Amazon SQS" (visibility timeout at least six times the function
timeout; ``ReportBatchItemFailures``), "Amazon SQS dead-letter queues" and "Exactly-once
processing in Amazon SQS" (FIFO deduplication within five minutes), AWS documentation.
"""

from __future__ import annotations

from typing import Any, Final

from wsgate.deploy.options import TemplateOptions
from wsgate.deploy.resources import (
    function_resource,
    manage_connections_statement,
    ref,
    table_arns,
)
from wsgate.deploy.table import TableDefinition

__all__ = [
    "FANOUT_DYNAMODB_ACTIONS",
    "FANOUT_HANDLER_SQS_ACTIONS",
    "FANOUT_WORKER_SQS_ACTIONS",
    "add_fanout_resources",
]

#: What the worker calls on the table: the ids-only group pages, and pruning gone connections.
FANOUT_DYNAMODB_ACTIONS: Final = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
)
#: The handler only enqueues (SendMessageBatch is authorised by sqs:SendMessage).
FANOUT_HANDLER_SQS_ACTIONS: Final = ("sqs:SendMessage",)
#: The worker enqueues chunks and retries; the event source mapping polls with its role.
FANOUT_WORKER_SQS_ACTIONS: Final = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
)
WORKER_TIMEOUT: Final = 60
"""Seconds: a chunk of 500 takes well under one; the rest is room for throttling retries."""
MAX_RECEIVES: Final = 5


def add_fanout_resources(
    resources: dict[str, Any],
    options: TemplateOptions,
    table: TableDefinition,
    environment: dict[str, Any],
) -> None:
    """Add the queues, the worker and its mapping to ``resources``; give the handler
    ``WSGATE_FANOUT_QUEUE_URL`` and the right to enqueue."""
    queue_arn = {"Fn::GetAtt": ["FanoutQueue", "Arn"]}
    resources["FanoutDeadLetterQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"FifoQueue": True, "MessageRetentionPeriod": 1_209_600},
    }
    resources["FanoutQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "FifoQueue": True,
            "VisibilityTimeout": 6 * WORKER_TIMEOUT,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": ["FanoutDeadLetterQueue", "Arn"]},
                "maxReceiveCount": MAX_RECEIVES,
            },
        },
    }
    environment["WSGATE_FANOUT_QUEUE_URL"] = ref("FanoutQueue")
    handler = resources["WebSocketFunction"]["Properties"]
    handler["Policies"][0]["Statement"].append(
        {
            "Sid": "HandOffToFanoutQueue",
            "Effect": "Allow",
            "Action": list(FANOUT_HANDLER_SQS_ACTIONS),
            "Resource": [queue_arn],
        }
    )
    resources["FanoutWorkerFunction"] = function_resource(
        options,
        "wsgate fan-out worker: posts hand-off chunks from the queue",
        Handler=options.fanout_handler,
        Timeout=WORKER_TIMEOUT,
        Environment={"Variables": dict(environment)},
        Policies=[
            {
                "Version": "2012-10-17",
                "Statement": [
                    manage_connections_statement(options.stage),
                    {
                        "Sid": "ReadGroupsPruneGone",
                        "Effect": "Allow",
                        "Action": list(FANOUT_DYNAMODB_ACTIONS),
                        "Resource": table_arns(table),
                    },
                    {
                        "Sid": "FanoutQueue",
                        "Effect": "Allow",
                        "Action": list(FANOUT_WORKER_SQS_ACTIONS),
                        "Resource": [queue_arn],
                    },
                ],
            }
        ],
    )
    resources["FanoutWorkerEventSource"] = {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "EventSourceArn": queue_arn,
            "FunctionName": ref("FanoutWorkerFunction"),
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": options.fanout_concurrency},
        },
    }
