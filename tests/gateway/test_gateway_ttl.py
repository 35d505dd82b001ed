"""How ws_store_connection reads ``ttl`` (see docs/gateway.md)."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import pytest

from wsgate import config
from wsgate._gateway.records import expiry_from_ttl
from wsgate.exceptions import InvalidRecordError
from wsgate.gateway import ws_store_connection

NOW = 1_764_000_000.25  # 2025-11-24, a fixed "now" for the pure cases


def test_none_is_now_plus_two_hours() -> None:
    assert expiry_from_ttl(None, NOW) == int(NOW) + 7200


def test_none_follows_the_configured_default() -> None:
    config.configure(ttl=600)
    assert expiry_from_ttl(None, NOW) == int(NOW) + 600


@pytest.mark.parametrize("ttl", [7200, 60, 1, 7200.5, 999_999_999])
def test_small_values_are_durations(ttl: float) -> None:
    assert expiry_from_ttl(ttl, NOW) == math.ceil(NOW + ttl)


def test_seed_style_absolute_epoch_seconds() -> None:
    assert expiry_from_ttl(int(NOW) + 7200, NOW) == int(NOW) + 7200
    assert expiry_from_ttl(1_000_000_000, NOW) == 1_000_000_000  # the threshold: absolute


def test_epoch_milliseconds_are_converted() -> None:
    # e.g. requestContext.connectedAt (ms) + 7,200,000: DynamoDB TTL would never expire it.
    connected_ms = int(NOW * 1000)
    assert expiry_from_ttl(connected_ms + 7_200_000, NOW) == int(NOW) + 7200


def test_timedelta_and_aware_datetime() -> None:
    assert expiry_from_ttl(timedelta(hours=1), NOW) == math.ceil(NOW + 3600)
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    assert expiry_from_ttl(moment, NOW) == int(moment.timestamp())


@pytest.mark.parametrize(
    "ttl",
    [-1, float("nan"), float("inf"), "7200", True, timedelta(seconds=-5), datetime(2030, 1, 1)],
)
def test_bad_values_are_refused(ttl: object) -> None:
    with pytest.raises(InvalidRecordError) as caught:
        expiry_from_ttl(ttl, NOW)
    assert caught.value.field == "ttl"


def test_bad_ttl_stores_nothing() -> None:
    config.configure(registry="memory://")
    with pytest.raises(InvalidRecordError):
        ws_store_connection("BadTtlBadTtlBad=", ttl=-10)
    assert config.get_registry().get("BadTtlBadTtlBad=") is None


def test_duration_through_the_function() -> None:
    config.configure(registry="memory://")
    before = int(time.time())
    record = ws_store_connection("DurationDuratio=", ttl=300)
    assert before + 300 <= record["expiresAt"] <= math.ceil(time.time()) + 300
