"""``--verify-signatures``: the Management API refuses unsigned and forged calls as AWS does.

Signed requests come from botocore's own signer and from unmodified boto3 clients; the
emulator runs for real on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError
from websockets.sync.client import connect

from support import management_client, wait_until
from wsgate.local.sigv4_verify import (
    Credentials,
    credentials_from_environment,
    verify_sigv4,
)
from wsgate.router import WebSocketApp

from .kit import RunningEmulator

KEY, SECRET = "AKIDWSGATETEST", "wsgate-secret-key"
TRUSTED = [Credentials(KEY, SECRET)]
HOST = "127.0.0.1:3001"


def signed(
    method: str,
    path: str,
    body: bytes = b"",
    *,
    key: str = KEY,
    secret: str = SECRET,
    token: str | None = None,
    service: str = "execute-api",
    region: str = "us-east-1",
    headers: dict[str, str] | None = None,
) -> tuple[str, list[tuple[str, str]]]:
    """Sign like botocore does; return the request target and the headers as sent."""
    request = AWSRequest(method=method, url=f"http://{HOST}{path}", data=body, headers=headers)
    SigV4Auth(BotoCredentials(key, secret, token), service, region).add_auth(request)
    sent = [("Host", HOST), *((k, str(v)) for k, v in request.headers.items())]
    split = urlsplit(request.url)
    target = split.path + (f"?{split.query}" if split.query else "")
    return target, sent


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/local/@connections/R1kmxc2VNjMCFIA%3D", b"hello"),
        ("GET", "/local/%40connections/abc-_%3D", b""),
        ("DELETE", "/local/@connections/x%2By%2Fz%3D", b""),
        ("POST", "/base/path/@connections/id%3D", "héllo ✓".encode()),
        ("GET", "/local/@connections/a?b=2&a=1&a=0", b""),
    ],
)
def test_botocore_signatures_verify(method: str, path: str, body: bytes) -> None:
    target, headers = signed(method, path, body)
    assert verify_sigv4(method, target, headers, body, TRUSTED) is None


def _error(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"") -> str:
    rejection = verify_sigv4(method, target, headers, body, TRUSTED)
    assert rejection is not None
    assert rejection.status == 403
    return rejection.error_type


def test_unsigned_request_is_missing_authentication_token() -> None:
    assert _error("GET", "/local/@connections/a", [("Host", HOST)]) == (
        "MissingAuthenticationTokenException"
    )


@pytest.mark.parametrize(
    "change",
    ["method", "path", "body", "host", "date", "signature", "secret", "query"],
)
def test_any_tampering_is_an_invalid_signature(change: str) -> None:
    method, path, body = "POST", "/local/@connections/abc%3D", b"payload"
    target, headers = signed(method, path, body, secret="wrong" if change == "secret" else SECRET)
    if change == "method":
        method = "DELETE"
    elif change == "path":
        target = "/local/@connections/other%3D"
    elif change == "body":
        body = b"payloaD"
    elif change == "query":
        target += "?x=1"
    elif change in ("host", "date", "signature"):
        name = {"host": "host", "date": "x-amz-date", "signature": "authorization"}[change]
        headers = [(k, _tamper(k, v) if k.lower() == name else v) for k, v in headers]
    expected = "InvalidSignatureException"
    assert _error(method, target, headers, body) == expected


def _tamper(name: str, value: str) -> str:
    if name.lower() == "authorization":
        return value[:-4] + ("0000" if not value.endswith("0000") else "1111")
    if name.lower() == "x-amz-date":
        return value[:-3] + ("10Z" if not value.endswith("10Z") else "20Z")
    return "127.0.0.1:9999"


def test_unknown_access_key_is_unrecognized() -> None:
    target, headers = signed("GET", "/local/@connections/a", key="AKIDSTRANGER")
    assert _error("GET", target, headers) == "UnrecognizedClientException"


def test_wrong_service_scope_is_refused() -> None:
    target, headers = signed("GET", "/local/@connections/a", service="s3")
    assert _error("GET", target, headers) == "InvalidSignatureException"


def test_old_signatures_expire() -> None:
    target, headers = signed("GET", "/local/@connections/a")
    later = time.time() + 3600
    rejection = verify_sigv4("GET", target, headers, b"", TRUSTED, now=later)
    assert rejection is not None and "expired" in rejection.message


@pytest.mark.parametrize(
    "authorization",
    [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA1 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
        "Basic dXNlcjpwYXNz",
        "AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=ab",
        "",
    ],
)
def test_incomplete_authorization_is_refused(authorization: str) -> None:
    headers = [("Host", HOST), ("X-Amz-Date", "20260101T000000Z")]
    headers.append(("Authorization", authorization))
    assert _error("GET", "/local/@connections/a", headers) in (
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
    )


def test_session_token_must_match() -> None:
    trusted = [Credentials(KEY, SECRET, "token-1")]
    target, headers = signed("GET", "/local/@connections/a", token="token-1")
    assert verify_sigv4("GET", target, headers, b"", trusted) is None
    target, headers = signed("GET", "/local/@connections/a", token="token-2")
    rejection = verify_sigv4("GET", target, headers, b"", trusted)
    assert rejection is not None and rejection.error_type == "UnrecognizedClientException"


def test_credentials_come_from_the_environment() -> None:
    assert credentials_from_environment({}) == []
    env = {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_SESSION_TOKEN": "t"}
    assert credentials_from_environment(env) == [Credentials("a", "b", "t")]


# --- through the emulator -------------------------------------------------------------------


@pytest.fixture
def verifying(monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningEmulator]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    app = WebSocketApp()

    @app.default
    def echo(event: Any) -> None:
        return None

    running = RunningEmulator(app, verify_signatures=True)
    try:
        yield running
    finally:
        running.stop()


def management(running: RunningEmulator, **options: Any) -> Any:
    options.setdefault("aws_access_key_id", KEY)
    options.setdefault("aws_secret_access_key", SECRET)
    return management_client(running.endpoint, **options)


def test_signed_boto3_calls_pass(verifying: RunningEmulator) -> None:
    with connect(verifying.ws_url, open_timeout=15) as ws:
        connection_id = wait_until(verifying.connection_ids, message="connection")[0]
        client = management(verifying)
        client.post_to_connection(ConnectionId=connection_id, Data=b"signed hello")
        assert ws.recv(timeout=10) == "signed hello"
        info = client.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"


def test_wrong_secret_is_refused_by_boto3_as_invalid_signature(verifying: RunningEmulator) -> None:
    with connect(verifying.ws_url, open_timeout=15) as ws:
        connection_id = wait_until(verifying.connection_ids, message="connection")[0]
        client = management(verifying, aws_secret_access_key="forged")
        with pytest.raises(ClientError) as info:
            client.post_to_connection(ConnectionId=connection_id, Data=b"forged")
        error = info.value.response["Error"]
        assert error["Code"] == "InvalidSignatureException"
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert verifying.connection_ids() == [connection_id]
        ws.send("still alive")


def test_unsigned_boto3_call_is_refused(verifying: RunningEmulator) -> None:
    client = management(
        verifying, config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1})
    )
    with pytest.raises(ClientError) as info:
        client.get_connection(ConnectionId="R1kmxc2VNjMCFIA=")
    assert info.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"


def test_refusals_carry_no_trace_secret_or_path(verifying: RunningEmulator) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", verifying.emulator.port, timeout=10)
    try:
        conn.request("POST", "/local/@connections/abc%3D", body=b"x")
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    assert answer.status == 403
    assert answer.getheader("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert json.loads(body) == {"message": "Missing Authentication Token"}
    for leak in (SECRET.encode(), b"Traceback", b".py", b"/work"):
        assert leak not in body


def test_without_the_flag_unsigned_calls_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    running = RunningEmulator(WebSocketApp())
    try:
        client = management(
            running, config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1})
        )
        with pytest.raises(client.exceptions.GoneException):
            client.get_connection(ConnectionId="R1kmxc2VNjMCFIA=")
    finally:
        running.stop()
