"""Emulator hardening: loopback by default, loud when not, ``--authorizer`` loading, no leaks."""

from __future__ import annotations

import http.client
import json
import textwrap
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from wsgate.cli import build_parser
from wsgate.exceptions import ConfigurationError
from wsgate.local import EmulatorConfig
from wsgate.local.authorizer import LocalAuthorizer
from wsgate.local.server import exposure_warning
from wsgate.router import WebSocketApp

from .kit import RunningEmulator, authorizer_event


def test_default_host_is_loopback() -> None:
    assert EmulatorConfig().host == "127.0.0.1"
    args = build_parser().parse_args(["serve", "app.py"])
    assert args.host == "127.0.0.1"
    assert args.verify_signatures is False


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_hosts_are_quiet(host: str) -> None:
    assert exposure_warning(host, verify_signatures=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_other_hosts_are_announced(host: str) -> None:
    warning = exposure_warning(host, verify_signatures=False)
    assert warning is not None and host in warning and "--verify-signatures" in warning
    signed = exposure_warning(host, verify_signatures=True)
    assert signed is not None and "--verify-signatures" not in signed


def test_cli_security_flags_parse() -> None:
    args = build_parser().parse_args(
        [
            "serve",
            "app.py",
            "--verify-signatures",
            "--authorizer",
            "auth_mod:authorize",
            "--identity-source",
            "route.request.querystring.token",
            "--identity-source",
            "route.request.header.X-Key",
        ]
    )
    assert args.verify_signatures is True
    assert args.authorizer == "auth_mod:authorize"
    assert args.identity_source == ["route.request.querystring.token", "route.request.header.X-Key"]


AUTH_MODULE = textwrap.dedent(
    """
    from wsgate.auth import Principal, request_authorizer
    from wsgate.router import WebSocketApp

    @request_authorizer(identity_sources=["route.request.querystring.key"])
    def declared(request):
        return Principal("from-declared")

    def plain(event, context):
        if event["queryStringParameters"].get("key") != "open-sesame":
            raise Exception("Unauthorized")
        return {
            "principalId": "from-plain",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ]},
        }

    app = WebSocketApp()

    @app.authorizer(identity_sources=["route.request.header.X-App-Key"])
    def app_auth(request):
        return Principal("from-app")
    """
)


@pytest.fixture
def auth_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth_mod_for_tests.py"
    path.write_text(AUTH_MODULE)
    return path


def test_load_a_declared_authorizer_keeps_its_sources(auth_file: Path) -> None:
    local = LocalAuthorizer.load(f"{auth_file}:declared")
    assert [s.expression for s in local.identity_sources] == ["route.request.querystring.key"]
    verdict = local.run(authorizer_event(query={"key": "k"}))
    assert verdict.authorizer is not None and verdict.authorizer["principalId"] == "from-declared"


def test_load_a_plain_function_with_given_sources(auth_file: Path) -> None:
    local = LocalAuthorizer.load(
        f"{auth_file}:plain", identity_sources=["route.request.querystring.key"]
    )
    assert local.run(authorizer_event(query={"key": "open-sesame"})).status is None
    assert local.run(authorizer_event(query={"key": "wrong"})).status == 401
    assert local.run(authorizer_event()).invoked is False


def test_load_an_app_runs_its_authorizer(auth_file: Path) -> None:
    local = LocalAuthorizer.load(f"{auth_file}:app")
    assert [s.expression for s in local.identity_sources] == ["route.request.header.X-App-Key"]
    verdict = local.run(authorizer_event({"X-App-Key": "k"}))
    assert verdict.authorizer is not None and verdict.authorizer["principalId"] == "from-app"


def test_load_refuses_missing_targets(tmp_path: Path, auth_file: Path) -> None:
    with pytest.raises(ConfigurationError):
        LocalAuthorizer.load(f"{tmp_path / 'absent.py'}:x")
    with pytest.raises(ConfigurationError):
        LocalAuthorizer.load(f"{auth_file}:no_such_attr")


def test_a_separate_authorizer_guards_a_plain_app(auth_file: Path) -> None:
    app = WebSocketApp()
    running = RunningEmulator(app)
    try:
        running.emulator.authorizer = LocalAuthorizer.load(
            f"{auth_file}:plain", identity_sources=["route.request.querystring.key"]
        )
        with pytest.raises(InvalidStatus) as info:
            connect(f"{running.ws_url}?key=wrong", open_timeout=15)
        assert info.value.response.status_code == 401
        with connect(f"{running.ws_url}?key=open-sesame", open_timeout=15):
            pass
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/local/@connections/%ZZ"),
        ("PUT", "/local/@connections/abc"),
        ("GET", "/elsewhere/../../etc/passwd"),
        ("GET", "/_wsgate/../../pyproject.toml"),
        ("POST", "/local/@connections/" + "a" * 4000),
    ],
)
def test_http_errors_leak_no_trace_or_path(method: str, path: str) -> None:
    running = RunningEmulator(WebSocketApp())
    try:
        conn = http.client.HTTPConnection("127.0.0.1", running.emulator.port, timeout=10)
        try:
            conn.request(method, path, body=b"x" if method != "GET" else None)
            answer = conn.getresponse()
            body = answer.read()
        finally:
            conn.close()
        assert answer.status in (400, 403, 404, 410)
        for leak in (b"Traceback", b".py", b"/work", b"site-packages", b"[tool"):
            assert leak not in body
    finally:
        running.stop()


