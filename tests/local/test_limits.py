"""Request-head limits hold for every input: one large read, conflicting lengths, slowloris."""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from wsgate.local.http import MAX_HEAD_BYTES, HttpError, parse_head


def _exchange(port: int, payload: bytes, *, timeout: float = 10.0) -> tuple[bytes, bool]:
    """Send ``payload`` in one write; return what came back and whether the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(payload)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received, True
            if not chunk:
                return received, True
            received += chunk
            if b"\r\n\r\n" in received and b"Connection: close" not in received:
                return received, False


def _many_headers(path: str, count: int = 10_000) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"X-Filler-{n}: {n}" for n in range(count)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("count", [1_500, 10_000])
@pytest.mark.parametrize("path", ["/_wsgate/api/connections", "/local/@connections/abc="])
def test_a_huge_head_in_one_read_gets_431_and_a_close(emulator: Any, path: str, count: int) -> None:
    # 1,500 headers (about 25 KB) fit one loopback segment: the head arrives in one read.
    payload = _many_headers(path, count)
    assert len(payload) > MAX_HEAD_BYTES
    reply, closed = _exchange(emulator.port, payload)
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:80]
    assert closed


def test_a_head_just_under_the_limit_is_served(emulator: Any) -> None:
    filler = "x" * (MAX_HEAD_BYTES - 200)
    payload = (
        f"GET /_wsgate/api/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: {filler}\r\n\r\n"
    ).encode()
    reply, _ = _exchange(emulator.port, payload)
    assert reply.startswith(b"HTTP/1.1 200 "), reply[:80]


def test_conflicting_content_lengths_are_a_400() -> None:
    head = (
        b"POST /local/@connections/abc= HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Length: 5\r\nContent-Length: 50\r\n\r\n"
    )
    with pytest.raises(HttpError) as caught:
        parse_head(head).content_length  # noqa: B018
    assert caught.value.status == 400
    same = head.replace(b"Content-Length: 50", b"Content-Length: 5")
    assert parse_head(same).content_length == 5  # a repeated identical value is fine (RFC 9110)


def test_conflicting_content_lengths_on_the_wire(emulator: Any) -> None:
    payload = (
        b"POST /local/@connections/abc= HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Length: 2\r\nContent-Length: 40\r\n\r\nhi"
    )
    reply, closed = _exchange(emulator.port, payload)
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:80]
    assert closed


@pytest.mark.parametrize(
    "partial",
    [
        b"GET /_wsgate/api/connections HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",  # head
        b"POST /local/@connections/abc= HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Length: 100\r\n\r\nonly a few bytes",  # body
    ],
    ids=["head", "body"],
)
def test_an_incomplete_request_is_closed_after_the_timeout(
    start_emulator: Any, recorder: Any, partial: bytes
) -> None:
    from wsgate.local.invoke import AppSpec

    running = start_emulator(AppSpec.from_object(recorder), request_timeout=1.0)
    with socket.create_connection(("127.0.0.1", running.port), timeout=15) as sock:
        started = time.monotonic()
        sock.sendall(partial)
        # Trickle one byte a little later, as slowloris does: it must not extend the deadline.
        time.sleep(0.5)
        sock.sendall(b"x")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
        elapsed = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408 "), reply[:80]
    assert 0.9 <= elapsed < 10.0


def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(
    start_emulator: Any, recorder: Any
) -> None:
    from wsgate.local.invoke import AppSpec

    running = start_emulator(AppSpec.from_object(recorder), keep_alive_timeout=1.0)
    with socket.create_connection(("127.0.0.1", running.port), timeout=15) as sock:
        sock.sendall(b"GET /_wsgate/api/faults HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        started = time.monotonic()
        reply = b""
        while chunk := sock.recv(4096):  # the answer, then EOF once the idle timeout ends
            reply += chunk
        elapsed = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert 0.9 <= elapsed < 10.0
