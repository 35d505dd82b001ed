"""``wsgate template --fanout``: the queues, the worker and its mapping, least-privilege IAM
that covers exactly what the hand-off calls (recorded from a real run on moto_server)."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
import rich_app
from sam_check import lint, load, transform

from wsgate.deploy import TemplateOptions, build_template, render_template
from wsgate.deploy.fanout import (
    FANOUT_DYNAMODB_ACTIONS,
    FANOUT_HANDLER_SQS_ACTIONS,
    FANOUT_WORKER_SQS_ACTIONS,
    WORKER_TIMEOUT,
)
from wsgate.exceptions import ConfigurationError
from wsgate.testing.servers import LocalServer


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


@pytest.fixture(scope="module")
def fanout() -> dict[str, Any]:
    return load(render_template(rich_app.app, TemplateOptions(stage="live", fanout=True)))


def test_without_fanout_there_is_no_queue() -> None:
    plain = build_template(rich_app.app, TemplateOptions())
    assert not [r for r in plain["Resources"].values() if r["Type"] == "AWS::SQS::Queue"]
    assert "FanoutWorkerFunction" not in plain["Resources"]


def test_queue_dlq_worker_and_mapping(fanout: dict[str, Any]) -> None:
    res = fanout["Resources"]
    queue, dlq = res["FanoutQueue"]["Properties"], res["FanoutDeadLetterQueue"]["Properties"]
    assert queue["FifoQueue"] is True and dlq["FifoQueue"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["FanoutDeadLetterQueue", "Arn"]
    }
    assert queue["VisibilityTimeout"] >= 6 * WORKER_TIMEOUT
    worker = res["FanoutWorkerFunction"]["Properties"]
    assert worker["Handler"] == "wsgate.fanout.worker" and worker["Timeout"] == WORKER_TIMEOUT
    assert worker["Environment"]["Variables"]["WSGATE_FANOUT_QUEUE_URL"] == {"Ref": "FanoutQueue"}
    assert "Events" not in worker  # no SAM-managed policy with Resource "*"
    mapping = res["FanoutWorkerEventSource"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["FanoutQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    handler_env = res["WebSocketFunction"]["Properties"]["Environment"]["Variables"]
    assert handler_env["WSGATE_FANOUT_QUEUE_URL"] == {"Ref": "FanoutQueue"}


def test_template_lints_and_transforms(fanout: dict[str, Any]) -> None:
    lint(fanout)
    transformed = transform(fanout)
    roles = [r for r in transformed["Resources"].values() if r["Type"] == "AWS::IAM::Role"]
    for role in roles:
        assert not role["Properties"].get("ManagedPolicyArns", [])[1:], "no extra managed policy"


def _grants(fanout: dict[str, Any], function: str) -> dict[str, list[Any]]:
    policy = fanout["Resources"][function]["Properties"]["Policies"][0]
    grants: dict[str, list[Any]] = {}
    for statement in policy["Statement"]:
        for action in statement["Action"]:
            grants.setdefault(action, []).extend(statement["Resource"])
    return grants


def test_sqs_grants_name_only_the_fanout_queue(fanout: dict[str, Any]) -> None:
    queue_arn = {"Fn::GetAtt": ["FanoutQueue", "Arn"]}
    for function, actions in (
        ("WebSocketFunction", FANOUT_HANDLER_SQS_ACTIONS),
        ("FanoutWorkerFunction", FANOUT_WORKER_SQS_ACTIONS),
    ):
        grants = _grants(fanout, function)
        sqs = {action: where for action, where in grants.items() if action.startswith("sqs:")}
        assert set(sqs) == set(actions)
        assert all(where == [queue_arn] for where in sqs.values())
        assert all(
            "*" not in json.dumps(where) or "@connections/*" in json.dumps(where)
            for where in grants.values()
        )


def test_bad_fanout_options_are_refused() -> None:
    for options in (
        TemplateOptions(fanout=True, fanout_concurrency=1),
        TemplateOptions(fanout=True, fanout_handler="worker"),
    ):
        with pytest.raises(ConfigurationError):
            build_template(rich_app.app, options)


class _Log:
    def __init__(self, *clients: Any) -> None:
        self.actions: set[str] = set()
        for client in clients:
            prefix = client.meta.service_model.signing_name
            client.meta.events.register(
                f"before-call.{client.meta.service_model.service_name}.*",
                lambda model, _p=prefix, **_: self.actions.add(f"{_p}:{model.name}"),
            )

    def take(self) -> set[str]:
        taken, self.actions = self.actions, set()
        # SendMessageBatch is authorised by sqs:SendMessage, DeleteMessageBatch by DeleteMessage
        return {a.removesuffix("Batch") if a.startswith("sqs:") else a for a in taken}


def test_iam_actions_cover_what_the_handoff_calls(moto_server: LocalServer) -> None:
    from sender.apistub import ApiStub
    from wsgate.fanout import Fanout, FanoutQueue, FanoutWorker
    from wsgate.fanout.local import QueuePoller
    from wsgate.registry.dynamodb import DynamoDBRegistry
    from wsgate.sender import Sender, StaticCredentials

    dynamodb = boto3.client("dynamodb", **moto_server.boto_kwargs)
    sqs = boto3.client("sqs", **moto_server.boto_kwargs)
    url = sqs.create_queue(QueueName="iam-check.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    registry = DynamoDBRegistry("iam-check", client=dynamodb)
    registry.create_table()
    with ApiStub() as stub:
        ids = [f"c{n:03d}" for n in range(30)]
        for cid in ids:
            registry.store(cid, endpoint=stub.endpoint)
            registry.join(cid, "room")
        stub.connect(*ids[5:])  # five are gone: the worker prunes them
        sender = Sender(
            registry=registry,
            credentials=StaticCredentials("AK", "SK"),
            region="us-east-1",
            max_attempts=1,
        )
        queue = FanoutQueue(url, client=sqs)
        log = _Log(dynamodb, sqs)
        Fanout(queue, registry=registry, sender=sender, threshold=1).broadcast_to_room("room", "x")
        handler_calls = log.take()
        worker = FanoutWorker(queue, registry=registry, sender=sender, chunk_size=10)
        QueuePoller(sqs, url, worker, retry_visible_after=0).drain()
        worker_calls = log.take()
        sender.shutdown()
        assert all(len(stub.state.messages[cid]) == 1 for cid in ids[5:])
    assert registry.get(ids[0]) is None  # pruned by the worker
    registry.delete_table()
    handler_sqs = {a for a in handler_calls if a.startswith("sqs:")}
    assert handler_sqs and handler_sqs <= set(FANOUT_HANDLER_SQS_ACTIONS), handler_sqs
    assert {a for a in worker_calls if a.startswith("sqs:")} <= set(FANOUT_WORKER_SQS_ACTIONS)
    worker_dynamodb = {a for a in worker_calls if a.startswith("dynamodb:")}
    assert "dynamodb:Query" in worker_dynamodb
    assert worker_dynamodb <= set(FANOUT_DYNAMODB_ACTIONS), worker_dynamodb
