"""The sender's value records: equal by value, hashable, immutable, printable."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wsgate.sender import BroadcastResult, ConnectionInfo, Credentials, RecipientResult, RetryPolicy
from wsgate.sender.endpoint import parse_endpoint


def test_frozen_records_compare_hash_and_refuse_changes() -> None:
    a, b = Credentials("AKID", "s3cr3t", "tok"), Credentials("AKID", "s3cr3t", "tok")
    assert a == b and hash(a) == hash(b) and a != Credentials("AKID", "s3cr3t")
    assert "s3cr3t" not in repr(a)  # its own repr hides the secret
    assert RetryPolicy() == RetryPolicy(5, 0.05, 2.0) != RetryPolicy(max_attempts=2)
    assert repr(RetryPolicy(3)) == "RetryPolicy(max_attempts=3, backoff_base=0.05, backoff_cap=2.0)"
    assert {RecipientResult("c", "sent"), RecipientResult("c", "sent")} == {
        RecipientResult("c", "sent", None)
    }
    ep = parse_endpoint("http://127.0.0.1:3001/local")
    assert ep == parse_endpoint("http://127.0.0.1:3001/local/")
    assert (ep.port, ep.host_header, ep.canonical_prefix) == (3001, "127.0.0.1:3001", "/local")
    for record, field in ((a, "token"), (RetryPolicy(), "max_attempts"), (ep, "port")):
        with pytest.raises(AttributeError):
            setattr(record, field, None)
        with pytest.raises(AttributeError):
            delattr(record, field)
    match RecipientResult("c", "gone"):
        case RecipientResult(cid, outcome):
            assert (cid, outcome) == ("c", "gone")


def test_connection_info_defaults_and_equality() -> None:
    now = datetime.now(UTC)
    info = ConnectionInfo("c", now, now)
    assert info.identity == {} and info.source_ip is None
    assert info == ConnectionInfo("c", now, now, {})
    assert info != ConnectionInfo("c", now, now, {"sourceIp": "198.51.100.1"})


def test_broadcast_result_is_mutable_and_compares_by_value() -> None:
    result = BroadcastResult(failed={})
    result.sent.append("a")
    result.duration = 1.5
    assert result == BroadcastResult(sent=["a"], duration=1.5)
    assert BroadcastResult().sent is not BroadcastResult().sent  # no shared default list
    with pytest.raises(TypeError):
        hash(result)
    assert "sent=1" in repr(result)
