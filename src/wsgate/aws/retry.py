"""The retry policy of every AWS call wsgate makes: exponential backoff with full jitter.

One policy for the Management API and DynamoDB: after failed attempt *n* wait
``uniform(0, min(cap, base * 2**(n-1)))`` (botocore's standard mode and the AWS
Architecture Blog's "Exponential Backoff And Jitter"), and retry only while attempts remain
*and* the wait ends before the deadline (the Lambda context's remaining time, less a
margin), so a call never outlives its invocation. What is worth retrying is the caller's
business: the sender retries 429, 5xx and network failures
(:data:`wsgate.sender.transport.RETRYABLE`), the DynamoDB client throttling, 5xx and
network failures.

A timed-out request may have been processed; retrying it makes delivery at-least-once,
which is what every AWS SDK does too.
"""

from __future__ import annotations

import time

from wsgate.aws.record import Record

__all__ = ["RetryPolicy", "context_deadline"]


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

    def backoff(self, attempt: int, deadline: float | None) -> float | None:
        """The wait before the next attempt after failed attempt ``attempt``, or ``None``
        when the policy gives up (no attempts left, or the wait would pass ``deadline``)."""
        if attempt >= self.max_attempts:
            return None
        delay = self.delay(attempt)
        return delay if self.may_retry(attempt, delay, deadline) else None


def context_deadline(margin: float = 0.5) -> float | None:
    """The running Lambda invocation's deadline as a ``time.monotonic()`` time, or ``None``.

    Its ``get_remaining_time_in_millis()`` less ``margin`` seconds; ``None`` when no handler
    is running or the context is not Lambda's (a script, a test).
    """
    try:
        from wsgate.context import current_context
    except ImportError:  # pragma: no cover - wsgate.context is part of the package
        return None
    remaining = getattr(current_context(), "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    return time.monotonic() + max(0.0, float(remaining()) / 1000.0 - margin)
