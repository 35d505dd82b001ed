"""``wsgate serve`` answers TLS by default from the user's local CA; ``--no-tls`` refuses it."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.sync.client import connect

APP = """
from wsgate.router import WebSocketApp

app = WebSocketApp()

@app.route("echo", two_way=True)
def echo(event):
    return {"statusCode": 200, "body": "echo " + event.body}
"""
PING = '{"action": "echo"}'


@contextmanager
def _serve(tmp_path: Path, *flags: str) -> Iterator[tuple[int, list[str]]]:
    (tmp_path / "app.py").write_text(APP)
    env = {**os.environ, "WSGATE_CA_DIR": str(tmp_path / "ca"), "WSGATE_METRICS": "off"}
    env.pop("WSGATE_REGISTRY", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgate.cli", "serve", "app.py:app", "--port", "0", *flags],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        match = re.search(r"ws://127\.0\.0\.1:(\d+)/local", lines[0])
        assert match, lines
        if "--no-tls" not in flags:
            lines.append(proc.stdout.readline())
        yield int(match.group(1)), lines
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(15)
        if proc.stdout is not None:
            proc.stdout.close()


def test_serve_answers_wss_with_its_local_ca(tmp_path: Path) -> None:
    with _serve(tmp_path) as (port, lines):
        ca = tmp_path / "ca" / "ca.pem"
        assert f"CA {ca}" in lines[-1]
        context = ssl.create_default_context(cafile=str(ca))
        with connect(f"wss://127.0.0.1:{port}/local", ssl=context) as ws:
            ws.send(PING)
            assert ws.recv(10) == "echo " + PING
        with connect(f"ws://127.0.0.1:{port}/local") as ws:  # and plain, on the same port
            ws.send(PING)
            assert ws.recv(10) == "echo " + PING


def test_serve_no_tls_refuses_tls_at_once(tmp_path: Path) -> None:
    with _serve(tmp_path, "--no-tls") as (port, lines):
        assert not any("TLS" in line for line in lines)
        start = time.monotonic()
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            pytest.raises(ssl.SSLError),
        ):
            ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")
        assert time.monotonic() - start < 1.0
    assert not (tmp_path / "ca").exists()
