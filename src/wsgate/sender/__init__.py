"""Sending to WebSocket connections: the Management API (``@connections``), done right.

:class:`Sender` is the synchronous entry point: ``send``/``send_text``/``send_json``/
``send_bytes``, ``close`` (DeleteConnection), ``info`` (GetConnection), ``is_alive`` and
``broadcast`` (plus ``broadcast_all``/``_to_users``/``_to_room``/``_to_topic`` over a
registry). The default transport is stdlib-only (selectors + a cached-key SigV4 signer, in
the calling thread); ``transport="boto3"`` selects boto3. Importing this package imports
neither asyncio nor typing, and never boto3 or botocore.
"""

from __future__ import annotations

from wsgate.aws.credentials import Credentials, DefaultCredentials, StaticCredentials
from wsgate.aws.retry import RetryPolicy
from wsgate.sender.broadcast import BroadcastResult, RecipientResult
from wsgate.sender.endpoint import CustomDomainWarning, resolve_endpoint
from wsgate.sender.http_transport import HttpTransport
from wsgate.sender.sender import Sender, encode_payload
from wsgate.sender.transport import MAX_PAYLOAD_BYTES, ConnectionInfo

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from typing import Any

    from wsgate.sender.boto3 import Boto3Transport, get_management_client
    from wsgate.sender.protocols import CredentialsProvider, Transport

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "Boto3Transport",
    "BroadcastResult",
    "ConnectionInfo",
    "Credentials",
    "CredentialsProvider",
    "CustomDomainWarning",
    "DefaultCredentials",
    "HttpTransport",
    "RecipientResult",
    "RetryPolicy",
    "Sender",
    "StaticCredentials",
    "Transport",
    "encode_payload",
    "get_management_client",
    "resolve_endpoint",
]


def __getattr__(name: str) -> Any:
    # boto3 is imported only when its transport or client is asked for, typing only when
    # one of the protocols is.
    if name in ("Boto3Transport", "get_management_client"):
        from wsgate.sender import boto3 as _boto3

        return getattr(_boto3, name)
    if name in ("CredentialsProvider", "Transport"):
        from wsgate.sender import protocols

        return getattr(protocols, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
