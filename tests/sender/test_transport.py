"""Error mapping and GetConnection parsing shared by every transport."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wsgate.exceptions import (
    ConnectionGoneError,
    ForbiddenError,
    PayloadTooLargeError,
    SendError,
    ServerError,
    ThrottledError,
)
from wsgate.sender import ConnectionInfo, RetryPolicy
from wsgate.sender.transport import error_for_status


@pytest.mark.parametrize(
    ("status", "error_type", "expected"),
    [
        (410, None, ConnectionGoneError),
        (410, "GoneException", ConnectionGoneError),
        (403, "ForbiddenException", ForbiddenError),
        (403, "AccessDeniedException", ForbiddenError),
        (413, "PayloadTooLargeException", PayloadTooLargeError),
        (429, None, ThrottledError),
        (400, "LimitExceededException:http://internal", ThrottledError),
        (400, "aws.protocol#GoneException", ConnectionGoneError),
        (500, None, ServerError),
        (504, "GatewayTimeout", ServerError),
        (400, "BadRequestException", SendError),
    ],
)
def test_error_for_status(status: int, error_type: str | None, expected: type[SendError]) -> None:
    error = error_for_status("c1=", status, error_type, "why")
    assert type(error) is expected
    assert error.status_code == status
    assert error.connection_id == "c1="
    assert "why" in str(error) and "c1=" in str(error)


def test_get_connection_times_iso_and_epoch() -> None:
    iso = ConnectionInfo.from_json(
        "c",
        b'{"connectedAt":"2024-01-01T12:00:00.123Z","lastActiveAt":"2024-01-01T12:05:00Z",'
        b'"identity":{"sourceIp":"198.51.100.7","userAgent":"ua"}}',
    )
    assert iso.connected_at == datetime(2024, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert iso.last_active_at == datetime(2024, 1, 1, 12, 5, tzinfo=UTC)
    assert (iso.source_ip, iso.user_agent) == ("198.51.100.7", "ua")
    epoch = ConnectionInfo.from_json(
        "c", b'{"connectedAt":1700000000.5,"lastActiveAt":"1700000001"}'
    )
    assert epoch.connected_at == datetime.fromtimestamp(1700000000.5, UTC)
    assert epoch.last_active_at == datetime.fromtimestamp(1700000001, UTC)
    assert epoch.source_ip is None


@pytest.mark.parametrize("raw", [b"not json", b"[]", b"{}", b'{"connectedAt":"yesterday"}'])
def test_unreadable_get_connection_is_a_send_error(raw: bytes) -> None:
    with pytest.raises(SendError, match="GetConnection"):
        ConnectionInfo.from_json("c", raw)


def test_retry_policy_full_jitter_is_bounded() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_base=0.1, backoff_cap=0.3)
    delays = [policy.delay(n) for n in range(1, 6) for _ in range(200)]
    assert all(0 <= d <= 0.3 for d in delays)
    assert max(policy.delay(1) for _ in range(200)) <= 0.1
    assert len({round(d, 6) for d in delays}) > 100  # jittered, not fixed
    assert not policy.may_retry(5, 0.0, None)
    assert policy.may_retry(4, 0.0, None)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
