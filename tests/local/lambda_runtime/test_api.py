"""The Runtime API endpoint spoken to directly over HTTP, as a runtime would."""

from __future__ import annotations

import http.client
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from wsgate.local.lambda_runtime import FunctionPool
from wsgate.local.lambda_runtime.api import MAX_PAYLOAD, Invocation, RuntimeEndpoint
from wsgate.local.lambda_runtime.launch import Launch
from wsgate.local.lambda_runtime.service import RuntimeService

from .conftest import PYTHON, Spec

PREFIX = "/2018-06-01/runtime"


@dataclass
class Api:
    service: RuntimeService
    endpoint: RuntimeEndpoint
    timeouts: list[bool]
    conns: list[http.client.HTTPConnection]

    def submit(self, body: bytes = b'{"a": 1}', timeout: float = 30.0) -> Invocation:
        invocation = Invocation("req-1", body, timeout, "arn:aws:lambda:x", "Root=1-abc")
        self.service.loop.call_soon_threadsafe(self.endpoint.submit, invocation)
        return invocation

    def conn(self) -> http.client.HTTPConnection:
        host, port = self.endpoint.address.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.conns.append(conn)
        return conn


@pytest.fixture
def api() -> Iterator[Api]:
    service = RuntimeService.acquire()
    timeouts: list[bool] = []

    async def make() -> RuntimeEndpoint:
        endpoint = RuntimeEndpoint(lambda: timeouts.append(True), init_timeout=30)
        await endpoint.start()
        return endpoint

    endpoint = service.run(make())
    try:
        api = Api(service, endpoint, timeouts, [])
        yield api
    finally:
        for conn in api.conns:
            conn.close()
        service.run(endpoint.close())
        service.release()


