"""§10.3 to §10.5 and §6: the ``@connections`` API as unmodified boto3 sees it, and on the wire."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from support import wait_until
from wsgate.local.config import Faults
from wsgate.local.invoke import AppSpec

from .conftest import Recorder

UNKNOWN = "R1kmxc2VNjMCFIA="


def _raw(port: int, method: str, path: str, body: bytes | None = None) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request(method, path, body=body)
    reply = conn.getresponse()
    data = reply.read()
    conn.close()
    return reply, data


def test_post_delivers_text_and_get_describes(emulator: Any, recorder: Recorder) -> None:
    client = emulator.client()
    with connect(emulator.ws_url, user_agent_header="tester/1.0") as ws:
        cid = recorder.wait("CONNECT")[0]["requestContext"]["connectionId"]
        before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
        reply = client.post_to_connection(ConnectionId=cid, Data=b'{"hello":"world"}')
        assert reply["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert reply["ResponseMetadata"]["RequestId"]
        assert ws.recv(5) == '{"hello":"world"}'
        info = client.get_connection(ConnectionId=cid)
        assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "tester/1.0"}
        assert before <= info["ConnectedAt"] <= info["LastActiveAt"]
        assert info["LastActiveAt"] <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)


def test_get_connection_timestamps_are_iso8601(emulator: Any, recorder: Recorder) -> None:
    with connect(emulator.ws_url):
        cid = recorder.wait("CONNECT")[0]["requestContext"]["connectionId"]
        reply, data = _raw(emulator.port, "GET", f"/local/@connections/{cid.replace('=', '%3D')}")
    assert reply.status == 200
    body = json.loads(data)
    assert set(body) == {"connectedAt", "identity", "lastActiveAt"}
    for key in ("connectedAt", "lastActiveAt"):
        assert body[key].endswith("Z") and "T" in body[key]
        dt.datetime.fromisoformat(body[key].replace("Z", "+00:00"))


def test_percent_encoded_at_sign_and_id_are_decoded(emulator: Any, recorder: Recorder) -> None:
    with connect(emulator.ws_url) as ws:
        cid = recorder.wait("CONNECT")[0]["requestContext"]["connectionId"]
        assert cid.endswith("=")
        encoded = cid.replace("=", "%3D").replace("-", "%2D")
        reply, _ = _raw(emulator.port, "POST", f"/local/%40connections/{encoded}", b"via %40")
        assert reply.status == 200
        assert ws.recv(5) == "via %40"


def test_unknown_connection_is_gone_for_every_operation(emulator: Any) -> None:
    client = emulator.client()
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId=UNKNOWN, Data=b"x")
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId=UNKNOWN)
    with pytest.raises(client.exceptions.GoneException):
        client.delete_connection(ConnectionId=UNKNOWN)


def test_gone_wire_format(emulator: Any) -> None:
    reply, data = _raw(emulator.port, "POST", f"/local/@connections/{UNKNOWN}", b"x")
    assert reply.status == 410
    assert reply.getheader("x-amzn-ErrorType") == "GoneException"
    assert reply.getheader("x-amzn-RequestId")
    assert data == b""


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/prod/@connections/abc%3D", "POST"),
        ("/@connections/abc%3D", "POST"),
        ("/local/connections/abc%3D", "GET"),
        ("/local/@connections/a/b", "GET"),
        ("/nothing-here", "GET"),
    ],
)
def test_wrong_stage_or_path_is_forbidden(emulator: Any, path: str, method: str) -> None:
    reply, data = _raw(emulator.port, method, path, b"x" if method == "POST" else None)
    assert reply.status == 403
    assert reply.getheader("x-amzn-ErrorType") == "ForbiddenException"
    assert json.loads(data) == {"message": "Forbidden"}


def test_boto3_with_wrong_stage_raises_forbidden(emulator: Any) -> None:
    client = emulator.client(endpoint=f"http://127.0.0.1:{emulator.port}/prod")
    with pytest.raises(client.exceptions.ForbiddenException):
        client.post_to_connection(ConnectionId=UNKNOWN, Data=b"x")


def test_payload_limit_is_131072_bytes(emulator: Any, recorder: Recorder) -> None:
    client = emulator.client()
    with connect(emulator.ws_url, max_size=None) as ws:
        cid = recorder.wait("CONNECT")[0]["requestContext"]["connectionId"]
        client.post_to_connection(ConnectionId=cid, Data=b"a" * 131_072)
        assert len(ws.recv(5)) == 131_072
        with pytest.raises(client.exceptions.PayloadTooLargeException):
            client.post_to_connection(ConnectionId=cid, Data=b"a" * 131_073)
        client.post_to_connection(ConnectionId=cid, Data=b"still open")
        assert ws.recv(5) == "still open"


def test_delete_returns_204_closes_with_1000_and_fires_disconnect(
    emulator: Any, recorder: Recorder
) -> None:
    client = emulator.client()
    with connect(emulator.ws_url) as ws:
        cid = recorder.wait("CONNECT")[0]["requestContext"]["connectionId"]
        reply = client.delete_connection(ConnectionId=cid)
        assert reply["ResponseMetadata"]["HTTPStatusCode"] == 204
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1000
    ctx = recorder.wait("DISCONNECT")[0]["requestContext"]
    assert ctx["disconnectStatusCode"] == 1000
    assert ctx["disconnectReason"] == "Connection Closed Normally"
    for call in (
        lambda: client.post_to_connection(ConnectionId=cid, Data=b"x"),
        lambda: client.get_connection(ConnectionId=cid),
        lambda: client.delete_connection(ConnectionId=cid),
    ):
        with pytest.raises(client.exceptions.GoneException):
            call()


def test_throttle_fault_raises_limit_exceeded(start_emulator: Any, recorder: Recorder) -> None:
    running = start_emulator(AppSpec.from_object(recorder), faults=Faults(throttle=1.0))
    client = running.client(attempts=1)
    with pytest.raises(client.exceptions.LimitExceededException):
        client.post_to_connection(ConnectionId=UNKNOWN, Data=b"x")
    reply, data = _raw(running.port, "POST", f"/local/@connections/{UNKNOWN}", b"x")
    assert reply.status == 429
    assert reply.getheader("x-amzn-ErrorType") == "LimitExceededException"
    assert json.loads(data) == {"message": "Rate exceeded"}


def test_server_error_fault_is_500_and_retried_by_boto3(
    start_emulator: Any, recorder: Recorder
) -> None:
    running = start_emulator(AppSpec.from_object(recorder), faults=Faults(server_error=1.0))
    client = running.client(attempts=2)
    before = running.emulator.management.calls
    with pytest.raises(ClientError) as info:
        client.get_connection(ConnectionId=UNKNOWN)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert running.emulator.management.calls - before == 2


def test_latency_fault_delays_management_calls(start_emulator: Any, recorder: Recorder) -> None:
    running = start_emulator(AppSpec.from_object(recorder), faults=Faults(latency_ms=300))
    client = running.client()
    started = time.monotonic()
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId=UNKNOWN)
    # Not a timing assertion on speed: the fault must add at least the latency asked for.
    assert time.monotonic() - started >= 0.3


def test_faults_change_at_runtime(emulator: Any) -> None:
    client = emulator.client()
    faults = emulator.emulator.config.faults
    faults.update({"throttle": 1.0})
    with pytest.raises(client.exceptions.LimitExceededException):
        client.get_connection(ConnectionId=UNKNOWN)
    faults.update({"throttle": 0.0})
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId=UNKNOWN)
    with pytest.raises(ValueError):
        faults.update({"throttle": 2})
    with pytest.raises(ValueError):
        faults.update({"nonsense": 0.1})


def test_keep_alive_serves_many_requests_on_one_socket(emulator: Any, recorder: Recorder) -> None:
    with connect(emulator.ws_url) as ws:
        cid = recorder.wait("CONNECT")[0]["requestContext"]["connectionId"]
        conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=5)
        for n in range(20):
            conn.request("POST", f"/local/@connections/{cid}", body=str(n).encode())
            reply = conn.getresponse()
            reply.read()
            assert reply.status == 200
        conn.close()
        received = [ws.recv(5) for _ in range(20)]
    assert received == [str(n) for n in range(20)]
    wait_until(lambda: recorder.of("DISCONNECT"))
