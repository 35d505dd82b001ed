"""``wsgate serve`` as a process: its own stop signals, a taken port, metrics off the terminal."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.sync.client import connect

from support import wait_until
from wsgate.cli import build_parser

APP = textwrap.dedent(
    """
    from wsgate.router import WebSocketApp

    app = WebSocketApp()

    @app.disconnect
    def gone(event):
        print("DISCONNECT", event.connection_id, flush=True)

    @app.route("echo", two_way=True)
    def echo(event):
        return {"statusCode": 200, "body": "echo " + event.body}
    """
)


@pytest.fixture
def app_file(tmp_path: Path) -> Path:
    path = tmp_path / "echoapp.py"
    path.write_text(APP)
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("WSGATE_REGISTRY", None)
    env.pop("WSGATE_METRICS", None)  # metrics on, as a user has them
    return env


@contextmanager
def _serve(
    app_file: Path, *args: str, ignore_sigint: bool = False
) -> Iterator[tuple[subprocess.Popen[str], int]]:
    def preexec() -> None:
        if ignore_sigint:  # as a shell script's background job or nohup starts it
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgate.cli", "serve", str(app_file), "--port", "0", *args],
        cwd=app_file.parent,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=preexec,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for _ in range(20):  # a first run may log the local CA's creation before the URL
            lines.append(proc.stdout.readline())
            match = re.search(r"ws://127\.0\.0\.1:(\d+)/local", lines[-1])
            if match or not lines[-1]:
                break
        assert match, lines
        yield proc, int(match.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(15)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_serve_stops_cleanly_on_its_own_signal_handlers(app_file: Path, sig: int) -> None:
    with _serve(app_file, ignore_sigint=True) as (proc, port):
        with connect(f"ws://127.0.0.1:{port}/local") as ws:
            ws.send('{"action": "echo"}')
            assert ws.recv(10) == 'echo {"action": "echo"}'
            proc.send_signal(sig)
            assert proc.wait(20) == 0
        assert proc.stdout is not None
        output = proc.stdout.read()
    assert "DISCONNECT" in output  # a clean stop: $disconnect ran before the exit


def test_a_taken_port_gives_one_clear_line(app_file: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "wsgate.cli", "serve", str(app_file), "--port", str(port)],
            cwd=app_file.parent,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("wsgate:")]
    assert len(errors) == 1, done.stderr
    assert "already in use" in errors[0] and "--port" in errors[0]


def test_metrics_go_to_the_dashboard_not_the_terminal(app_file: Path) -> None:
    with _serve(app_file) as (proc, port):
        with connect(f"ws://127.0.0.1:{port}/local") as ws:
            for n in range(5):
                ws.send(json.dumps({"action": "echo", "n": n}))
                ws.recv(10)

        def totals() -> dict[str, dict[str, float]]:
            url = f"http://127.0.0.1:{port}/_wsgate/api/metrics"
            with urllib.request.urlopen(url, timeout=5) as reply:
                found: dict[str, dict[str, float]] = json.load(reply)["metrics"]
            return found

        found = wait_until(lambda: (t := totals()) and t.get("MessagesIn", {}).get("value") and t)
        assert found["MessagesIn"]["value"] == 5
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
        assert proc.stdout is not None
        output = proc.stdout.read()
    assert '"_aws"' not in output  # no EMF line on the terminal


def test_the_metrics_flag_keeps_emf_on_stdout(app_file: Path) -> None:
    with _serve(app_file, "--metrics") as (proc, port):
        with connect(f"ws://127.0.0.1:{port}/local") as ws:
            ws.send('{"action": "echo"}')
            ws.recv(10)
        time.sleep(0.5)  # the line is written when the handler's invocation ends
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
        assert proc.stdout is not None
        output = proc.stdout.read()
    assert '"_aws"' in output


def test_fault_flags_have_help_text() -> None:
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    flags = {a.dest: a for a in serve._actions}
    for name in ("drop_disconnect", "throttle", "server_error", "latency_ms", "random_close"):
        assert flags[name].help, f"--{name.replace('_', '-')} has no help"


def test_the_port_answers_tls_with_the_local_ca_and_no_tls_refuses_it(
    app_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    monkeypatch.setenv("WSGATE_CA_DIR", str(tmp_path / "ca"))
    with _serve(app_file) as (proc, port):
        trusted = ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.pem"))
        with connect(f"wss://127.0.0.1:{port}/local", ssl=trusted) as ws:
            ws.send('{"action": "echo"}')
            assert ws.recv(10) == 'echo {"action": "echo"}'
        with connect(f"ws://127.0.0.1:{port}/local") as ws:  # plain on the same port
            ws.send('{"action": "echo"}')
            assert ws.recv(10) == 'echo {"action": "echo"}'
        with pytest.raises(ssl.SSLCertVerificationError):  # verified: not any certificate
            connect(f"wss://127.0.0.1:{port}/local", ssl=ssl.create_default_context())
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
    with _serve(app_file, "--no-tls") as (proc, port):
        started = time.monotonic()
        with pytest.raises((ssl.SSLError, ConnectionError)):
            connect(f"wss://127.0.0.1:{port}/local", ssl=trusted, open_timeout=10)
        assert time.monotonic() - started < 5  # refused at once, not a hang
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0
