"""The ``@connections`` Management API: PostToConnection, GetConnection, DeleteConnection.

Wire format per docs/aws-behaviour.md §6: errors carry ``x-amzn-ErrorType`` (so boto3 raises
``GoneException``, ``PayloadTooLargeException``, ``LimitExceededException``,
``ForbiddenException``) and ``x-amzn-RequestId``; a 410 has an empty body.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from wsgate.local.config import MAX_POST_BYTES
from wsgate.local.http import HttpRequest, aws_error, decode_path_segment, response

if TYPE_CHECKING:
    from wsgate.local.server import Emulator
    from wsgate.local.session import Session

__all__ = ["Management", "iso8601"]


def iso8601(epoch: float) -> str:
    """``2024-01-01T12:00:00.123Z``: the Management API's timestamp format."""
    whole = time.gmtime(epoch)
    millis = int((epoch - int(epoch)) * 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", whole) + f".{millis:03d}Z"


class Management:
    """Answers management requests for one :class:`Emulator`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.calls = 0

    def handle(self, request: HttpRequest, raw_id: str) -> bytes | Awaitable[bytes]:
        """Answer ``{METHOD} /{stage}/@connections/{raw_id}``; faults may delay or fail it."""
        delay = self.emulator.config.faults.latency_ms / 1000
        if delay > 0:
            return self._delayed(request, raw_id, delay)
        return self._wire(request, raw_id)

    async def _delayed(self, request: HttpRequest, raw_id: str, delay: float) -> bytes:
        await asyncio.sleep(delay)
        return self._wire(request, raw_id)

    def _wire(self, request: HttpRequest, raw_id: str) -> bytes:
        keep = request.keep_alive
        status, error_type, body = self.operate(
            request.method, decode_path_segment(raw_id), request.body
        )
        if error_type is not None:
            return aws_error(status, error_type, keep_alive=keep)
        headers = [("x-amzn-RequestId", str(uuid.uuid4()))]
        return response(status, body, headers, keep_alive=keep, content_type="application/json")

    def operate(
        self, method: str, connection_id: str, data: bytes
    ) -> tuple[int, str | None, bytes]:
        """Run one management call (after any latency fault); the HTTP layer and the in-process
        sender transport both call this, so they behave the same.

        Returns:
            ``(status, x-amzn-ErrorType or None, body)``.
        """
        self.calls += 1
        faults = self.emulator.config.faults
        if faults.roll(faults.throttle):
            return 429, "LimitExceededException", b""
        if faults.roll(faults.server_error):
            return 500, "InternalServerErrorException", b""
        if method == "POST":
            if len(data) > MAX_POST_BYTES:
                return 413, "PayloadTooLargeException", b""
            session = self._live(connection_id)
            if session is None:
                return 410, "GoneException", b""
            self.emulator.routing._send(session, data)
            return 200, None, b""
        if method == "GET":
            session = self._live(connection_id)
            if session is None:
                return 410, "GoneException", b""
            return 200, None, json.dumps(self.describe(session)).encode()
        if method == "DELETE":
            session = self._live(connection_id)
            if session is None:
                return 410, "GoneException", b""
            session.close(1000, "Connection Closed Normally")
            return 204, None, b""
        return 403, "ForbiddenException", b""

    @staticmethod
    def describe(session: Session) -> dict[str, Any]:
        """GetConnection's answer for a live connection."""
        identity = {"sourceIp": session.source_ip}
        if session.user_agent is not None:
            identity["userAgent"] = session.user_agent
        return {
            "connectedAt": iso8601(session.connected_at),
            "identity": identity,
            "lastActiveAt": iso8601(session.last_active_at),
        }

    def _live(self, connection_id: str) -> Session | None:
        session = self.emulator.connections.get(connection_id)
        if session is None or not session.is_open or session.closed:
            return None
        if session.protocol.state.name != "OPEN":
            return None  # closing: every call is already 410, as after close on AWS
        return session
