"""The stdlib DynamoDB client under injected faults: throttling, 5xx, damaged answers, a
dropped keep-alive connection, the Lambda deadline, TLS; errors as the registry maps them."""

from __future__ import annotations

import ipaddress
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from support.tls import self_signed
from wsgate.aws.credentials import StaticCredentials
from wsgate.aws.dynamodb import DynamoDBClient, DynamoDBError
from wsgate.context import _current_context
from wsgate.exceptions import ConnectionNotFound, RegistryUnavailable
from wsgate.registry.dynamodb import DynamoDBRegistry

from .dynamostub import Answer, DynamoStub, error

ITEM = {"connectionId": {"S": "c1"}, "sk": {"S": "connection"}}


def _client(stub: DynamoStub, **options: Any) -> DynamoDBClient:
    options.setdefault("backoff_base", 0.001)
    options.setdefault("backoff_cap", 0.005)
    return DynamoDBClient(
        region="eu-west-1",
        endpoint_url=stub.endpoint_url,
        credentials=StaticCredentials("AKID", "secret"),
        **options,
    )


def _flaky(*faults: Answer) -> Any:
    def script(operation: str, body: dict[str, Any], n: int) -> Answer:
        return faults[n - 1] if n <= len(faults) else (200, {"Item": ITEM})

    return script


@pytest.mark.parametrize(
    "fault",
    [
        (400, error("ProvisionedThroughputExceededException", "slow down")),
        (400, error("ThrottlingException", "Rate of requests exceeds the allowed throughput")),
        (500, error("InternalServerError")),
        (503, {}),
        ("crc", {"Item": ITEM}),
        ("drop", None),
    ],
)
def test_retryable_faults_are_retried_and_the_call_succeeds(fault: Answer) -> None:
    with DynamoStub(_flaky(fault, fault)) as stub:
        client = _client(stub)
        assert client.get_item(TableName="t", Key=ITEM) == {"Item": ITEM}
        assert stub.seen.operations == ["GetItem"] * 3
        client.close()


def test_throttling_past_the_budget_raises_with_the_code() -> None:
    throttled = (400, error("ProvisionedThroughputExceededException", "slow down"))
    with DynamoStub(_flaky(*[throttled] * 10)) as stub:
        client = _client(stub, max_attempts=3)
        with pytest.raises(DynamoDBError) as info:
            client.put_item(TableName="t", Item=ITEM)
        assert info.value.code == "ProvisionedThroughputExceededException"
        assert info.value.status == 400 and info.value.message == "slow down"
        assert info.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
        assert stub.seen.operations == ["PutItem"] * 3
        client.close()


@pytest.mark.parametrize(
    "code", ["ConditionalCheckFailedException", "ValidationException", "ResourceNotFoundException"]
)
def test_client_errors_are_not_retried(code: str) -> None:
    with DynamoStub(_flaky(*[(400, error(code, "no"))] * 5)) as stub:
        client = _client(stub)
        with pytest.raises(DynamoDBError) as info:
            client.update_item(TableName="t", Key=ITEM, UpdateExpression="SET a = :a")
        assert info.value.code == code
        assert stub.seen.operations == ["UpdateItem"]
        client.close()


class _Context:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_no_retry_past_the_lambda_deadline() -> None:
    # 0.52 s left, 0.5 s kept free: a backoff of up to 0.4 s cannot end before the deadline.
    with DynamoStub(_flaky(*[(500, error("InternalServerError"))] * 5)) as stub:
        client = _client(stub, backoff_base=0.4, backoff_cap=0.4)
        token = _current_context.set(_Context(520))  # type: ignore[arg-type]
        try:
            started = time.monotonic()
            with pytest.raises(DynamoDBError) as info:
                client.get_item(TableName="t", Key=ITEM)
            elapsed = time.monotonic() - started
        finally:
            _current_context.reset(token)
        assert info.value.status == 500
        assert len(stub.seen.operations) < 5
        assert elapsed < 5.0
        client.close()


def test_a_dropped_keep_alive_connection_is_replaced_without_an_attempt() -> None:
    with DynamoStub(close_after_answer=True) as stub:
        client = _client(stub, max_attempts=1)  # no retries: only the pool's fresh connection
        assert client.put_item(TableName="t", Item=ITEM) == {}
        time.sleep(0.2)  # the server has closed the idle connection by now
        assert client.put_item(TableName="t", Item=ITEM) == {}
        assert client.put_item(TableName="t", Item=ITEM) == {}
        assert stub.seen.operations == ["PutItem"] * 3
        assert stub.seen.connections == 3
        client.close()


def test_keep_alive_reuses_one_connection() -> None:
    with DynamoStub() as stub:
        client = _client(stub)
        for _ in range(5):
            client.get_item(TableName="t", Key=ITEM)
        assert stub.seen.connections == 1
        client.close()


def test_the_registry_maps_the_clients_errors() -> None:
    def script(operation: str, body: dict[str, Any], n: int) -> Answer:
        if operation == "UpdateItem":
            return 400, error("ConditionalCheckFailedException", "The conditional request failed")
        return 500, error("InternalServerError", "boom")

    with DynamoStub(script) as stub:
        client = _client(stub, max_attempts=2)
        registry = DynamoDBRegistry("t", client=client)
        with pytest.raises(ConnectionNotFound):
            registry.update("c1", user_id="u")
        with pytest.raises(RegistryUnavailable, match="InternalServerError"):
            registry.get("c1")
        assert stub.seen.operations.count("GetItem") == 2  # retried once, then mapped
        client.close()


def _tls(tmp: Path, san: x509.GeneralName) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = self_signed(tmp, san)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


def test_tls_is_verified(tmp_path: Path) -> None:
    server_ctx, client_ctx = _tls(tmp_path, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    with DynamoStub(_flaky(), ssl_context=server_ctx) as stub:
        trusting = _client(stub, ssl_context=client_ctx)
        assert trusting.get_item(TableName="t", Key=ITEM) == {"Item": ITEM}
        trusting.close()
        default = _client(stub, max_attempts=1)  # the system's trust store: refused
        with pytest.raises(DynamoDBError) as info:
            default.get_item(TableName="t", Key=ITEM)
        assert info.value.code == "RequestFailed"
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
        default.close()
    assert stub.seen.operations == ["GetItem"]


def test_endpoint_and_region_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL_DYNAMODB", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert DynamoDBClient().endpoint_url == "https://dynamodb.ap-south-1.amazonaws.com"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert DynamoDBClient().endpoint_url == "http://127.0.0.1:9"
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
    client = DynamoDBClient()
    assert (client.endpoint_url, client.region) == ("http://127.0.0.1:8000", "ap-south-1")
    assert DynamoDBClient(endpoint_url="https://x.example").endpoint_url == "https://x.example"
