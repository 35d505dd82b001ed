"""moto served one request at a time: what DynamoDB's single-item atomicity needs locally."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from wsgate.testing.moto_atomic import SerialApp
from wsgate.testing.servers import LocalServer


class _Overlap:
    """A WSGI app that notes how many requests it is running at once, and answers slowly."""

    def __init__(self) -> None:
        self.active = 0
        self.most = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        with self._lock:
            self.active += 1
            self.most = max(self.most, self.active)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return self._body()

    def _body(self) -> Iterator[bytes]:
        # The body is produced lazily: the request is in progress until it is read.
        try:
            time.sleep(0.01)
            yield b"a"
            time.sleep(0.01)
            yield b"b"
        finally:
            with self._lock:
                self.active -= 1


def _call(app: Any) -> tuple[str, bytes]:
    seen: list[str] = []
    body = app({"REQUEST_METHOD": "GET"}, lambda status, headers, exc=None: seen.append(status))
    return seen[0], b"".join(body)


def test_requests_never_overlap_even_with_lazy_bodies() -> None:
    inner = _Overlap()
    app = SerialApp(inner)
    answers: list[tuple[str, bytes]] = []
    threads = [threading.Thread(target=lambda: answers.append(_call(app))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert answers == [("200 OK", b"ab")] * 8
    assert inner.most == 1


def test_the_unwrapped_app_does_overlap() -> None:
    # The check above can fail: the same threads on the bare app run side by side.
    inner = _Overlap()
    threads = [threading.Thread(target=lambda: _call(inner)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert inner.most > 1


def test_an_app_that_never_starts_a_response_is_an_error() -> None:
    app = SerialApp(lambda environ, start_response: [b"x"])
    with pytest.raises(RuntimeError, match="start_response"):
        _call(app)


@pytest.mark.dynamodb
def test_the_moto_server_fixture_is_served_one_request_at_a_time(moto_server: LocalServer) -> None:
    # The race the lock prevents is too narrow to provoke on demand from another process (the
    # tests above pin the mechanism); this pins that every moto server wsgate starts uses it,
    # and that moto's DynamoDB answers through it unchanged.
    import boto3

    assert moto_server.process.args[1:3] == ["-m", "wsgate.testing.moto_atomic"]
    client = boto3.client("dynamodb", **moto_server.boto_kwargs)
    table = "wsgate-atomic-check"
    client.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    first_write = {
        "TableName": table,
        "Key": {"k": {"S": "x"}},
        "UpdateExpression": "SET a = :a",
        "ConditionExpression": "attribute_not_exists(k)",
        "ExpressionAttributeValues": {":a": {"N": "1"}},
    }
    try:
        client.update_item(**first_write)
        with pytest.raises(client.exceptions.ConditionalCheckFailedException):
            client.update_item(**{**first_write, "ExpressionAttributeValues": {":a": {"N": "2"}}})
        item = client.get_item(TableName=table, Key={"k": {"S": "x"}})["Item"]
        assert item == {"k": {"S": "x"}, "a": {"N": "1"}}
    finally:
        client.delete_table(TableName=table)
