"""DynamoDB tables and SQS queues of a template, as the arguments that create them locally.

``AWS::DynamoDB::Table`` properties map one to one onto ``CreateTable`` (AWS CloudFormation
User Guide, "AWS::DynamoDB::Table"); ``AWS::Serverless::SimpleTable`` is a one-key table
(AWS SAM Developer Guide, "AWS::Serverless::SimpleTable"); ``AWS::SQS::Queue`` properties are
``CreateQueue`` attributes (AWS CloudFormation User Guide, "AWS::SQS::Queue").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from wsgate.local.apptemplate.intrinsics import text
from wsgate.local.apptemplate.model import QueueSpec, TableSpec

__all__ = ["queue_spec", "simple_table_spec", "table_spec"]

_INDEX_KEYS = ("IndexName", "KeySchema", "Projection")
_SIMPLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def _throughput(props: Mapping[str, Any]) -> dict[str, int] | None:
    given = props.get("ProvisionedThroughput")
    if not isinstance(given, dict):
        return None
    return {
        "ReadCapacityUnits": int(given.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(given.get("WriteCapacityUnits", 5)),
    }


def _index(given: Any, provisioned: bool) -> dict[str, Any]:
    index = {key: given[key] for key in _INDEX_KEYS if key in given}
    index.setdefault("Projection", {"ProjectionType": "ALL"})
    throughput = _throughput(given)
    if provisioned:
        index["ProvisionedThroughput"] = throughput or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    return index


def table_spec(logical_id: str, name: str, props: Mapping[str, Any]) -> TableSpec:
    """``AWS::DynamoDB::Table`` properties (intrinsics resolved) as ``create_table`` kwargs."""
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": list(props.get("AttributeDefinitions") or []),
        "KeySchema": list(props.get("KeySchema") or []),
    }
    throughput = _throughput(props)
    mode = str(props.get("BillingMode") or ("PROVISIONED" if throughput else "PAY_PER_REQUEST"))
    kwargs["BillingMode"] = mode
    provisioned = mode == "PROVISIONED"
    if provisioned:
        kwargs["ProvisionedThroughput"] = throughput or {
            "ReadCapacityUnits": 5,
            "WriteCapacityUnits": 5,
        }
    for key, local in (("GlobalSecondaryIndexes", provisioned), ("LocalSecondaryIndexes", False)):
        indexes = props.get(key)
        if isinstance(indexes, list) and indexes:
            kwargs[key] = [_index(i, local) for i in indexes if isinstance(i, dict)]
    stream = props.get("StreamSpecification")
    if isinstance(stream, dict) and stream.get("StreamViewType"):
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": str(stream["StreamViewType"]),
        }
    if props.get("TableClass"):
        kwargs["TableClass"] = str(props["TableClass"])
    tags = props.get("Tags")
    if isinstance(tags, list) and tags:
        kwargs["Tags"] = [
            {"Key": text(t.get("Key")), "Value": text(t.get("Value"))}
            for t in tags
            if isinstance(t, dict)
        ]
    ttl = props.get("TimeToLiveSpecification")
    ttl_attribute = None
    if isinstance(ttl, dict) and ttl.get("Enabled") in (True, "true", "True"):
        ttl_attribute = str(ttl.get("AttributeName") or "") or None
    return TableSpec(logical_id, name, kwargs, ttl_attribute)


def simple_table_spec(logical_id: str, name: str, props: Mapping[str, Any]) -> TableSpec:
    """``AWS::Serverless::SimpleTable`` properties as ``create_table`` kwargs."""
    key = props.get("PrimaryKey") if isinstance(props.get("PrimaryKey"), dict) else {}
    assert isinstance(key, dict)
    attribute = str(key.get("Name", "id"))
    kind = _SIMPLE_TYPES.get(str(key.get("Type", "String")), "S")
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": attribute, "AttributeType": kind}],
        "KeySchema": [{"AttributeName": attribute, "KeyType": "HASH"}],
    }
    throughput = _throughput(props)
    if throughput:
        kwargs["BillingMode"] = "PROVISIONED"
        kwargs["ProvisionedThroughput"] = throughput
    else:
        kwargs["BillingMode"] = "PAY_PER_REQUEST"
    tags = props.get("Tags")
    if isinstance(tags, dict) and tags:
        kwargs["Tags"] = [{"Key": str(k), "Value": text(v)} for k, v in tags.items()]
    return TableSpec(logical_id, name, kwargs)


def queue_spec(logical_id: str, name: str, props: Mapping[str, Any]) -> QueueSpec:
    """``AWS::SQS::Queue`` properties as ``create_queue`` attributes (strings)."""
    attributes = {key: text(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        value = props.get(key)
        if isinstance(value, dict):
            attributes[key] = json.dumps(value, separators=(",", ":"))
        elif isinstance(value, str):
            attributes[key] = value
    return QueueSpec(logical_id, name, attributes)
