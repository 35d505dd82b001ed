"""Broadcast: fan-out under injected faults, pruning, recipients of every shape."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from wsgate.exceptions import ConfigurationError, PayloadTooLargeError
from wsgate.registry.memory import MemoryRegistry
from wsgate.sender import MAX_PAYLOAD_BYTES, Sender

from .apistub import ApiStub, Fault

MakeSender = Callable[..., Sender]


def _bucket(cid: str) -> int:
    return zlib.crc32(cid.encode()) % 100


def _faults(method: str, cid: str, attempt: int) -> Fault:
    # Deterministic per id: 10 % throttled (twice), 5 % server errors, 1 % time out once;
    # the 10 % gone ones are simply not connected on the stub.
    bucket = _bucket(cid)
    if 10 <= bucket < 20 and attempt <= 2:
        return "429"
    if 20 <= bucket < 25 and attempt == 1:
        return ("500", "502", "503")[bucket % 3]
    if bucket == 25 and attempt == 1:
        return "timeout"
    return None


@pytest.mark.slow
def test_ten_thousand_recipients_under_faults(make_sender: MakeSender) -> None:
    ids = [f"conn-{i:05d}=" for i in range(10_000)]
    gone = {cid for cid in ids if _bucket(cid) < 10}
    live = [cid for cid in ids if cid not in gone]
    assert 800 < len(gone) < 1200  # the buckets really are ~10 %
    registry = MemoryRegistry()
    for cid in ids:
        registry.store(cid)
    with ApiStub(fault=_faults, record=False) as stub:
        stub.connect(*live)
        sender = make_sender(
            stub.endpoint, registry=registry, timeout=1.0, max_concurrency=128, max_attempts=5
        )
        result = sender.broadcast_all({"type": "news", "text": "héllo"})
        assert result.failed == {}
        assert sorted(result.sent) == sorted(live)
        assert set(result.gone) == gone
        assert result.pruned == len(gone)
        assert registry.count() == len(live)
        assert all(registry.get(cid) is None for cid in gone)
        for cid in live:
            assert stub.received(cid) == ['{"type":"news","text":"héllo"}'.encode()]
        statuses = stub.state.statuses
        assert statuses[429] > 1500 and statuses[500] + statuses[502] + statuses[503] > 300
        summary = result.summary()
        assert summary["sent"] == len(live) and summary["gone"] == len(gone)
        assert summary["failed"] == 0 and summary["duration_ms"] > 0


def test_recipient_shapes_duplicates_and_exclude(stub: ApiStub, make_sender: MakeSender) -> None:
    registry = MemoryRegistry()
    record = registry.store("rec")
    stub.connect("a", "b", "rec", "dict", "me")
    recipients: Iterable[Any] = [
        "a",
        "a",
        record,
        {"connectionId": "dict"},
        {"connectionId": "a"},
        "b",
        "me",
        42,
        {"nope": 1},
    ]
    result = make_sender(stub.endpoint).broadcast(recipients, b"\x00\xffbin", exclude=["me"])
    assert sorted(result.sent) == ["a", "b", "dict", "rec"]
    assert stub.received("a") == [b"\x00\xffbin"]  # sent once despite three mentions
    assert stub.received("me") == []
    assert len(result.failed) == 2  # the two unreadable recipients, reported, not raised
    assert all(e.detail.startswith("not a connection id") for e in result.failed.values())
    assert result.to_dict()["a"] is True
    assert {r.outcome for r in result} == {"sent", "failed"}


def test_groups_by_stored_endpoint(make_sender: MakeSender) -> None:
    with ApiStub(stage="one") as first, ApiStub(stage="two") as second:
        first.connect("x1", "x2")
        second.connect("y1")
        recipients = [
            {"connectionId": "x1", "endpoint": first.endpoint},
            {"connectionId": "y1", "endpoint": second.endpoint},
            {"connectionId": "x2", "endpoint": first.endpoint},
            {"connectionId": "gone", "endpoint": second.endpoint},
        ]
        result = make_sender().broadcast(recipients, "hi")
        assert sorted(result.sent) == ["x1", "x2", "y1"]
        assert result.gone == ["gone"]
        assert first.received("x1") == [b"hi"] and second.received("y1") == [b"hi"]


def test_no_endpoint_anywhere_is_a_configuration_error(make_sender: MakeSender) -> None:
    with pytest.raises(ConfigurationError, match="WSGATE_ENDPOINT"):
        make_sender().broadcast(["a"], "hi")


def test_too_large_payload_raises_before_any_request(
    stub: ApiStub, make_sender: MakeSender
) -> None:
    stub.connect("a")
    with pytest.raises(PayloadTooLargeError):
        make_sender(stub.endpoint).broadcast(["a"], b"x" * (MAX_PAYLOAD_BYTES + 1))
    assert stub.state.requests == []


def test_registry_helpers(stub: ApiStub, make_sender: MakeSender) -> None:
    registry = MemoryRegistry()
    for cid, user in [("u1a", "alice"), ("u1b", "alice"), ("u2", "bob"), ("u3", "carol")]:
        registry.store(cid, user_id=user)
    registry.join("u1a", "lobby")
    registry.join("u2", "lobby")
    registry.subscribe("u3", "prices")
    registry.store("ghost", user_id="bob")  # known to the registry, gone at the API
    stub.connect("u1a", "u1b", "u2", "u3")
    sender = make_sender(stub.endpoint, registry=registry)

    assert sorted(sender.broadcast_to_users(["alice"], "a").sent) == ["u1a", "u1b"]
    by_bob = sender.broadcast_to_users(["bob", "bob"], "b")
    assert by_bob.sent == ["u2"] and by_bob.gone == ["ghost"] and by_bob.pruned == 1
    assert registry.get("ghost") is None
    assert sorted(sender.broadcast_to_room("lobby", "r", exclude=["u2"]).sent) == ["u1a"]
    assert sender.broadcast_to_topic("prices", "t").sent == ["u3"]
    assert sorted(sender.broadcast_all("all").sent) == ["u1a", "u1b", "u2", "u3"]
    assert stub.received("u1a") == [b"a", b"r", b"all"]


def test_pruning_failure_is_reported_not_raised(stub: ApiStub, make_sender: MakeSender) -> None:
    class BrokenRegistry:
        def delete_many(self, ids: list[str]) -> int:
            raise RuntimeError("table is being deleted")

    result = make_sender(stub.endpoint, registry=BrokenRegistry()).broadcast(["g1", "g2"], "x")
    assert sorted(result.gone) == ["g1", "g2"]
    assert result.pruned == 0
    assert result.prune_error is not None and "table is being deleted" in result.prune_error


def test_broken_transport_fails_each_recipient_without_raising(make_sender: MakeSender) -> None:
    class Exploding:
        async def post(self, endpoint: str, connection_id: str, data: bytes) -> None:
            raise ZeroDivisionError("bug")

        async def get(self, endpoint: str, connection_id: str) -> Any:
            raise ZeroDivisionError("bug")

        async def delete(self, endpoint: str, connection_id: str) -> None:
            raise ZeroDivisionError("bug")

    sender = make_sender("http://127.0.0.1:9/x", transport=Exploding())
    result = sender.broadcast(["a", "b"], "x")
    assert sorted(result.failed) == ["a", "b"]
    assert "ZeroDivisionError" in result.failed["a"].detail


def test_broadcast_with_boto3_transport(make_sender: MakeSender) -> None:
    fault = lambda m, cid, n: "429" if cid == "t" and n == 1 else None  # noqa: E731
    with ApiStub(fault=fault) as stub:
        stub.connect("a", "t")
        sender = make_sender(stub.endpoint, transport="boto3")
        result = sender.broadcast(["a", "t", "gone="], {"k": "v"})
        assert sorted(result.sent) == ["a", "t"] and result.gone == ["gone="]
        assert stub.received("t") == [b'{"k":"v"}']


def test_broadcast_returns_at_the_deadline(make_sender: MakeSender) -> None:
    with ApiStub(fault=lambda m, cid, n: "timeout" if cid.startswith("slow") else None) as stub:
        ids = ["fast1", *[f"slow{i}" for i in range(6)], "fast2"]
        stub.connect(*ids)
        sender = make_sender(stub.endpoint, timeout=30.0, deadline=0.5, max_concurrency=2)
        result = sender.broadcast(ids, "x")  # would take minutes without the deadline
        assert result.sent == ["fast1"]
        assert sorted(result.failed) == sorted(ids[1:])
        assert all("deadline" in e.detail for e in result.failed.values())
        assert result.duration < 20


def test_dispatch_with_a_non_lambda_context_still_sends(
    stub: ApiStub, make_sender: MakeSender
) -> None:
    from wsgate.router import WebSocketApp

    sender = make_sender(stub.endpoint)
    app = WebSocketApp()

    @app.default
    def default(event: Any) -> None:
        sender.send("c1", "from handler")

    stub.connect("c1")
    event = {
        "requestContext": {
            "routeKey": "$default",
            "eventType": "MESSAGE",
            "connectionId": "c1",
            "domainName": f"127.0.0.1:{stub.port}",
            "stage": stub.stage,
            "requestId": "r",
            "apiId": "a",
            "connectedAt": 0,
            "requestTimeEpoch": 0,
            "messageId": "m",
            "extendedRequestId": "e",
            "messageDirection": "IN",
            "identity": {"sourceIp": "127.0.0.1"},
            "requestTime": "01/Jan/2024:00:00:00 +0000",
        },
        "body": "hi",
        "isBase64Encoded": False,
    }
    assert app.dispatch(event, {"not": "a lambda context"})["statusCode"] == 200
    assert stub.received("c1") == [b"from handler"]


@pytest.mark.parametrize("max_attempts", [1, 2, 3])
def test_broadcast_attempts_per_recipient_are_bounded(
    make_sender: MakeSender, max_attempts: int
) -> None:
    # The broadcast makes the first attempt itself and hands a retryable failure to the
    # retry loop: the total must still be max_attempts, never one more or one less.
    always = lambda m, cid, n: "429" if cid.startswith("busy") else None  # noqa: E731
    with ApiStub(fault=always) as stub:
        stub.connect("ok1", "busy1", "busy2")
        sender = make_sender(
            stub.endpoint, max_attempts=max_attempts, backoff_base=0.001, backoff_cap=0.002
        )
        result = sender.broadcast(["ok1", "busy1", "busy2"], "x")
        assert result.sent == ["ok1"]
        assert sorted(result.failed) == ["busy1", "busy2"]
        assert all(e.status_code == 429 for e in result.failed.values())
        assert stub.state.attempts[("POST", "busy1")] == max_attempts
        assert stub.state.attempts[("POST", "ok1")] == 1
