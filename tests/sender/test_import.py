"""The send path stays light: no boto3, botocore or HTTP library on import (asyncio brings ssl)."""

from __future__ import annotations

import subprocess
import sys

import wsgate.sender


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


def test_import_sender_loads_no_boto() -> None:
    out = _run(
        "import sys, wsgate.sender as s; s.Sender('http://127.0.0.1:1/x');"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'aiohttp', 'h11', 'urllib3')))"
    )
    assert out == "[]"


def test_boto3_is_imported_on_demand() -> None:
    out = _run(
        "import sys, wsgate.sender as s\n"
        "f = s.get_management_client\n"
        "print('boto3' in sys.modules, end=' ')\n"
        "c = f('http://127.0.0.1:1/x')\n"
        "print('boto3' in sys.modules, c is f('http://127.0.0.1:1/x'), c.meta.endpoint_url)"
    )
    assert out == "False True True http://127.0.0.1:1/x"


def test_public_names() -> None:
    assert set(wsgate.sender.__all__) == {
        "MAX_PAYLOAD_BYTES",
        "Boto3Transport",
        "BroadcastResult",
        "ConnectionInfo",
        "Credentials",
        "CredentialsProvider",
        "CustomDomainWarning",
        "DefaultCredentials",
        "HttpTransport",
        "RecipientResult",
        "RetryPolicy",
        "Sender",
        "StaticCredentials",
        "Transport",
        "encode_payload",
        "get_management_client",
        "resolve_endpoint",
    }
    for name in wsgate.sender.__all__:
        assert getattr(wsgate.sender, name) is not None


def test_send_path_defers_what_a_send_does_not_need() -> None:
    # urllib.parse (+ ipaddress), random (retry jitter) and datetime (GetConnection) load
    # only when an unusual URL or id, a retry or a GetConnection needs them.
    out = _run(
        "import sys, wsgate.sender as s\n"
        "from wsgate.sender.endpoint import parse_endpoint\n"
        "t = s.HttpTransport(credentials=s.StaticCredentials('AKID', 'secret'))\n"
        "ep = parse_endpoint('https://abc.execute-api.eu-west-1.amazonaws.com/prod')\n"
        "assert t._request('POST', ep, 'L0SM9cOFvHcCIhw=', b'hi').endswith(b'hi')\n"
        "print(sorted(m for m in ('urllib.parse', 'random', 'datetime') if m in sys.modules))"
    )
    assert out == "[]"
