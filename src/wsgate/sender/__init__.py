"""Sending to WebSocket connections: the Management API (``@connections``), done right.

:class:`Sender` is the synchronous entry point: ``send``/``send_text``/``send_json``/
``send_bytes``, ``close`` (DeleteConnection), ``info`` (GetConnection), ``is_alive`` and
``broadcast`` (plus ``broadcast_all``/``_to_users``/``_to_room``/``_to_topic`` over a
registry). The default transport is stdlib-only (selectors + a cached-key SigV4 signer, in
the calling thread); ``transport="boto3"`` selects boto3. Importing this package imports
neither asyncio nor typing, and never boto3 or botocore.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from typing import Any

    from wsgate.aws.credentials import Credentials, DefaultCredentials, StaticCredentials
    from wsgate.aws.retry import RetryPolicy
    from wsgate.sender.boto3 import Boto3Transport, get_management_client
    from wsgate.sender.broadcast import BroadcastResult, RecipientResult
    from wsgate.sender.endpoint import CustomDomainWarning, resolve_endpoint
    from wsgate.sender.http_transport import HttpTransport
    from wsgate.sender.protocols import CredentialsProvider, Transport
    from wsgate.sender.sender import Sender, encode_payload
    from wsgate.sender.transport import MAX_PAYLOAD_BYTES, ConnectionInfo

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


# Every name is imported on first use: a cold ``$connect`` that only reads the event's
# endpoint (``wsgate.sender.endpoint``) loads neither the sender nor its transports; boto3 is
# imported only when its transport or client is asked for, typing only when a protocol is.
_MODULES = {
    "Credentials": "wsgate.aws.credentials",
    "DefaultCredentials": "wsgate.aws.credentials",
    "StaticCredentials": "wsgate.aws.credentials",
    "RetryPolicy": "wsgate.aws.retry",
    "BroadcastResult": "wsgate.sender.broadcast",
    "RecipientResult": "wsgate.sender.broadcast",
    "CustomDomainWarning": "wsgate.sender.endpoint",
    "resolve_endpoint": "wsgate.sender.endpoint",
    "HttpTransport": "wsgate.sender.http_transport",
    "Sender": "wsgate.sender.sender",
    "encode_payload": "wsgate.sender.sender",
    "MAX_PAYLOAD_BYTES": "wsgate.sender.transport",
    "ConnectionInfo": "wsgate.sender.transport",
    "Boto3Transport": "wsgate.sender.boto3",
    "get_management_client": "wsgate.sender.boto3",
    "CredentialsProvider": "wsgate.sender.protocols",
    "Transport": "wsgate.sender.protocols",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
