"""Retry policy for Management API calls: exponential backoff with full jitter.

Retried: 429 (``ThrottledError``), 5xx (``ServerError``) and network failures or timeouts
(``TransportError``). Never retried: 410, 403, 413 and other 4xx answers. A retry happens
only while attempts remain *and* the backoff sleep ends before the deadline (the Lambda
context's remaining time, less a margin), so a send never outlives its invocation.

A timed-out PostToConnection may have been delivered; retrying it makes delivery
at-least-once, which is what every AWS SDK does too.
"""

from __future__ import annotations

import time

from wsgate.exceptions import ServerError, ThrottledError, TransportError
from wsgate.sender.record import Record

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import TypeVar

    from wsgate.sender.protocols import Transport
    from wsgate.sender.transport import ConnectionInfo

    _T = TypeVar("_T")

__all__ = ["RETRYABLE", "RetryPolicy", "delete", "get", "post"]

#: The errors worth another attempt.
RETRYABLE = (ThrottledError, ServerError, TransportError)


class RetryPolicy(Record):
    """How often and how patiently to retry.

    Attributes:
        max_attempts: Attempts in total, the first included (botocore's default is 5).
        backoff_base: Seconds; attempt ``n`` (from 1) waits up to ``base * 2**(n-1)``.
        backoff_cap: Upper bound of one wait, in seconds.
    """

    __slots__ = ("backoff_base", "backoff_cap", "max_attempts")
    __match_args__ = ("max_attempts", "backoff_base", "backoff_cap")

    max_attempts: int
    backoff_base: float
    backoff_cap: float

    def __init__(
        self, max_attempts: int = 5, backoff_base: float = 0.05, backoff_cap: float = 2.0
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if backoff_base < 0 or backoff_cap < 0:
            raise ValueError("backoff times must not be negative")
        object.__setattr__(self, "max_attempts", max_attempts)
        object.__setattr__(self, "backoff_base", backoff_base)
        object.__setattr__(self, "backoff_cap", backoff_cap)

    def delay(self, attempt: int) -> float:
        """The sleep after failed attempt number ``attempt`` (full jitter)."""
        import random  # only after a failure: not on the import path (a no-op once loaded)

        return random.uniform(0.0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    def may_retry(self, attempt: int, delay: float, deadline: float | None) -> bool:
        """Whether to try again after ``attempt`` failed, sleeping ``delay`` first."""
        if attempt >= self.max_attempts:
            return False
        return deadline is None or time.monotonic() + delay < deadline


async def post(
    transport: Transport,
    endpoint: str,
    connection_id: str,
    data: bytes,
    policy: RetryPolicy,
    deadline: float | None,
    failed: Exception | None = None,
) -> None:
    """PostToConnection with retries; raises the last error when the budget runs out.

    ``failed`` is the retryable error of a first attempt the caller made itself (the
    broadcast does, to keep this frame off the path of the sends that succeed at once).
    """
    import asyncio  # loaded already by whoever runs this coroutine

    attempt = 1
    if failed is not None:
        delay = policy.delay(attempt)
        if not policy.may_retry(attempt, delay, deadline):
            raise failed
        await asyncio.sleep(delay)
        attempt += 1
    while True:
        try:
            return await transport.post(endpoint, connection_id, data)
        except RETRYABLE:
            delay = policy.delay(attempt)
            if not policy.may_retry(attempt, delay, deadline):
                raise
        await asyncio.sleep(delay)
        attempt += 1


async def get(
    transport: Transport,
    endpoint: str,
    connection_id: str,
    policy: RetryPolicy,
    deadline: float | None,
) -> ConnectionInfo:
    """GetConnection with retries."""
    return await _retrying(lambda: transport.get(endpoint, connection_id), policy, deadline)


async def delete(
    transport: Transport,
    endpoint: str,
    connection_id: str,
    policy: RetryPolicy,
    deadline: float | None,
) -> None:
    """DeleteConnection with retries."""
    await _retrying(lambda: transport.delete(endpoint, connection_id), policy, deadline)


async def _retrying(
    call: Callable[[], Awaitable[_T]], policy: RetryPolicy, deadline: float | None
) -> _T:
    """Run ``call`` until it succeeds or the policy gives up (the rare operations: ``post``
    keeps its own loop inline, since it is the broadcast's hot path)."""
    import asyncio  # loaded already by whoever runs this coroutine

    attempt = 1
    while True:
        try:
            return await call()
        except RETRYABLE:
            delay = policy.delay(attempt)
            if not policy.may_retry(attempt, delay, deadline):
                raise
        await asyncio.sleep(delay)
        attempt += 1
