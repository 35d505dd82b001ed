"""Low-level helpers of the DynamoDB registry: attribute-value encoding, error mapping, batches.

Works with either client: wsgate's stdlib :class:`~wsgate.aws.dynamodb.DynamoDBClient` (the
default, no botocore import) or an injected boto3 client (its errors are recognised once
botocore is loaded).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence

from wsgate.aws.dynamodb import error_code, service_errors
from wsgate.exceptions import InvalidRecordError, RegistryError, RegistryUnavailable

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any, Final

    AttributeValue = dict[str, Any]
else:  # the same alias at run time, without typing's Any
    AttributeValue = dict[str, object]

__all__ = [
    "BATCH_GET",
    "BATCH_WRITE",
    "ConditionFailed",
    "batch_delete",
    "batch_get",
    "call",
    "decode_map",
    "decode_value",
    "encode_map",
    "encode_value",
]

BATCH_WRITE: Final = 25  # BatchWriteItem's limit
BATCH_GET: Final = 100  # BatchGetItem's limit

Key = dict[str, AttributeValue]


class ConditionFailed(Exception):
    """A conditional write's condition was false (internal; callers translate it)."""


def call(client: Any, operation: str, **kwargs: Any) -> dict[str, Any]:
    """Run one DynamoDB API call, mapping failures onto wsgate's errors.

    The client has already retried throttling and 5xx answers by the time an error gets here.

    Raises:
        ConditionFailed: ``ConditionalCheckFailedException``.
        InvalidRecordError: The item is over DynamoDB's size limit.
        RegistryUnavailable: Anything else (missing table, throttling, network).
    """
    try:
        answer: dict[str, Any] = getattr(client, operation)(**kwargs)
        return answer
    except service_errors() as exc:
        code = error_code(exc)
        if not code:  # no answer from the service (botocore's network errors)
            raise RegistryUnavailable(f"DynamoDB {operation} failed: {exc}") from exc
        error = getattr(exc, "response", {}).get("Error", {})
        message = str(error.get("Message", ""))
        if code == "ConditionalCheckFailedException":
            raise ConditionFailed(message) from None
        if code == "ValidationException" and "size" in message.lower():
            raise InvalidRecordError("item", message) from None
        raise RegistryUnavailable(f"DynamoDB {operation} failed: {code}: {message}") from exc


# --- attribute values -------------------------------------------------------------------------


def encode_value(value: Any) -> AttributeValue:
    """A JSON value (already checked by ``normalize_metadata``) as a DynamoDB attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "n" in text:  # exponent, inf, nan: Decimal's spelling (or its error)
            from decimal import Decimal

            text = str(Decimal(text))
        return {"N": text}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": encode_map(value)}
    if isinstance(value, list | tuple):
        return {"L": [encode_value(item) for item in value]}
    raise InvalidRecordError("metadata", f"cannot store {type(value).__name__} in DynamoDB")


def encode_map(value: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """A JSON object as a DynamoDB map's ``M`` contents."""
    return {key: encode_value(item) for key, item in value.items()}


def decode_value(attribute: Mapping[str, Any]) -> Any:
    """A DynamoDB attribute value as plain JSON (numbers: ``int`` when whole, else ``float``)."""
    kind, raw = next(iter(attribute.items()))
    if kind == "S":
        return raw
    if kind == "N":
        # An int only when written as one: "1E+125" (a float's repr) is no exact integer.
        if "." not in raw and "e" not in raw and "E" not in raw:
            return int(raw)
        from decimal import Decimal  # only for a fraction or an exponent

        number = Decimal(raw)
        return float(number)
    if kind == "BOOL":
        return bool(raw)
    if kind == "NULL":
        return None
    if kind == "M":
        return decode_map(raw)
    if kind == "L":
        return [decode_value(item) for item in raw]
    if kind in ("SS", "NS"):
        return sorted(raw)
    raise RegistryError(f"unexpected DynamoDB attribute type {kind!r}")


def decode_map(value: Mapping[str, Any]) -> dict[str, Any]:
    """A DynamoDB map's ``M`` contents as a JSON object."""
    return {key: decode_value(item) for key, item in value.items()}


# --- batches ----------------------------------------------------------------------------------


def _backoff(attempt: int) -> None:
    # Full jitter, as AWS recommends for unprocessed batch items.
    import random  # only on a retry

    time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _unique(keys: Sequence[Key]) -> list[Key]:
    seen: dict[tuple[tuple[str, str], ...], Key] = {}
    for key in keys:
        seen.setdefault(tuple(sorted((name, repr(value)) for name, value in key.items())), key)
    return list(seen.values())


def batch_delete(client: Any, table: str, keys: Sequence[Key], max_attempts: int) -> None:
    """Delete items 25 at a time, retrying unprocessed ones with backoff.

    Raises:
        RegistryUnavailable: Items were still unprocessed after ``max_attempts`` tries.
    """
    for chunk in _chunks(_unique(keys), BATCH_WRITE):
        pending: list[dict[str, Any]] = [{"DeleteRequest": {"Key": key}} for key in chunk]
        for attempt in range(max_attempts):
            answer = call(client, "batch_write_item", RequestItems={table: pending})
            pending = answer.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            _backoff(attempt)
        else:
            raise RegistryUnavailable(
                f"DynamoDB kept {len(pending)} deletes unprocessed after {max_attempts} tries"
            )


def batch_get(client: Any, table: str, keys: Sequence[Key], max_attempts: int) -> list[Key]:
    """Read items 100 at a time (strongly consistent), retrying unprocessed keys with backoff.

    Raises:
        RegistryUnavailable: Keys were still unprocessed after ``max_attempts`` tries.
    """
    found: list[dict[str, Any]] = []
    for chunk in _chunks(_unique(keys), BATCH_GET):
        pending: dict[str, Any] = {"Keys": list(chunk), "ConsistentRead": True}
        for attempt in range(max_attempts):
            answer = call(client, "batch_get_item", RequestItems={table: pending})
            found.extend(answer.get("Responses", {}).get(table, []))
            pending = answer.get("UnprocessedKeys", {}).get(table, {})
            if not pending or not pending.get("Keys"):
                break
            _backoff(attempt)
        else:
            raise RegistryUnavailable(
                f"DynamoDB kept {len(pending['Keys'])} reads unprocessed after {max_attempts} tries"
            )
    return found