def request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn.request(method, PREFIX + path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def test_listens_on_loopback_only(api: Api) -> None:
    assert api.endpoint.address.startswith("127.0.0.1:")


def test_next_then_response(api: Api) -> None:
    invocation = api.submit()
    conn = api.conn()
    status, headers, body = request(conn, "GET", "/invocation/next")
    assert status == 200 and json.loads(body) == {"a": 1}
    assert headers["Lambda-Runtime-Aws-Request-Id"] == "req-1"
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == "arn:aws:lambda:x"
    assert headers["Lambda-Runtime-Trace-Id"] == "Root=1-abc"
    assert int(headers["Lambda-Runtime-Deadline-Ms"]) > 0
    assert request(conn, "POST", "/invocation/other/response", b"1")[0] == 400
    status, _, _ = request(conn, "POST", "/invocation/req-1/response", b'{"ok": true}')
    assert status == 202
    assert invocation.done.result(10).payload == b'{"ok": true}'
    # Answered: a second answer for the same id is refused.
    assert request(conn, "POST", "/invocation/req-1/response", b"2")[0] == 400


def test_error_with_header_and_non_json_body(api: Api) -> None:
    invocation = api.submit()
    conn = api.conn()
    request(conn, "GET", "/invocation/next")
    headers = {"Lambda-Runtime-Function-Error-Type": "Custom.Failure"}
    assert request(conn, "POST", "/invocation/req-1/error", b"not json", headers)[0] == 202
    assert invocation.done.result(10).error == {
        "errorType": "Custom.Failure",
        "errorMessage": "not json",
    }


def test_oversized_response_is_413_and_an_error(api: Api) -> None:
    invocation = api.submit()
    conn = api.conn()
    request(conn, "GET", "/invocation/next")
    status, _, body = request(conn, "POST", "/invocation/req-1/response", b"x" * (MAX_PAYLOAD + 1))
    assert status == 413 and b"RequestEntityTooLarge" in body
    error = invocation.done.result(10).error
    assert error is not None and error["errorType"] == "Function.ResponseSizeTooLarge"


def test_init_error_fails_the_waiting_invocation(api: Api) -> None:
    invocation = api.submit()
    document = {"errorType": "Runtime.ImportModuleError", "errorMessage": "Unable to import"}
    status, _, _ = request(api.conn(), "POST", "/init/error", json.dumps(document).encode())
    assert status == 202
    assert invocation.done.result(10).error == document


def test_deadline_passes_times_out(api: Api) -> None:
    invocation = api.submit(timeout=0.3)
    request(api.conn(), "GET", "/invocation/next")
    outcome = invocation.done.result(10)
    assert outcome.timed_out and api.timeouts == [True]
    assert outcome.error is not None and outcome.error["errorType"] == "Sandbox.Timedout"


def test_a_response_that_is_not_json_comes_back_as_text(tmp_path: Path) -> None:
    # A runtime other than wsgate's bootstraps (a custom one) that answers with plain text.
    script = tmp_path / "fake_runtime.py"
    script.write_text(
        "import http.client, os\n"
        "host, port = os.environ['AWS_LAMBDA_RUNTIME_API'].split(':')\n"
        "conn = http.client.HTTPConnection(host, int(port))\n"
        "conn.request('GET', '/2018-06-01/runtime/invocation/next')\n"
        "response = conn.getresponse(); response.read()\n"
        "rid = response.getheader('Lambda-Runtime-Aws-Request-Id')\n"
        "conn.request('POST', f'/2018-06-01/runtime/invocation/{rid}/response', body=b'plain')\n"
        "conn.getresponse().read()\n"
    )
    spec = Spec("F", "F", PYTHON, "app.handler", tmp_path)

    class ScriptPool(FunctionPool):
        def _launch(self, address: str) -> Launch:
            launch = super()._launch(address)
            return Launch((sys.executable, str(script)), launch.cwd, launch.env)

    pool = ScriptPool(spec, log=lambda name, line: None)
    try:
        result = pool.invoke({})
    finally:
        pool.close()
    assert result.error is None and result.payload == "plain"


def raw(api: Api, data: bytes, *, read_until_close: bool = False) -> bytes:
    """Send ``data`` on a new connection; what came back (until close, or the first answer)."""
    import socket

    host, port = api.endpoint.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while True:
            chunk = sock.recv(65536)
            received += chunk
            if not chunk or (not read_until_close and b"\r\n\r\n" in received):
                return received


def test_chunked_response_body_is_read(api: Api) -> None:
    invocation = api.submit()
    conn = api.conn()
    request(conn, "GET", "/invocation/next")
    # http.client sends an iterable body chunked.
    chunks = iter([b'{"ok":', b" true", b"}"])
    conn.request("POST", PREFIX + "/invocation/req-1/response", body=chunks, encode_chunked=True)
    response = conn.getresponse()
    response.read()
    assert response.status == 202
    assert invocation.done.result(10).payload == b'{"ok": true}'


def test_expect_100_continue_is_answered(api: Api) -> None:
    import socket

    invocation = api.submit()
    request(api.conn(), "GET", "/invocation/next")
    host, port = api.endpoint.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = (
            f"POST {PREFIX}/invocation/req-1/response HTTP/1.1\r\nHost: x\r\n"
            "Content-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        sock.sendall(head.encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"true")
        assert sock.recv(1000).startswith(b"HTTP/1.1 202 ")
    assert invocation.done.result(10).payload == b"true"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /x HTTP/2.0\r\n\r\n", 505),
        (b"POST " + PREFIX.encode() + b"/init/error HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"POST /a HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"GET /a HTTP/1.1\r\nX: " + b"y" * 70000 + b"\r\n\r\n", 431),
        (b"GET /elsewhere HTTP/1.1\r\n\r\n", 404),
        (b"POST " + PREFIX.encode() + b"/invocation/next HTTP/1.1\r\n\r\n", 405),
    ],
)
def test_malformed_or_unknown_requests_get_a_clear_status(
    api: Api, data: bytes, status: int
) -> None:
    answer = raw(api, data)
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    assert b'"errorMessage"' in answer


def test_oversized_content_length_is_refused_before_the_body(api: Api) -> None:
    invocation = api.submit()
    request(api.conn(), "GET", "/invocation/next")
    head = (
        f"POST {PREFIX}/invocation/req-1/response HTTP/1.1\r\n"
        f"Content-Length: {MAX_PAYLOAD + 1}\r\n\r\n"
    )
    answer = raw(api, head.encode())  # the body never comes: the answer does not wait for it
    assert answer.startswith(b"HTTP/1.1 413 ")
    error = invocation.done.result(10).error
    assert error is not None and error["errorType"] == "Function.ResponseSizeTooLarge"


def test_http_1_0_closes_after_the_answer(api: Api) -> None:
    answer = raw(api, b"GET /elsewhere HTTP/1.0\r\n\r\n", read_until_close=True)
    assert answer.startswith(b"HTTP/1.1 404 ") and b"Connection: close" in answer
