"""The accept path: TLS refused fast when off, silent clients closed, the API's Host accepted."""

from __future__ import annotations

import http.client
import logging
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

import pytest

from support import ThreadedEmulator
from wsgate.local.invoke import AppSpec
from wsgate.local.tls import LocalCA

from .conftest import API_HOST


def _closed_within(sock: socket.socket, timeout: float) -> float:
    """Seconds until the peer closes ``sock`` (EOF or reset); fails after ``timeout``."""
    sock.settimeout(timeout)
    start = time.monotonic()
    try:
        while sock.recv(4096):
            pass
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"still open after {timeout} s")
    return time.monotonic() - start


def test_a_tls_client_against_no_tls_is_refused_at_once_with_a_log_line(
    start_emulator: Callable[..., ThreadedEmulator],
    recorder: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emulator = start_emulator(AppSpec.from_object(recorder))  # tls=None: --no-tls
    caplog.set_level(logging.WARNING, logger="wsgate.local")
    context = ssl.create_default_context()
    start = time.monotonic()
    with (
        socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as raw,
        pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"),
    ):
        context.wrap_socket(raw, server_hostname="localhost")
    elapsed = time.monotonic() - start
    assert elapsed < 1.0, f"refusal took {elapsed:.3f} s"
    assert any("TLS is off" in r.getMessage() for r in caplog.records), caplog.text


def test_boto3_against_no_tls_fails_fast(
    start_emulator: Callable[..., ThreadedEmulator], recorder: Any
) -> None:
    from botocore.exceptions import SSLError

    emulator = start_emulator(AppSpec.from_object(recorder))
    client = emulator.client(endpoint=f"https://127.0.0.1:{emulator.port}/local", attempts=3)
    start = time.monotonic()
    with pytest.raises(SSLError):
        client.post_to_connection(ConnectionId="x", Data=b"x")
    assert time.monotonic() - start < 5.0  # never the SDK's 60 s read timeout


def test_a_silent_client_is_closed_after_the_timeout(
    start_emulator: Callable[..., ThreadedEmulator], recorder: Any
) -> None:
    emulator = start_emulator(AppSpec.from_object(recorder), first_byte_timeout=0.5)
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as sock:
        elapsed = _closed_within(sock, 10)
    assert 0.4 < elapsed < 5.0, elapsed
    assert emulator.connection_ids() == []


def test_a_stalled_tls_handshake_is_closed_after_its_timeout(
    start_emulator: Callable[..., ThreadedEmulator], recorder: Any, ca: LocalCA
) -> None:
    emulator = start_emulator(
        AppSpec.from_object(recorder), tls=ca.server_context(), tls_handshake_timeout=0.5
    )
    with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
        elapsed = _closed_within(sock, 10)
    assert elapsed < 5.0, elapsed


def test_a_client_that_sends_then_closes_at_once_does_no_harm(
    tls_emulator: ThreadedEmulator,
) -> None:
    for payload in (b"", b"\x16", b"GET"):
        with socket.create_connection(("127.0.0.1", tls_emulator.port), timeout=10) as sock:
            sock.sendall(payload)
    conn = http.client.HTTPConnection("127.0.0.1", tls_emulator.port, timeout=10)
    conn.request("GET", "/local")
    assert conn.getresponse().status == 426
    conn.close()


def _status(port: int, host: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/local/@connections/nobody", headers={"Host": host})
        return conn.getresponse().status
    finally:
        conn.close()


def test_the_api_hostname_is_accepted_as_host(tls_emulator: ThreadedEmulator) -> None:
    assert _status(tls_emulator.port, API_HOST) == 410  # GoneException: the request got through
    assert _status(tls_emulator.port, API_HOST.upper() + ":443") == 410
    assert _status(tls_emulator.port, "evil.example") == 403  # rebinding check still holds
    assert _status(tls_emulator.port, "other.execute-api.us-east-1.amazonaws.com") == 403
