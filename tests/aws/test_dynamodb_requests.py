"""Every DynamoDB request the registry and the delivery store make, against botocore's: the
same JSON body and target for the same parameters, and the same canonical request and
signature for the same inputs and clock."""

from __future__ import annotations

import datetime
import json
from typing import Any

import botocore.auth
import botocore.session
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.serialize import create_serializer

from wsgate.aws.credentials import StaticCredentials
from wsgate.aws.dynamodb import DynamoDBClient
from wsgate.aws.dynamodb_wire import encode_body
from wsgate.aws.sigv4 import canonical_headers, canonical_request, payload_hash

KEY = {"connectionId": {"S": "abc="}, "sk": {"S": "connection"}}
ITEM = {
    **KEY,
    "userId": {"S": "u-ä"},
    "rooms": {"SS": ["lobby", "dev"]},
    "metadata": {"M": {"n": {"N": "1.5"}, "ok": {"BOOL": True}, "none": {"NULL": True}}},
    "blob": {"B": b"\x00\xffbinary"},
    "expiresAt": {"N": "1800000000"},
}

#: One call per operation the registry and the delivery store use, shaped as they call it.
CALLS: list[tuple[str, dict[str, Any]]] = [
    (
        "PutItem",
        {"TableName": "T", "Item": ITEM, "ConditionExpression": "attribute_not_exists(pk)"},
    ),
    ("GetItem", {"TableName": "T", "Key": KEY, "ConsistentRead": True}),
    (
        "UpdateItem",
        {
            "TableName": "T",
            "Key": KEY,
            "UpdateExpression": "SET #u = :u ADD #r :r",
            "ConditionExpression": "attribute_exists(#c) AND #e > :now",
            "ExpressionAttributeNames": {
                "#u": "userId",
                "#r": "rooms",
                "#c": "connectionId",
                "#e": "expiresAt",
            },
            "ExpressionAttributeValues": {
                ":u": {"S": "b"},
                ":r": {"SS": ["x"]},
                ":now": {"N": "1"},
            },
            "ReturnValues": "ALL_NEW",
        },
    ),
    ("DeleteItem", {"TableName": "T", "Key": KEY, "ReturnValues": "ALL_OLD"}),
    (
        "Query",
        {
            "TableName": "T",
            "IndexName": "byUser",
            "KeyConditionExpression": "#u = :u",
            "ExpressionAttributeNames": {"#u": "userId"},
            "ExpressionAttributeValues": {":u": {"S": "u"}},
            "ExclusiveStartKey": KEY,
            "Limit": 100,
        },
    ),
    ("Scan", {"TableName": "T", "Segment": 1, "TotalSegments": 3, "Limit": 300}),
    ("BatchGetItem", {"RequestItems": {"T": {"Keys": [KEY, KEY], "ConsistentRead": True}}}),
    (
        "BatchWriteItem",
        {"RequestItems": {"T": [{"DeleteRequest": {"Key": KEY}}, {"PutRequest": {"Item": ITEM}}]}},
    ),
    (
        "CreateTable",
        {
            "TableName": "T",
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        },
    ),
    ("DescribeTable", {"TableName": "T"}),
    ("DeleteTable", {"TableName": "T"}),
    (
        "UpdateTimeToLive",
        {
            "TableName": "T",
            "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "expiresAt"},
        },
    ),
]

ENDPOINTS = ["https://dynamodb.eu-west-1.amazonaws.com", "http://127.0.0.1:8000"]
DATE = "20261204T101112Z"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def _parse(raw: bytes) -> tuple[str, str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return method, path, headers, body


def test_every_operation_the_code_uses_is_covered() -> None:
    import inspect

    from wsgate.delivery import store_dynamodb
    from wsgate.registry import (
        dynamodb,
        dynamodb_access,
        dynamodb_groups,
        dynamodb_items,
        dynamodb_scan,
        dynamodb_table,
    )

    modules = (
        store_dynamodb,
        dynamodb,
        dynamodb_access,
        dynamodb_groups,
        dynamodb_items,
        dynamodb_scan,
        dynamodb_table,
    )
    used = set()
    for module in modules:
        source = inspect.getsource(module)
        for method in dir(DynamoDBClient):
            if not method.startswith("_") and (
                f'"{method}"' in source or f".{method}(" in source or f".{method}," in source
            ):
                used.add(method)
    used -= {"close", "get_waiter", "build_request"}
    used.add("describe_table")  # what the table_exists waiter polls
    assert len(used) >= 11, used
    model = botocore.session.get_session().get_service_model("dynamodb")
    names = {model.operation_model(op).name for op, _ in CALLS}
    as_methods = {botocore.xform_name(name) for name in names}
    assert used <= as_methods, used - as_methods


@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjEHh//session+token="])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("operation", "params"), CALLS, ids=[op for op, _ in CALLS])
def test_request_matches_botocore(
    operation: str,
    params: dict[str, Any],
    endpoint: str,
    token: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The same clock for both: botocore reads it through get_current_datetime().
    frozen = datetime.datetime(2026, 12, 4, 10, 11, 12)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: frozen)
    client = DynamoDBClient(
        region="eu-west-1",
        endpoint_url=endpoint,
        credentials=StaticCredentials("AKIDEXAMPLE", SECRET, token),
    )
    body = encode_body(params)
    raw, signed = client.build_request(operation, body, DATE)
    method, path, headers, wire_body = _parse(raw)
    assert (method, path, wire_body) == ("POST", "/", body)
    assert headers["Content-Length"] == str(len(body))

    # The body and target botocore's JSON serializer produces for the same parameters.
    model = botocore.session.get_session().get_service_model("dynamodb")
    serialized = create_serializer("json").serialize_to_request(
        params, model.operation_model(operation)
    )
    assert json.loads(wire_body) == json.loads(serialized["body"])
    assert headers["X-Amz-Target"] == serialized["headers"]["X-Amz-Target"]
    assert headers["Content-Type"] == serialized["headers"]["Content-Type"]

    # botocore's SigV4 over the same request, at the same clock.
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        headers={
            "Content-Type": headers["Content-Type"],
            "X-Amz-Target": headers["X-Amz-Target"],
            "X-Amz-Date": DATE,
        },
        data=body,
    )
    auth = SigV4Auth(BotoCredentials("AKIDEXAMPLE", SECRET, token), "dynamodb", "eu-west-1")
    auth.add_auth(request)
    expected = request.headers["Authorization"]
    del request.headers["Authorization"]
    block, names = canonical_headers(signed)
    ours = canonical_request("POST", "/", "", block, names, payload_hash(body))
    assert ours == auth.canonical_request(request)
    assert headers["Authorization"] == expected
    assert headers.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")
    assert headers["Host"] == endpoint.split("://", 1)[1]
    client.close()
