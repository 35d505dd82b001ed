"""Former home of the sender's credentials, now :mod:`wsgate.aws.credentials` (shared with
DynamoDB). Kept so that ``from wsgate.sender.credentials import ...`` keeps working."""

from __future__ import annotations

from wsgate.aws.credentials import Credentials, DefaultCredentials, StaticCredentials

__all__ = ["Credentials", "DefaultCredentials", "StaticCredentials"]


def __getattr__(name: str) -> object:
    if name == "CredentialsProvider":  # the protocol needs typing: loaded on first use
        from wsgate.aws.protocols import CredentialsProvider

        return CredentialsProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
