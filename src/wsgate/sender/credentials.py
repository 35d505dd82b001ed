"""Former home of the sender's credentials, now :mod:`wsgate.aws.credentials` (shared with
DynamoDB). Kept so that ``from wsgate.sender.credentials import ...`` keeps working."""

from __future__ import annotations

from wsgate.aws.credentials import Credentials, DefaultCredentials, StaticCredentials

__all__ = ["Credentials", "DefaultCredentials", "StaticCredentials"]
