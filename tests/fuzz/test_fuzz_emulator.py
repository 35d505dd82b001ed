"""Fuzzing the emulator with hand-made WebSocket frames from a raw socket client.

Oversized frames and messages, binary frames, invalid UTF-8, fragments, interleaved and
malformed control frames, reserved opcodes and bits, unmasked frames, truncated frames and
abrupt drops. After every example: another client (a real ``websockets`` client connected for
the whole run) still gets its echoes, the fuzzing connection is gone from the emulator, and the
app's registry holds exactly the emulator's live connections.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from auth.kit import RunningEmulator
from support import wait_until
from wsgate.events import WebSocketEvent
from wsgate.registry import open_registry
from wsgate.router import WebSocketApp

from .strategies import FUZZ

MASK = b"\x37\xfa\x21\x3d"


def frame(
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool = True,
    declared: int | None = None,
) -> bytes:
    """One WebSocket frame, byte by byte (RFC 6455 §5.2), possibly lying about its length."""
    length = len(payload) if declared is None else declared
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    mask_bit = 0x80 if masked else 0
    if length < 126:
        head = bytes([first, mask_bit | length])
    elif length < 65536:
        head = bytes([first, mask_bit | 126]) + length.to_bytes(2, "big")
    else:
        head = bytes([first, mask_bit | 127]) + length.to_bytes(8, "big")
    if masked:
        body = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
        return head + MASK + body
    return head + payload


payloads = st.one_of(
    st.text(max_size=60).map(str.encode),
    st.just(json.dumps({"action": "echo", "x": 1}).encode()),
    st.sampled_from([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"ok\x80", b"\xf4\x90\x80\x80"]),
    st.binary(max_size=60),
    st.sampled_from([b"a" * 33_000, b"{" * 40_000]),  # over the 32 KB frame limit
)


@st.composite
def frame_specs(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(
            ["text", "binary", "control", "reserved", "fragmented", "huge_message", "rsv", "raw"]
        )
    )
    payload = draw(payloads)
    if kind == "text":
        return frame(1, payload, masked=draw(st.integers(0, 9)) > 0)
    if kind == "binary":
        return frame(2, payload)
    if kind == "control":
        opcode = draw(st.sampled_from([8, 9, 10]))
        body = draw(st.one_of(st.binary(max_size=130), st.just(b"\x03\xe8bye"), st.just(b"\x03")))
        return frame(opcode, body, fin=draw(st.integers(0, 4)) > 0)
    if kind == "reserved":
        return frame(draw(st.sampled_from([3, 4, 5, 6, 7, 11, 12, 13, 14, 15])), payload)
    if kind == "fragmented":
        parts = draw(st.lists(st.binary(max_size=30), min_size=2, max_size=4))
        first = frame(1, parts[0], fin=False)
        middle = b"".join(frame(0, part, fin=False) for part in parts[1:-1])
        ping = frame(9, b"in-between") if draw(st.booleans()) else b""
        stray = frame(1, b"interleaved") if draw(st.integers(0, 3)) == 0 else b""
        return first + ping + stray + middle + frame(0, parts[-1], fin=True)
    if kind == "huge_message":  # 5 fragments of 30,000 bytes: each frame fits, the message not
        chunk = b"x" * 30_000
        return b"".join(frame(1 if i == 0 else 0, chunk, fin=i == 4) for i in range(5))
    if kind == "rsv":
        return frame(1, payload, rsv=draw(st.integers(1, 7)))
    return draw(st.binary(min_size=1, max_size=40))  # not a frame at all


endings = st.sampled_from(["close", "abrupt", "truncated", "lying_length", "nothing"])


@dataclass
class Bench:
    running: RunningEmulator
    good: ClientConnection
    good_id: str
    registry: Any
    connects: list[str] = field(default_factory=list)
    disconnects: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    registry = open_registry("memory://")
    app = WebSocketApp()
    state: dict[str, Bench] = {}
    connects: list[str] = []
    disconnects: list[str] = []
    lock = threading.Lock()

    @app.connect
    def on_connect(event: WebSocketEvent) -> None:
        registry.store(event.connection_id)
        with lock:
            connects.append(event.connection_id)

    @app.disconnect
    def on_disconnect(event: WebSocketEvent) -> None:
        registry.delete(event.connection_id)
        with lock:
            disconnects.append(event.connection_id)

    @app.route("echo", two_way=True)
    def echo(event: WebSocketEvent) -> str:
        return event.body

    @app.default
    def ignore(event: WebSocketEvent) -> None:
        return None

    running = RunningEmulator(app)
    try:
        with connect(running.ws_url, open_timeout=15) as good:
            good_id = wait_until(running.connection_ids, message="good client")[0]
            state["bench"] = Bench(running, good, good_id, registry, connects, disconnects, lock)
            yield state["bench"]
    finally:
        running.stop()


def handshake(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(b"fuzz-fuzz-fuzz!!").decode()
    sock.sendall(
        (
            "GET /local HTTP/1.1\r\n"
            f"Host: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError("the emulator closed the handshake")
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head[:40]
    return sock


def drain(sock: socket.socket, seconds: float) -> bytes:
    """Read what the server sends until it closes or ``seconds`` pass."""
    received = b""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    return received


@settings(FUZZ, max_examples=45)
@given(st.lists(frame_specs(), min_size=1, max_size=4), endings)
def test_random_frames_never_hurt_other_clients_or_the_registry(
    bench: Bench, frames: list[bytes], ending: str
) -> None:
    running = bench.running
    sock = handshake(running.emulator.port)
    try:
        for data in frames:
            try:
                sock.sendall(data)
            except OSError:
                break  # the server already closed on an earlier frame
        if ending == "close":
            sock.sendall(frame(8, b"\x03\xe8"))
        elif ending == "truncated":
            sock.sendall(frame(1, b"0123456789")[:-4])
        elif ending == "lying_length":
            sock.sendall(frame(1, b"short", declared=2**62))
        if ending != "abrupt":
            drain(sock, 0.3)
    except OSError:
        pass
    finally:
        sock.close()

    # Another client is served as before.
    token = f"still-here-{time.monotonic_ns()}"
    bench.good.send(json.dumps({"action": "echo", "token": token}))
    echoed = bench.good.recv(timeout=10)
    assert token in str(echoed)

    # The fuzzing connection is gone, its $disconnect ran, and the registry agrees.
    wait_until(lambda: running.connection_ids() == [bench.good_id], message="fuzz conn gone")
    wait_until(
        lambda: {c.connection_id for c in bench.registry.all()} == {bench.good_id},
        message="registry holds exactly the live connections",
    )
    with bench.lock:
        opened, closed = set(bench.connects), set(bench.disconnects)
    assert opened - closed == {bench.good_id}
    assert len(bench.disconnects) == len(closed), "a connection got two $disconnect events"


def close_code(data: bytes) -> int | None:
    """The status code of the first close frame the server sent (server frames are unmasked)."""
    while len(data) >= 2:
        opcode, length = data[0] & 0x0F, data[1] & 0x7F
        offset = 2
        if length == 126:
            length, offset = int.from_bytes(data[2:4], "big"), 4
        elif length == 127:
            length, offset = int.from_bytes(data[2:10], "big"), 10
        payload = data[offset : offset + length]
        if opcode == 8:
            return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        data = data[offset + length :]
    return None


VIOLATIONS = [
    ("frame_over_32_kb", frame(1, b"a" * 33_000), 1009),
    (
        "message_over_128_kb",
        b"".join(frame(1 if i == 0 else 0, b"x" * 30_000, fin=i == 4) for i in range(5)),
        1009,
    ),
    ("binary_frame", frame(2, b"\x00\x01"), 1003),
    ("invalid_utf8", frame(1, b"\xc3\x28"), 1007),
    ("reserved_opcode", frame(3, b"x"), 1002),
    ("rsv_bits_without_extension", frame(1, b"x", rsv=4), 1002),
    ("unmasked_client_frame", frame(1, b"x", masked=False), 1002),
    ("fragmented_control_frame", frame(9, b"x", fin=False), 1002),
    ("control_frame_over_125_bytes", frame(9, b"x" * 126), 1002),
    ("continuation_without_start", frame(0, b"x"), 1002),
]


@pytest.mark.parametrize(("name", "data", "code"), VIOLATIONS, ids=[v[0] for v in VIOLATIONS])
def test_protocol_violations_close_with_the_right_code(
    bench: Bench, name: str, data: bytes, code: int
) -> None:
    sock = handshake(bench.running.emulator.port)
    try:
        sock.sendall(data)
        received = drain(sock, 3.0)
    finally:
        sock.close()
    assert close_code(received) == code, name
    wait_until(lambda: bench.running.connection_ids() == [bench.good_id], message="closed")
