"""A stdlib DynamoDB client: boto3's low-level interface for the operations wsgate uses.

On a cold Lambda, importing boto3 costs hundreds of milliseconds, paid by every cold
``$connect`` that stores its connection. This client speaks DynamoDB's JSON protocol 1.0
(``POST /`` with ``X-Amz-Target: DynamoDB_20120810.<Operation>`` and
``Content-Type: application/x-amz-json-1.0``) over the same pieces as the sender: the
selectors HTTP/1.1 client and its keep-alive :class:`~wsgate.aws.http.ConnectionPool`, the
cached-key SigV4 signer, the credentials of :mod:`wsgate.aws.credentials` and the retry
policy of :mod:`wsgate.aws.retry`. Its methods take boto3's keyword arguments and return
boto3's answer dicts (binary values as ``bytes``), so the registry and the delivery store run
unchanged on either client; ``client="boto3"`` (or ``WSGATE_DYNAMODB_CLIENT=boto3``) keeps
boto3.

- Retries: throttling codes, 5xx, a bad CRC32 and network failures, with full-jitter backoff,
  within the running Lambda invocation's remaining time (as botocore's standard mode, whose
  throttling and transient codes it uses).
- Errors: :class:`DynamoDBError` with the service's ``code`` and ``message``, and a
  ``response`` shaped like botocore's ``ClientError.response``.
- Region: ``region=`` → ``AWS_REGION`` → ``AWS_DEFAULT_REGION`` → botocore's configuration
  (imported only then). Endpoint: ``endpoint_url=`` → ``AWS_ENDPOINT_URL_DYNAMODB`` →
  ``AWS_ENDPOINT_URL`` → ``https://dynamodb.{region}.amazonaws.com``. TLS is verified.

The protocol, error, signing and retry facts this relies on, with their sources:
docs/aws-behaviour.md §9.
"""

from __future__ import annotations

import json
import os
import time
import zlib

from wsgate.aws.credentials import DefaultCredentials
from wsgate.aws.dynamodb_wire import decode_body, encode_body
from wsgate.aws.http import Batch, ConnectionPool
from wsgate.aws.retry import RetryPolicy, context_deadline
from wsgate.aws.sigv4 import SigV4Signer, amz_date, payload_hash
from wsgate.exceptions import ConfigurationError, WsgateError

TYPE_CHECKING = False  # typing is not imported on the request path
if TYPE_CHECKING:
    import ssl
    from typing import Any

    from wsgate.aws.protocols import CredentialsProvider

__all__ = ["DynamoDBClient", "DynamoDBError", "error_code", "make_client", "service_errors"]

TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"
_USER_AGENT = "wsgate/0.1"
#: botocore's standard-mode throttling codes, and DynamoDB's own.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
#: botocore's standard-mode transient codes and statuses.
TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})
_MAX_BODY = 20 * 1024 * 1024  # BatchGetItem answers up to 16 MB


