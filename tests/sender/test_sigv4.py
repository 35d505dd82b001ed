"""The signer against botocore's SigV4Auth: same canonical request, same headers."""

from __future__ import annotations

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from wsgate.aws.credentials import Credentials, StaticCredentials
from wsgate.aws.sigv4 import SigV4Signer, canonical_uri
from wsgate.sender.endpoint import parse_endpoint
from wsgate.sender.http_transport import HttpTransport

IDS = ["L0SM9cOFvHcCIhw=", "a+b/c=", "-_-_", "abc", "x=y=z==", "Zm9v+/bar-_="]
ENDPOINTS = [
    "https://abc123.execute-api.eu-west-1.amazonaws.com/prod",
    "http://127.0.0.1:3001/local",
    "https://abc123.execute-api.us-east-1.amazonaws.com",
    "https://ws.example.com/base/path",
]


def _parse(raw: bytes) -> tuple[str, str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        headers[name] = value
    return method, path, headers, body


def _check_against_botocore(
    raw: bytes, endpoint: str, method: str, body: bytes, creds: StaticCredentials
) -> str:
    """Asserts ``raw`` is exactly what botocore signs; returns the wire path."""
    ep = parse_endpoint(endpoint)
    token = creds.get().token
    wire_method, wire_path, headers, wire_body = _parse(raw)
    assert wire_method == method
    assert wire_body == body
    assert "/@connections/" in wire_path  # '@' is not encoded, as boto3 sends it

    request = AWSRequest(
        method=method,
        url=f"{ep.scheme}://{ep.host_header}{wire_path}",
        headers={"X-Amz-Date": headers["X-Amz-Date"]},
        data=body,
    )
    request.context["timestamp"] = headers["X-Amz-Date"]
    auth = SigV4Auth(
        BotoCredentials(creds.get().access_key, creds.get().secret_key, token),
        "execute-api",
        "eu-west-1",
    )
    auth.add_auth(request)
    authorization = request.headers["Authorization"]
    del request.headers["Authorization"]  # what botocore's canonical request was built from

    signer = SigV4Signer("eu-west-1")
    ours = signer.canonical_request(
        method,
        canonical_uri(wire_path),
        headers["Host"],
        headers["X-Amz-Date"],
        auth.payload(request),
        token,
    )
    assert ours == auth.canonical_request(request)
    assert headers["Authorization"] == authorization
    assert headers["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert headers.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")
    assert headers["Host"] == ep.host_header
    if method == "POST":
        assert headers["Content-Length"] == str(len(body))
    return wire_path


@pytest.mark.parametrize("token", [None, "IQoJb3JpZ2luX2VjEHh//session+token="])
@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("connection_id", IDS)
def test_matches_botocore(
    connection_id: str, endpoint: str, method: str, token: str | None
) -> None:
    creds = StaticCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    transport = HttpTransport(credentials=creds, region="eu-west-1")
    body = b'{"hello":"w\xc3\xb6rld"}' if method == "POST" else b""
    raw = transport._request(method, parse_endpoint(endpoint), connection_id, body)
    wire_path = _check_against_botocore(raw, endpoint, method, body, creds)
    assert "%3D" in wire_path or "=" not in connection_id


class _Rotating:
    """Credentials that change when told to (as Lambda's do between invocations)."""

    def __init__(self) -> None:
        self.current = StaticCredentials("AKIDFIRST", "secret-one")

    def get(self) -> Credentials:
        return self.current.get()


def test_prebuilt_request_parts_follow_ids_bodies_methods_and_credentials() -> None:
    # One transport, so the pre-built request parts are reused and rebuilt: every request
    # must still be exactly what botocore signs.
    rotating = _Rotating()
    transport = HttpTransport(credentials=rotating, region="eu-west-1")
    bodies = [b"one", b"one", b"a longer second body", b""]
    for round_ in range(2):
        for endpoint in ENDPOINTS:
            for i, connection_id in enumerate(IDS):
                body = bodies[i % len(bodies)]
                for method in ("POST", "GET"):
                    data = body if method == "POST" else b""
                    raw = transport._request(method, parse_endpoint(endpoint), connection_id, data)
                    creds = StaticCredentials(
                        rotating.get().access_key, rotating.get().secret_key, rotating.get().token
                    )
                    _check_against_botocore(raw, endpoint, method, data, creds)
        rotating.current = StaticCredentials("AKIDSECOND", "secret-two", f"token-{round_}")


def test_signing_key_is_cached_per_day() -> None:
    signer = SigV4Signer("eu-west-1")
    first = signer.signing_key("secret", "20261125")
    assert signer.signing_key("secret", "20261125") is first
    assert signer.signing_key("secret", "20261126") != first
    assert signer.signing_key("other", "20261126") != signer.signing_key("secret", "20261126")


def test_region_comes_from_the_execute_api_host() -> None:
    assert (
        parse_endpoint("https://a1.execute-api.ap-south-2.amazonaws.com/dev").region == "ap-south-2"
    )
    assert parse_endpoint("http://127.0.0.1:3001/local").region is None
