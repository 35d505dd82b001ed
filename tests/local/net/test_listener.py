"""The accept path: TLS refused fast when off, silent clients closed, the API's Host accepted."""

from __future__ import annotations

import asyncio
import contextlib
import gc
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
from wsgate.local.listener import Listener
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


class _Quiet(asyncio.Protocol):
    pass


def _open_server_sockets(port: int) -> list[socket.socket]:
    """Sockets of this process still open on the server side of ``port``."""
    gc.collect()
    found = []
    for obj in gc.get_objects():
        if isinstance(obj, socket.socket) and obj.fileno() >= 0 and obj.family == socket.AF_INET:
            with contextlib.suppress(OSError):
                if obj.getsockname()[1] == port and obj.getpeername():
                    found.append(obj)
    return found


def test_closing_the_listener_closes_every_socket_it_still_holds(ca: LocalCA) -> None:
    async def scenario() -> list[socket.socket]:
        listener = Listener(_Quiet, tls=ca.server_context(), handshake_timeout=30)
        await listener.start("127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        clients = []
        # One silent, one stalled in its TLS handshake, one handed over in the very turn the
        # listener closes (its task never gets to run). Established connections belong to
        # their protocol (the emulator aborts them), not to the listener.
        for payload in (b"", b"\x16\x03\x01"):
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(payload)
            clients.append(client)
        await _wait(lambda: listener._waiting and listener._tasks, loop)
        extra, peer = socket.socketpair()
        extra.setblocking(False)
        listener._hand_over(extra, None)
        listener.close()
        await listener.wait_closed()
        leaked = _open_server_sockets(port)
        for client in (*clients, peer):
            client.close()
        assert extra.fileno() == -1
        return leaked

    assert asyncio.run(scenario()) == []


async def _wait(predicate: Callable[[], Any], loop: asyncio.AbstractEventLoop) -> None:
    deadline = loop.time() + 10
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)
