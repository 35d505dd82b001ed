"""Former home of the sender's retries: the policy is :mod:`wsgate.aws.retry`'s (shared with
DynamoDB), the async retry loops live in :mod:`wsgate.sender.async_engine`. Kept so that
``from wsgate.sender.retry import RetryPolicy`` keeps working."""

from __future__ import annotations

from wsgate.aws.retry import RetryPolicy
from wsgate.sender.async_engine import delete, get, post
from wsgate.sender.transport import RETRYABLE

__all__ = ["RETRYABLE", "RetryPolicy", "delete", "get", "post"]
