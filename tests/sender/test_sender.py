"""Sender behaviour against a real ``@connections`` server, for both transports."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from wsgate.exceptions import (
    ConnectionGoneError,
    ForbiddenError,
    PayloadTooLargeError,
    ServerError,
    ThrottledError,
    TransportError,
)
from wsgate.registry.memory import MemoryRegistry
from wsgate.sender import MAX_PAYLOAD_BYTES, Sender

from .apistub import ApiStub

MakeSender = Callable[..., Sender]


def test_send_text_bytes_and_json(
    stub: ApiStub, make_sender: MakeSender, transport_name: str
) -> None:
    stub.connect("abc=")
    sender = make_sender(stub.endpoint, transport=transport_name)
    sender.send("abc=", "héllo wörld ✓ 🚀")
    binary = bytes(range(256))
    sender.send_bytes("abc=", binary)
    sender.send("abc=", {"type": "note", "text": "ünïcode", "n": [1, 2]})
    sender.send_json("abc=", 42)
    sender.send_text("abc=", "")
    got = stub.received("abc=")
    assert got[0] == "héllo wörld ✓ 🚀".encode()
    assert got[1] == binary
    assert got[2] == '{"type":"note","text":"ünïcode","n":[1,2]}'.encode()
    assert got[3] == b"42"
    assert got[4] == b""


def test_id_is_percent_encoded_on_the_wire(
    stub: ApiStub, make_sender: MakeSender, transport_name: str
) -> None:
    cid = "Ab+c/d-e_f="
    stub.connect(cid)
    make_sender(stub.endpoint, transport=transport_name).send(cid, b"x")
    assert stub.state.requests[-1].path == "/test/@connections/Ab%2Bc%2Fd-e_f%3D"
    assert stub.received(cid) == [b"x"]


def test_payload_limit_is_exact(
    stub: ApiStub, make_sender: MakeSender, transport_name: str
) -> None:
    stub.connect("c1")
    sender = make_sender(stub.endpoint, transport=transport_name)
    sender.send("c1", b"a" * MAX_PAYLOAD_BYTES)
    assert len(stub.received("c1")[0]) == 131_072
    before = len(stub.state.requests)
    with pytest.raises(PayloadTooLargeError) as info:
        sender.send("c1", b"a" * (MAX_PAYLOAD_BYTES + 1))
    assert info.value.status_code == 413
    assert isinstance(info.value, ValueError)
    # Multi-byte text counts in bytes, not characters.
    with pytest.raises(PayloadTooLargeError):
        sender.send("c1", "é" * (MAX_PAYLOAD_BYTES // 2 + 1))
    assert len(stub.state.requests) == before  # refused before any request


def test_gone_raises_and_prunes(
    stub: ApiStub, make_sender: MakeSender, transport_name: str
) -> None:
    registry = MemoryRegistry()
    registry.store("dead=")
    registry.store("live")
    stub.connect("live")
    sender = make_sender(stub.endpoint, transport=transport_name, registry=registry)
    with pytest.raises(ConnectionGoneError) as info:
        sender.send("dead=", "hi")
    assert info.value.status_code == 410
    assert info.value.connection_id == "dead="
    assert registry.get("dead=") is None
    assert registry.get("live") is not None
    assert stub.state.attempts[("POST", "dead=")] == 1  # 410 is never retried


def test_forbidden_never_prunes(
    stub: ApiStub, make_sender: MakeSender, transport_name: str
) -> None:
    registry = MemoryRegistry()
    registry.store("c1")
    stub.connect("c1")
    wrong_stage = stub.endpoint.rsplit("/", 1)[0] + "/prod"
    sender = make_sender(wrong_stage, transport=transport_name, registry=registry)
    with pytest.raises(ForbiddenError) as info:
        sender.send("c1", "hi")
    assert info.value.status_code == 403
    assert registry.get("c1") is not None


def test_throttling_is_retried_then_succeeds(make_sender: MakeSender, transport_name: str) -> None:
    with ApiStub(fault=lambda m, cid, n: "429" if n <= 3 else None) as stub:
        stub.connect("c1")
        make_sender(stub.endpoint, transport=transport_name).send("c1", "x")
        assert stub.received("c1") == [b"x"]
        assert stub.state.attempts[("POST", "c1")] == 4


def test_retry_budget_is_bounded(make_sender: MakeSender, transport_name: str) -> None:
    with ApiStub(fault=lambda m, cid, n: "429" if cid == "t" else "503") as stub:
        stub.connect("t", "s")
        sender = make_sender(stub.endpoint, transport=transport_name, max_attempts=3)
        with pytest.raises(ThrottledError):
            sender.send("t", "x")
        with pytest.raises(ServerError) as info:
            sender.send("s", "x")
        assert info.value.status_code == 503
        assert stub.state.attempts[("POST", "t")] == 3
        assert stub.state.attempts[("POST", "s")] == 3


def test_timeouts_and_resets_are_retried(make_sender: MakeSender, transport_name: str) -> None:
    faults = {1: "timeout", 2: "reset", 3: "502"}
    with ApiStub(fault=lambda m, cid, n: faults.get(n)) as stub:
        stub.connect("c1")
        make_sender(stub.endpoint, transport=transport_name, timeout=0.3).send("c1", "x")
        assert stub.received("c1") == [b"x"]
        assert stub.state.attempts[("POST", "c1")] == 4


def test_deadline_from_lambda_context_bounds_retries(make_sender: MakeSender) -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 700

    with ApiStub(fault=lambda m, cid, n: "429") as stub:
        stub.connect("c1")
        sender = make_sender(
            stub.endpoint,
            deadline=Context(),
            deadline_margin=0.5,
            max_attempts=1000,
            backoff_base=0.05,
            backoff_cap=0.05,
        )
        # Throttled when the retry layer gives up, TransportError if an attempt was still in
        # flight at the hard stop (a loaded machine): either way bounded by the deadline.
        with pytest.raises((ThrottledError, TransportError)):
            sender.send("c1", "x")
        # 0.2 s of budget with waits up to 50 ms: far fewer than 1000 attempts.
        assert 1 <= stub.state.attempts[("POST", "c1")] < 100


def test_unreachable_endpoint_is_a_transport_error(
    make_sender: MakeSender, transport_name: str
) -> None:
    with ApiStub() as stub:
        endpoint = stub.endpoint
    sender = make_sender(endpoint, transport=transport_name, max_attempts=2)
    with pytest.raises(TransportError):
        sender.send("c1", "x")


def test_info_is_alive_and_close(
    stub: ApiStub, make_sender: MakeSender, transport_name: str
) -> None:
    stub.connect("c1=", source_ip="203.0.113.9")
    sender = make_sender(stub.endpoint, transport=transport_name)
    info = sender.info("c1=")
    assert info.connection_id == "c1="
    assert isinstance(info.connected_at, datetime)
    assert info.connected_at.tzinfo is not None
    assert abs((datetime.now(UTC) - info.connected_at).total_seconds()) < 60
    assert info.last_active_at >= info.connected_at
    assert info.source_ip == "203.0.113.9"
    assert info.user_agent == "stub-client/1.0"
    assert sender.is_alive("c1=") is True
    sender.close("c1=")
    assert sender.is_alive("c1=") is False
    with pytest.raises(ConnectionGoneError):
        sender.close("c1=")
    with pytest.raises(ConnectionGoneError):
        sender.info("c1=")


def test_chunked_get_connection_answer(make_sender: MakeSender) -> None:
    with ApiStub(fault=lambda m, cid, n: "chunked") as stub:
        stub.connect("c1")
        info = make_sender(stub.endpoint).info("c1")
        assert info.source_ip == "127.0.0.1"


def test_many_threads_share_one_sender(stub: ApiStub, make_sender: MakeSender) -> None:
    ids = [f"c{i}" for i in range(8)]
    stub.connect(*ids)
    sender = make_sender(stub.endpoint)
    errors: list[BaseException] = []

    def work(cid: str) -> None:
        try:
            for n in range(25):
                sender.send(cid, json.dumps({"n": n}))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(cid,)) for cid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    for cid in ids:
        assert [json.loads(m)["n"] for m in stub.received(cid)] == list(range(25))


def test_unsupported_data_type_is_refused(stub: ApiStub, make_sender: MakeSender) -> None:
    sender = make_sender(stub.endpoint)
    with pytest.raises(TypeError, match="cannot send"):
        sender.send("c1", object())
    with pytest.raises(TypeError, match="cannot send"):
        sender.send("c1", {"when": object()})
    assert stub.state.requests == []
