"""Former home of the selectors HTTP/1.1 client, now :mod:`wsgate.aws.http` (shared with the
DynamoDB client). Kept so that old imports keep working."""

from __future__ import annotations

from wsgate.aws.http import Batch, ConnectionClosed, ConnectionPool

__all__ = ["Batch", "ConnectionClosed", "ConnectionPool"]
