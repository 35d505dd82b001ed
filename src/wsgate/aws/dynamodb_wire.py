"""DynamoDB's JSON wire format (protocol ``json`` 1.0) for boto3-shaped parameters and answers.

boto3's low-level client takes and returns attribute values as plain dicts
(``{"S": "x"}``, ``{"N": "1.5"}``, ``{"M": {...}}``), which is exactly the JSON DynamoDB
speaks, with one difference: binary values (``B``, ``BS``) are ``bytes`` in Python and base64
strings on the wire. :func:`encode_body` and :func:`decode_body` do that translation, so
:class:`~wsgate.aws.dynamodb.DynamoDBClient` takes and returns what boto3's client does for
the operations wsgate uses.

Sources: "DynamoDB low-level API" and "Data types" (Amazon DynamoDB Developer Guide,
docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.LowLevelAPI.html).
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode

TYPE_CHECKING = False  # typing is not imported on the request path
if TYPE_CHECKING:
    from typing import Any

__all__ = ["decode_attribute", "decode_body", "encode_attribute", "encode_body"]


def _bytes_to_base64(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not a DynamoDB wire value")


def encode_body(params: Any) -> bytes:
    """The JSON body for boto3-shaped ``params`` (``bytes`` sent as base64, as botocore does).

    Raises:
        TypeError: A value JSON cannot carry (neither a JSON type nor bytes).
    """
    return json.dumps(params, separators=(",", ":"), default=_bytes_to_base64).encode()


def encode_attribute(value: Any) -> Any:
    """One attribute value as it travels in JSON (binary as base64), for tests and tools."""
    return json.loads(encode_body(value))


def decode_attribute(value: Any) -> Any:
    """One attribute value from the wire, binary decoded to ``bytes`` (maps and lists too)."""
    if not isinstance(value, dict) or len(value) != 1:
        return value
    kind, raw = next(iter(value.items()))
    if kind == "B":
        return {"B": b64decode(raw)}
    if kind == "BS":
        return {"BS": [b64decode(item) for item in raw]}
    if kind == "M":
        return {"M": _decode_map(raw)}
    if kind == "L":
        return {"L": [decode_attribute(item) for item in raw]}
    return value


def _decode_map(item: Any) -> Any:
    if not isinstance(item, dict):
        return item
    return {name: decode_attribute(value) for name, value in item.items()}


def _decode_list(items: Any) -> Any:
    return [_decode_map(item) for item in items] if isinstance(items, list) else items


def _decode_write(request: Any) -> Any:
    if not isinstance(request, dict):
        return request
    out = dict(request)
    put = out.get("PutRequest")
    if isinstance(put, dict) and "Item" in put:
        out["PutRequest"] = {**put, "Item": _decode_map(put["Item"])}
    delete = out.get("DeleteRequest")
    if isinstance(delete, dict) and "Key" in delete:
        out["DeleteRequest"] = {**delete, "Key": _decode_map(delete["Key"])}
    return out


def decode_body(raw: bytes) -> dict[str, Any]:
    """An answer's JSON as boto3 returns it: binary attribute values as ``bytes``.

    Only the members that hold items carry binary values (``Item``, ``Items``,
    ``Attributes``, ``LastEvaluatedKey``, ``Responses``, ``UnprocessedKeys``,
    ``UnprocessedItems``); the walk is skipped when the body has no binary value at all.

    Raises:
        ValueError: The body is not a JSON object.
    """
    answer = json.loads(raw) if raw else {}
    if not isinstance(answer, dict):
        raise ValueError("DynamoDB answer is not a JSON object")
    if b'"B' not in raw:
        return answer  # the common case: no binary value anywhere
    for name in ("Item", "Attributes", "LastEvaluatedKey"):
        if name in answer:
            answer[name] = _decode_map(answer[name])
    if "Items" in answer:
        answer["Items"] = _decode_list(answer["Items"])
    responses = answer.get("Responses")
    if isinstance(responses, dict):
        answer["Responses"] = {table: _decode_list(items) for table, items in responses.items()}
    keys = answer.get("UnprocessedKeys")
    if isinstance(keys, dict):
        answer["UnprocessedKeys"] = {
            table: {**spec, "Keys": _decode_list(spec.get("Keys", []))}
            if isinstance(spec, dict)
            else spec
            for table, spec in keys.items()
        }
    writes = answer.get("UnprocessedItems")
    if isinstance(writes, dict):
        answer["UnprocessedItems"] = {
            table: [_decode_write(request) for request in requests]
            if isinstance(requests, list)
            else requests
            for table, requests in writes.items()
        }
    return answer
