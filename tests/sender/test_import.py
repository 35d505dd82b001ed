"""The send path stays light: no boto3, botocore, HTTP library, asyncio, typing or logging."""

from __future__ import annotations

import subprocess
import sys

import pytest

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


def test_a_send_loads_no_asyncio_typing_logging_or_ssl() -> None:
    # The stdlib transport runs in the caller's thread on selectors: asyncio (≈ 80 ms to
    # import on a small machine), typing and logging stay out of a plain-http send path;
    # ssl loads with the first https connection only.
    out = _run(
        "import sys, socket, threading\n"
        "def serve(conn):\n"  # a bare HTTP/1.1 answerer: nothing imported beyond socket
        "    buf = b''\n"
        "    while True:\n"
        "        while b'\\r\\n\\r\\n' not in buf:\n"
        "            data = conn.recv(65536)\n"
        "            if not data: return\n"
        "            buf += data\n"
        "        head, _, buf = buf.partition(b'\\r\\n\\r\\n')\n"
        "        n = int(head.lower().split(b'content-length:')[1].split(b'\\r\\n')[0])\n"
        "        while len(buf) < n: buf += conn.recv(65536)\n"
        "        buf = buf[n:]\n"
        "        conn.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n')\n"
        "srv = socket.create_server(('127.0.0.1', 0))\n"
        "def accept():\n"
        "    while True:\n"
        "        c, _ = srv.accept()\n"
        "        threading.Thread(target=serve, args=(c,), daemon=True).start()\n"
        "threading.Thread(target=accept, daemon=True).start()\n"
        "port = srv.getsockname()[1]\n"
        "assert not {'asyncio', 'typing', 'logging', 'ssl'} & set(sys.modules)\n"
        "before = set(sys.modules)\n"
        "import wsgate.sender as s\n"
        "snd = s.Sender(f'http://127.0.0.1:{port}/x',\n"
        "               credentials=s.StaticCredentials('AKID', 'secret'))\n"
        "snd.send('c1=', {'hi': 1}); r = snd.broadcast(['a', 'b'], 'x')\n"
        "assert sorted(r.sent) == ['a', 'b'], r\n"
        "loaded = set(sys.modules) - before\n"
        "print(sorted(m for m in ('asyncio', 'typing', 'logging', 'ssl') if m in loaded))"
    )
    # Outside Lambda the send's metrics are written as EMF lines first: the answer is last.
    assert out.splitlines()[-1] == "[]"


def test_lazily_loaded_names_keep_their_old_import_paths() -> None:
    from wsgate.aws.credentials import CredentialsProvider as old_provider
    from wsgate.observe import MetricSink as observe_sink
    from wsgate.observe.metrics import MetricSink as metrics_sink
    from wsgate.observe.protocols import MetricSink
    from wsgate.observe.sinks import MetricSink as sinks_sink
    from wsgate.sender import CredentialsProvider, Transport, protocols
    from wsgate.sender.transport import Transport as old_transport

    assert Transport is old_transport is protocols.Transport
    assert CredentialsProvider is old_provider is protocols.CredentialsProvider
    assert MetricSink is observe_sink is metrics_sink is sinks_sink
    assert isinstance(wsgate.sender.HttpTransport(), Transport)  # runtime_checkable still
    with pytest.raises(AttributeError):
        wsgate.sender.NoSuchName  # noqa: B018
    import wsgate.sender.broadcast as broadcast

    assert set(broadcast.Outcome.__args__) == {"sent", "gone", "failed"}
