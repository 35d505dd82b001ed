"""The dashboard keeps the server's promises: signatures, read-only off loopback, Host checks."""

from __future__ import annotations

import http.client
import json
import logging
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.sync.client import connect

from support import wait_until
from wsgate.local import EmulatorConfig
from wsgate.local.http import parse_head
from wsgate.local.invoke import AppSpec
from wsgate.local.origin import cross_site_refusal
from wsgate.local.server import Emulator


def _call(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        reply = conn.getresponse()
        data = reply.read()
    finally:
        conn.close()
    try:
        return reply.status, json.loads(data) if data else None
    except ValueError:
        return reply.status, data


def _signed(port: int, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    """Headers of a request signed like botocore (the fixture's credentials: test/test)."""
    request = AWSRequest(method=method, url=f"http://127.0.0.1:{port}{path}", data=body)
    SigV4Auth(Credentials("test", "test"), "execute-api", "us-east-1").add_auth(request)
    return {k: str(v) for k, v in request.headers.items()}


ACTIONS = [
    ("POST", "/_wsgate/api/broadcast", b"hi"),
    ("PUT", "/_wsgate/api/faults", b'{"throttle": 1}'),
    ("POST", "/_wsgate/api/connections/{cid}/messages", b"hi"),
    ("DELETE", "/_wsgate/api/connections/{cid}", b""),
]


@pytest.mark.parametrize(("method", "path", "body"), ACTIONS)
def test_with_verify_signatures_dashboard_actions_need_a_signature(
    start_emulator: Any, recorder: Any, method: str, path: str, body: bytes
) -> None:
    running = start_emulator(AppSpec.from_object(recorder), verify_signatures=True)
    with connect(running.ws_url) as ws:
        (cid,) = wait_until(running.connection_ids)
        target = path.format(cid=cid)
        status, _ = _call(running.port, method, target, body)
        assert status == 403
        assert running.emulator.config.faults.throttle == 0.0  # nothing changed
        assert running.connection_ids() == [cid]
        status, _ = _call(
            running.port, method, target, body, _signed(running.port, method, target, body)
        )
        assert status in (200, 204)
        if method == "POST":
            assert ws.recv(5) == "hi"
    status, info = _call(running.port, "GET", "/_wsgate/api/info")
    assert status == 200 and info["signed"] is True and info["actions"] is False
    assert _call(running.port, "GET", "/_wsgate/api/connections")[0] == 200  # reads stay open


def test_actions_can_be_switched_off_on_loopback(start_emulator: Any, recorder: Any) -> None:
    running = start_emulator(AppSpec.from_object(recorder), dashboard_actions=False)
    with connect(running.ws_url):
        (cid,) = wait_until(running.connection_ids)
        for method, path, body in ACTIONS:
            status, data = _call(running.port, method, path.format(cid=cid), body)
            assert status == 403 and "--dashboard-actions" in data["message"]
        assert running.connection_ids() == [cid]
    assert _call(running.port, "GET", "/_wsgate/api/connections")[0] == 200
    assert _call(running.port, "GET", "/_wsgate/api/info")[1]["actions"] is False


@pytest.mark.parametrize(
    ("host", "flag", "allowed"),
    [
        ("0.0.0.0", None, False),
        ("192.168.1.20", None, False),
        ("0.0.0.0", True, True),
        ("127.0.0.1", None, True),
        ("localhost", None, True),
    ],
)
def test_beyond_loopback_the_dashboard_is_read_only_by_default(
    recorder: Any, host: str, flag: bool | None, allowed: bool
) -> None:
    # Decided from the configuration alone: the emulator is not started (tests bind loopback).
    emulator = Emulator(
        AppSpec.from_object(recorder),
        EmulatorConfig(host=host, dashboard_actions=flag),
        configure_environment=False,
    )
    broadcast = parse_head(b"POST /_wsgate/api/broadcast HTTP/1.1\r\nHost: x\r\n\r\n")
    read = parse_head(b"GET /_wsgate/api/connections HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (emulator.dashboard.action_refusal(broadcast) is None) is allowed
    assert emulator.dashboard.action_refusal(read) is None
    assert emulator.dashboard.info()["actions"] is allowed


@pytest.mark.parametrize(
    ("host_header", "status"),
    [
        ("host.docker.internal:{port}", 410),
        ("my-laptop.local:{port}", 410),
        ("localhost:{port}", 410),
        ("devbox", 410),
        ("evil.example:{port}", 403),
        ("10.1.2.3:{port}", 403),
    ],
)
def test_management_api_allows_local_hosts_and_logs_a_refusal(
    emulator: Any, caplog: pytest.LogCaptureFixture, host_header: str, status: int
) -> None:
    caplog.set_level(logging.WARNING, logger="wsgate.local")
    host = host_header.format(port=emulator.port)
    got, _ = _call(emulator.port, "GET", "/local/@connections/nobody%3D", headers={"Host": host})
    assert got == status  # 410: the check let it through to GetConnection (no such id)
    refused = [r for r in caplog.records if "refused a request for Host" in r.getMessage()]
    assert bool(refused) is (status == 403)
    if refused:
        assert host in refused[0].getMessage()


@pytest.mark.parametrize(
    ("bound", "host_header", "refused"),
    [
        ("0.0.0.0", "evil.example:3001", True),  # the rebinding check stays on
        ("0.0.0.0", "192.168.1.20:3001", False),  # an address cannot be rebound
        ("0.0.0.0", "[fe80::1]:3001", False),
        ("0.0.0.0", "box.local:3001", False),
        ("devbox.example.com", "devbox.example.com:3001", False),  # the listen name
        ("devbox.example.com", "evil.example:3001", True),
    ],
)
def test_host_checks_stay_on_beyond_loopback(bound: str, host_header: str, refused: bool) -> None:
    request = parse_head(
        f"GET /_wsgate/api/connections HTTP/1.1\r\nHost: {host_header}\r\n\r\n".encode()
    )
    assert (cross_site_refusal(request, bound) is not None) is refused


def test_the_favicon_is_served_not_forbidden(emulator: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", emulator.port, timeout=10)
    try:
        conn.request("GET", "/favicon.ico")
        reply = conn.getresponse()
        body = reply.read()
    finally:
        conn.close()
    assert reply.status == 200
    assert reply.getheader("Content-Type") == "image/png" and body.startswith(b"\x89PNG")