class DynamoDBError(WsgateError):
    """A DynamoDB call failed (after the retries, for retryable failures).

    Attributes:
        operation: The API operation, e.g. ``"PutItem"``.
        code: The service's error code (``ConditionalCheckFailedException``,
            ``ResourceNotFoundException``...), or ``"RequestFailed"`` when no answer came.
        message: The service's message, or the network failure.
        status: The HTTP status, ``None`` when no answer came.
        response: ``{"Error": {"Code", "Message"}, "ResponseMetadata": {"HTTPStatusCode"}}``,
            the shape of botocore's ``ClientError.response``.
    """

    def __init__(self, operation: str, code: str, message: str, status: int | None) -> None:
        super().__init__(f"DynamoDB {operation} failed: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message
        self.status = status
        self.response: dict[str, Any] = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    @property
    def retryable(self) -> bool:
        """Throttling, a transient code or status, or no answer at all."""
        return (
            self.code in THROTTLING_CODES
            or self.code in TRANSIENT_CODES
            or self.code in ("RequestFailed", "CRC32Mismatch")
            or self.status in TRANSIENT_STATUSES
        )


def service_errors() -> tuple[type[Exception], ...]:
    """The exception classes a DynamoDB client may raise: :class:`DynamoDBError`, and
    botocore's ``ClientError``/``BotoCoreError`` once botocore is loaded (a boto3 client
    cannot have raised them before that, so nothing is imported here)."""
    import sys

    loaded = sys.modules.get("botocore.exceptions")
    if loaded is None:
        return (DynamoDBError,)
    return (DynamoDBError, loaded.ClientError, loaded.BotoCoreError)


def error_code(exc: BaseException) -> str:
    """The service's error code of a failed call on either client ("" when there is none)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _split_url(url: str) -> tuple[str, str, int, str]:
    """``(scheme, host, port, Host header)`` of an endpoint URL."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("http", "https"):
        raise ConfigurationError(f"DynamoDB endpoint must be http(s)://host[:port]: {url!r}")
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    default = 443 if scheme == "https" else 80
    if authority.startswith("["):  # an IPv6 literal
        end = authority.find("]")
        host = authority[1:end] if end > 0 else ""
        port_text = authority[end + 2 :] if authority[end + 1 : end + 2] == ":" else ""
    else:
        host, _, port_text = authority.partition(":")
    if not host:
        raise ConfigurationError(f"no host in DynamoDB endpoint {url!r}")
    try:
        port = int(port_text) if port_text else default
    except ValueError:
        raise ConfigurationError(f"bad port in DynamoDB endpoint {url!r}") from None
    bare = f"[{host}]" if ":" in host else host
    return scheme, host, port, bare if port == default else f"{bare}:{port}"


def _default_region() -> str:
    env = os.environ
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        return region
    try:
        import botocore.session  # only off Lambda: a profile's region
    except ImportError:  # pragma: no cover - depends on the environment
        region = None
    else:
        region = botocore.session.get_session().get_config_variable("region")
    if not region:
        raise ConfigurationError("no AWS region: set AWS_REGION or pass region=")
    return str(region)


class DynamoDBClient:
    """boto3's low-level DynamoDB client for wsgate's operations, on the stdlib transport.

    Args:
        region: Signing region (default: Lambda's ``AWS_REGION``, then botocore's config).
        endpoint_url: ``http(s)://host[:port]``; default from the environment (see module).
        credentials: Default: Lambda's environment, then botocore's chain.
        max_attempts: Attempts per call for retryable failures (the first included).
        backoff_base: First retry waits up to this many seconds (full jitter, doubling).
        backoff_cap: No retry waits longer than this.
        timeout: Seconds from request to complete answer, per attempt.
        connect_timeout: Seconds for TCP connect plus TLS handshake.
        deadline_margin: Seconds kept free before the Lambda deadline.
        ssl_context: TLS settings (default: certificate and host name verified).
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        credentials: CredentialsProvider | None = None,
        max_attempts: int = 5,
        backoff_base: float = 0.05,
        backoff_cap: float = 2.0,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        deadline_margin: float = 0.5,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.region = region or _default_region()
        env = os.environ
        url = (
            endpoint_url
            or env.get("AWS_ENDPOINT_URL_DYNAMODB")
            or env.get("AWS_ENDPOINT_URL")
            or f"https://dynamodb.{self.region}.amazonaws.com"
            + (".cn" if self.region.startswith("cn-") else "")
        )
        self.endpoint_url = url
        scheme, host, port, self._host_header = _split_url(url)
        self._key = (scheme, host, port)
        self._credentials = credentials if credentials is not None else DefaultCredentials()
        self._signer = SigV4Signer(self.region, "dynamodb")
        self.policy = RetryPolicy(max_attempts, backoff_base, backoff_cap)
        self.deadline_margin = deadline_margin
        self.pool = ConnectionPool(
            ssl_context=ssl_context,
            connect_timeout=connect_timeout,
            read_timeout=timeout,
            max_body=_MAX_BODY,
        )

    def __repr__(self) -> str:
        return f"DynamoDBClient(region={self.region!r}, endpoint_url={self.endpoint_url!r})"

    # --- one request ---------------------------------------------------------------------

    def build_request(
        self, operation: str, body: bytes, date: str
    ) -> tuple[bytes, list[tuple[str, str]]]:
        """The complete request bytes and the signed headers (exposed for the botocore test)."""
        creds = self._credentials.get()
        headers = [
            ("Content-Type", CONTENT_TYPE),
            ("Host", self._host_header),
            ("X-Amz-Date", date),
            ("X-Amz-Target", TARGET_PREFIX + operation),
        ]
        if creds.token:
            headers.append(("X-Amz-Security-Token", creds.token))
        authorization = self._signer.sign(creds, "POST", "/", "", headers, date, payload_hash(body))
        head = "".join(f"{name}: {value}\r\n" for name, value in headers)
        request = (
            f"POST / HTTP/1.1\r\n{head}Authorization: {authorization}\r\n"
            f"User-Agent: {_USER_AGENT}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        return request + body, headers

    def _attempt(self, operation: str, request: bytes, stop: float | None) -> dict[str, Any]:
        with Batch(self.pool) as batch:
            batch.start(self._key, request, None)
            while True:
                timeout = None
                if stop is not None:
                    timeout = stop - time.monotonic()
                    if timeout <= 0:
                        raise DynamoDBError(operation, "RequestFailed", "deadline reached", None)
                for _, outcome in batch.poll(timeout):
                    if isinstance(outcome, Exception):
                        reason = "timed out" if isinstance(outcome, TimeoutError) else outcome
                        raise DynamoDBError(
                            operation, "RequestFailed", f"{type(outcome).__name__}: {reason}", None
                        ) from outcome
                    return self._answer(operation, outcome)

    @staticmethod
    def _answer(operation: str, response: Any) -> dict[str, Any]:
        body: bytes = response.body
        expected = response.headers.get("x-amz-crc32") if response.status == 200 else None
        if expected is not None and str(zlib.crc32(body)) != expected.strip():
            raise DynamoDBError(operation, "CRC32Mismatch", "answer damaged in transit", 200)
        if 200 <= response.status < 300:
            try:
                return decode_body(body)
            except ValueError as exc:
                raise DynamoDBError(
                    operation, "InvalidResponse", f"unreadable answer: {exc}", response.status
                ) from exc
        code, message = "", ""
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {}
        if isinstance(parsed, dict):
            code = str(parsed.get("__type", "")).rsplit("#", 1)[-1]
            message = str(parsed.get("message", parsed.get("Message", "")))
        header = response.headers.get("x-amzn-errortype")
        if not code and header:
            code = header.split(":", 1)[0].rsplit("#", 1)[-1]
        if not code:
            code = "InternalServerError" if response.status >= 500 else f"HTTP{response.status}"
        return _raise(operation, code, message, response.status)

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """One operation with retries (throttling, 5xx, network) within the deadline."""
        body = encode_body(params)
        deadline = context_deadline(self.deadline_margin)
        stop = None if deadline is None else deadline + self.deadline_margin / 2
        attempt = 1
        while True:
            request, _ = self.build_request(operation, body, amz_date())
            try:
                return self._attempt(operation, request, stop)
            except DynamoDBError as exc:
                if not exc.retryable:
                    raise
                delay = self.policy.backoff(attempt, deadline)
                if delay is None:
                    raise
            time.sleep(delay)
            attempt += 1

    # --- boto3's methods for the operations wsgate uses ------------------------------------

    def put_item(self, **params: Any) -> dict[str, Any]:
        """PutItem."""
        return self._call("PutItem", params)

    def get_item(self, **params: Any) -> dict[str, Any]:
        """GetItem."""
        return self._call("GetItem", params)

    def update_item(self, **params: Any) -> dict[str, Any]:
        """UpdateItem."""
        return self._call("UpdateItem", params)

    def delete_item(self, **params: Any) -> dict[str, Any]:
        """DeleteItem."""
        return self._call("DeleteItem", params)

    def query(self, **params: Any) -> dict[str, Any]:
        """Query."""
        return self._call("Query", params)

    def scan(self, **params: Any) -> dict[str, Any]:
        """Scan."""
        return self._call("Scan", params)

    def batch_get_item(self, **params: Any) -> dict[str, Any]:
        """BatchGetItem."""
        return self._call("BatchGetItem", params)

    def batch_write_item(self, **params: Any) -> dict[str, Any]:
        """BatchWriteItem."""
        return self._call("BatchWriteItem", params)

    def create_table(self, **params: Any) -> dict[str, Any]:
        """CreateTable."""
        return self._call("CreateTable", params)

    def delete_table(self, **params: Any) -> dict[str, Any]:
        """DeleteTable."""
        return self._call("DeleteTable", params)

    def describe_table(self, **params: Any) -> dict[str, Any]:
        """DescribeTable."""
        return self._call("DescribeTable", params)

    def update_time_to_live(self, **params: Any) -> dict[str, Any]:
        """UpdateTimeToLive."""
        return self._call("UpdateTimeToLive", params)

    def get_waiter(self, name: str) -> _TableWaiter:
        """``"table_exists"`` / ``"table_not_exists"``: polls DescribeTable as boto3's do."""
        if name not in ("table_exists", "table_not_exists"):
            raise ValueError(f"unsupported waiter {name!r}")
        return _TableWaiter(self, name == "table_exists")

    def close(self) -> None:
        """Closes the idle keep-alive connections."""
        self.pool.close()


def _raise(operation: str, code: str, message: str, status: int) -> dict[str, Any]:
    raise DynamoDBError(operation, code, message, status)


class _TableWaiter:
    def __init__(self, client: DynamoDBClient, exists: bool) -> None:
        self._client = client
        self._exists = exists

    def wait(self, TableName: str, WaiterConfig: dict[str, Any] | None = None) -> None:
        config = WaiterConfig or {}
        delay = float(config.get("Delay", 20))
        attempts = int(config.get("MaxAttempts", 25))
        for attempt in range(attempts):
            try:
                table = self._client.describe_table(TableName=TableName)["Table"]
            except DynamoDBError as exc:
                if exc.code != "ResourceNotFoundException":
                    raise
                if not self._exists:
                    return
            else:
                if self._exists and table.get("TableStatus") == "ACTIVE":
                    return
            if attempt + 1 < attempts:
                time.sleep(delay)
        state = "active" if self._exists else "deleted"
        raise DynamoDBError("DescribeTable", "WaiterError", f"{TableName} not {state}", None)


def make_client(
    client: Any = None, *, region: str | None = None, endpoint_url: str | None = None
) -> Any:
    """The DynamoDB client to use: ``client`` when it is one, else the chosen kind.

    ``client`` may be a client object (returned as is), ``"stdlib"``, ``"boto3"`` or
    ``None`` (``WSGATE_DYNAMODB_CLIENT``, default ``stdlib``). The boto3 client gets
    botocore's standard retry mode.

    Raises:
        ConfigurationError: An unknown kind, no region, or boto3 missing for ``"boto3"``.
    """
    if client is not None and not isinstance(client, str):
        return client
    kind = (client or os.environ.get("WSGATE_DYNAMODB_CLIENT") or "stdlib").strip().lower()
    if kind == "stdlib":
        return DynamoDBClient(region=region, endpoint_url=endpoint_url)
    if kind != "boto3":
        raise ConfigurationError(f"unknown DynamoDB client {kind!r}: use 'stdlib' or 'boto3'")
    try:
        import boto3
        from botocore.config import Config
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigurationError(
            "the boto3 DynamoDB client needs boto3: pip install boto3"
        ) from None
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=3,
        read_timeout=10,
        tcp_keepalive=True,
    )
    return boto3.client(
        "dynamodb",
        region_name=region or _default_region(),
        endpoint_url=endpoint_url,
        config=config,
    )