def test_error_frames_carry_no_trace_secret_or_path() -> None:
    app = WebSocketApp()

    @app.route("boom", two_way=True)  # two-way: the router's 500 body goes back to the client
    def boom(event: object) -> None:
        raise RuntimeError("db password hunter2 in /srv/app/secrets.py")

    @app.route("bad_return", two_way=True)
    def bad_return(event: object) -> object:
        return object()  # not a response API Gateway understands

    running = RunningEmulator(app)
    try:
        with connect(running.ws_url, open_timeout=15) as ws:
            for action in ("boom", "bad_return", "nothing_matches_and_no_default"):
                ws.send(json.dumps({"action": action}))
                frame = ws.recv(timeout=10)
                assert isinstance(frame, str)
                assert '"message": "' in frame, frame
                for leak in ("hunter2", "secrets.py", "Traceback", "/srv", "RuntimeError"):
                    assert leak not in frame
    finally:
        running.stop()


def test_connect_crash_is_a_bare_502() -> None:
    app = WebSocketApp()

    @app.connect
    def on_connect(event: object) -> None:
        raise RuntimeError("token signing key is k3y in /etc/app.py")

    running = RunningEmulator(app)
    try:
        with pytest.raises(InvalidStatus) as info:
            connect(running.ws_url, open_timeout=15)
        status = info.value.response.status_code
        body = info.value.response.body or b""
        assert status in (500, 502)
        assert b"k3y" not in body and b"/etc" not in body and b"Traceback" not in body
    finally:
        running.stop()


def test_cli_serve_with_authorizer_and_signatures(tmp_path: Path, auth_file: Path) -> None:
    """``wsgate serve APP --authorizer M:A --identity-source S --verify-signatures``, for real."""
    import os
    import subprocess
    import sys

    app_file = tmp_path / "plain_app.py"
    app_file.write_text("def handler(event, context):\n    return {'statusCode': 200}\n")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "cli-key",
        "AWS_SECRET_ACCESS_KEY": "cli-secret",
        "WSGATE_REGISTRY": "memory://",
        "WSGATE_METRICS": "off",  # stdout is a pipe read for its first line only
    }
    command = [
        sys.executable,
        "-m",
        "wsgate.cli",
        "serve",
        str(app_file),
        "--port",
        "0",
        "--no-dashboard",
        "--authorizer",
        f"{auth_file}:plain",
        "--identity-source",
        "route.request.querystring.key",
        "--verify-signatures",
    ]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("wsgate: WebSocket"), line
        url = line.split()[-1]
        with pytest.raises(InvalidStatus) as info:
            connect(f"{url}?key=wrong", open_timeout=15)
        assert info.value.response.status_code == 401
        with connect(f"{url}?key=open-sesame", open_timeout=15):
            pass
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/local/@connections/abc%3D")
            answer = conn.getresponse()
            answer.read()
        finally:
            conn.close()
        assert answer.status == 403
        assert answer.getheader("x-amzn-ErrorType") == "MissingAuthenticationTokenException"
    finally:
        process.terminate()
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        # a page on another site posting to the dashboard API ("simple" request, no preflight)
        ("POST", "/_wsgate/api/broadcast", {"Origin": "https://evil.example"}, 403),
        ("PUT", "/_wsgate/api/faults", {"Origin": "https://evil.example"}, 403),
        ("POST", "/_wsgate/api/broadcast", {"Origin": "null"}, 403),
        ("POST", "/local/@connections/abc%3D", {"Origin": "https://evil.example"}, 403),
        # DNS rebinding: evil.example resolved to 127.0.0.1
        ("GET", "/_wsgate/api/connections", {"Host": "evil.example:3001"}, 403),
        ("GET", "/_wsgate/", {"Host": "evil.example"}, 403),
        # the emulator's own pages and non-browser clients still work
        ("POST", "/_wsgate/api/broadcast", {"Origin": "SELF"}, 200),
        ("POST", "/_wsgate/api/broadcast", {}, 200),
        ("GET", "/_wsgate/api/connections", {"Host": "localhost:PORT"}, 200),
        ("GET", "/_wsgate/api/connections", {"Origin": "https://evil.example"}, 200),
    ],
)
def test_other_sites_cannot_drive_the_emulator(
    method: str, path: str, headers: dict[str, str], status: int
) -> None:
    running = RunningEmulator(WebSocketApp())
    try:
        port = running.emulator.port
        sent = {
            k: v.replace("SELF", f"http://127.0.0.1:{port}").replace("PORT", str(port))
            for k, v in headers.items()
        }
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request(method, path, body=b"hi" if method != "GET" else None, headers=sent)
            answer = conn.getresponse()
            answer.read()
        finally:
            conn.close()
        assert answer.status == status
    finally:
        running.stop()
