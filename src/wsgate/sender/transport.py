"""The transport protocol: one Management API call for one connection, and its result types.

A transport makes exactly **one attempt** per call and reports the outcome with the
:class:`~wsgate.exceptions.SendError` subclasses; retries, deadlines, payload checks and
pruning live above it (in :mod:`wsgate.sender.async_engine` and :mod:`wsgate.sender.sender`), so
every transport behaves the same. That keeps a transport small: a recording in-process
transport for tests implements three ``async`` methods and raises
:class:`~wsgate.exceptions.ConnectionGoneError` for an unknown id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from wsgate.aws.record import Record
from wsgate.exceptions import (
    ConnectionGoneError,
    ForbiddenError,
    PayloadTooLargeError,
    SendError,
    ServerError,
    ThrottledError,
    TransportError,
)

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    from wsgate.sender.protocols import Transport

__all__ = [
    "MAX_PAYLOAD_BYTES",
    "RETRYABLE",
    "ConnectionInfo",
    "Transport",
    "error_for_status",
]

#: PostToConnection's ``Data`` limit (botocore model ``"max": 131072``). botocore does not
#: enforce it; wsgate refuses bigger payloads before any request.
MAX_PAYLOAD_BYTES = 131_072

#: The Management API failures worth another attempt: 429, 5xx and network failures.
RETRYABLE = (ThrottledError, ServerError, TransportError)


def _parse_time(value: Any) -> datetime:
    """Parses GetConnection timestamps: ISO-8601 (AWS) or epoch seconds (moto)."""
    from datetime import UTC, datetime  # only GetConnection needs it: not on the import path

    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")


class ConnectionInfo(Record):
    """What GetConnection says about a live connection.

    Attributes:
        connection_id: The connection asked about.
        connected_at: When the connection was established (timezone-aware, UTC).
        last_active_at: When it last carried a message (timezone-aware, UTC).
        identity: ``sourceIp`` and ``userAgent`` (and anything else AWS adds).
    """

    __slots__ = ("connected_at", "connection_id", "identity", "last_active_at")
    __match_args__ = ("connection_id", "connected_at", "last_active_at", "identity")

    connection_id: str
    connected_at: datetime
    last_active_at: datetime
    identity: Mapping[str, Any]

    def __init__(
        self,
        connection_id: str,
        connected_at: datetime,
        last_active_at: datetime,
        identity: Mapping[str, Any] | None = None,
    ) -> None:
        object.__setattr__(self, "connection_id", connection_id)
        object.__setattr__(self, "connected_at", connected_at)
        object.__setattr__(self, "last_active_at", last_active_at)
        object.__setattr__(self, "identity", {} if identity is None else identity)

    @property
    def source_ip(self) -> str | None:
        """The client's IP address, as API Gateway saw it."""
        value = self.identity.get("sourceIp")
        return value if isinstance(value, str) else None

    @property
    def user_agent(self) -> str | None:
        """The client's ``User-Agent`` header at connect time."""
        value = self.identity.get("userAgent")
        return value if isinstance(value, str) else None

    @classmethod
    def from_response(cls, connection_id: str, body: Mapping[str, Any]) -> ConnectionInfo:
        """Builds the result from a parsed GetConnection body.

        Raises:
            SendError: The body lacks the timestamps or holds values that are not times.
        """
        try:
            connected = _parse_time(body["connectedAt"])
            last = _parse_time(body.get("lastActiveAt", body["connectedAt"]))
        except (KeyError, ValueError, TypeError, OverflowError) as exc:
            raise SendError(connection_id, 200, f"unreadable GetConnection answer: {exc}") from exc
        identity = body.get("identity")
        return cls(
            connection_id,
            connected,
            last,
            dict(identity) if isinstance(identity, Mapping) else {},
        )

    @classmethod
    def from_json(cls, connection_id: str, raw: bytes) -> ConnectionInfo:
        """Builds the result from GetConnection's raw JSON body.

        Raises:
            SendError: The body is not a JSON object with the expected fields.
        """
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise SendError(connection_id, 200, "GetConnection answer is not JSON") from exc
        if not isinstance(body, dict):
            raise SendError(connection_id, 200, "GetConnection answer is not a JSON object")
        return cls.from_response(connection_id, body)


_BY_CODE: dict[str, type[SendError]] = {
    "GoneException": ConnectionGoneError,
    "ForbiddenException": ForbiddenError,
    "AccessDeniedException": ForbiddenError,
    "PayloadTooLargeException": PayloadTooLargeError,
    "LimitExceededException": ThrottledError,
    "TooManyRequestsException": ThrottledError,
    "ThrottlingException": ThrottledError,
}

_BY_STATUS: dict[int, type[SendError]] = {
    410: ConnectionGoneError,
    403: ForbiddenError,
    413: PayloadTooLargeError,
    429: ThrottledError,
}


def error_for_status(
    connection_id: str, status: int, error_type: str | None = None, message: str = ""
) -> SendError:
    """Maps a failed Management API answer to the matching :class:`SendError` subclass.

    The status decides first (AWS sends 410 with an empty body); ``error_type`` (the
    ``x-amzn-ErrorType`` header or a boto3 error code) covers answers whose status is
    generic. Anything else 5xx is a :class:`ServerError`; other 4xx a plain ``SendError``.
    """
    if error_type:
        # botocore strips a ':...' suffix and a '#' prefix; do the same.
        error_type = error_type.split(":", 1)[0].rsplit("#", 1)[-1]
    detail = error_type or ""
    if message:
        detail = f"{detail}: {message}" if detail else message
    cls = _BY_STATUS.get(status)
    if cls is None and error_type:
        cls = _BY_CODE.get(error_type)
    if cls is None:
        cls = ServerError if status >= 500 else SendError
    return cls(connection_id, status, detail)


def __getattr__(name: str) -> object:
    # The protocol lives in wsgate.sender.protocols (it needs typing; the send path does not).
    if name == "Transport":
        from wsgate.sender.protocols import Transport

        return Transport
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
