"""The ``@connections`` Management API: PostToConnection, GetConnection, DeleteConnection.

Wire format per reference §6: errors carry ``x-amzn-ErrorType`` (so boto3 raises
``GoneException``, ``PayloadTooLargeException``, ``LimitExceededException``,
``ForbiddenException``) and ``x-amzn-RequestId``; a 410 has an empty body.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING

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
        self.calls += 1
        faults = self.emulator.config.faults
        if faults.latency_ms > 0:
            return self._delayed(request, raw_id, faults.latency_ms / 1000)
        return self._answer(request, raw_id)

    async def _delayed(self, request: HttpRequest, raw_id: str, delay: float) -> bytes:
        await asyncio.sleep(delay)
        return self._answer(request, raw_id)

    def _answer(self, request: HttpRequest, raw_id: str) -> bytes:
        keep = request.keep_alive
        faults = self.emulator.config.faults
        if faults.roll(faults.throttle):
            return aws_error(429, "LimitExceededException", keep_alive=keep)
        if faults.roll(faults.server_error):
            return aws_error(500, "InternalServerErrorException", keep_alive=keep)
        connection_id = decode_path_segment(raw_id)
        method = request.method
        if method == "POST":
            if len(request.body) > MAX_POST_BYTES:
                return aws_error(413, "PayloadTooLargeException", keep_alive=keep)
            session = self._live(connection_id)
            if session is None:
                return aws_error(410, "GoneException", keep_alive=keep)
            self.emulator.routing._send(session, request.body)
            return self._ok(200, b"", keep)
        if method == "GET":
            session = self._live(connection_id)
            if session is None:
                return aws_error(410, "GoneException", keep_alive=keep)
            identity = {"sourceIp": session.source_ip}
            if session.user_agent is not None:
                identity["userAgent"] = session.user_agent
            body = {
                "connectedAt": iso8601(session.connected_at),
                "identity": identity,
                "lastActiveAt": iso8601(session.last_active_at),
            }
            return self._ok(200, json.dumps(body).encode(), keep)
        if method == "DELETE":
            session = self._live(connection_id)
            if session is None:
                return aws_error(410, "GoneException", keep_alive=keep)
            session.close(1000, "Connection Closed Normally")
            return self._ok(204, b"", keep)
        return aws_error(403, "ForbiddenException", keep_alive=keep)

    def _live(self, connection_id: str) -> Session | None:
        session = self.emulator.connections.get(connection_id)
        if session is None or not session.is_open or session.closed:
            return None
        if session.protocol.state.name != "OPEN":
            return None  # closing: every call is already 410, as after close on AWS
        return session

    @staticmethod
    def _ok(status: int, body: bytes, keep_alive: bool) -> bytes:
        headers = [("x-amzn-RequestId", str(uuid.uuid4()))]
        return response(
            status, body, headers, keep_alive=keep_alive, content_type="application/json"
        )
