"""An in-process sender transport: handlers' ``wsgate`` sends reach the emulator without HTTP.

Handlers run inside the emulator's process, so a ``ws_send_message`` from a handler does not need
to cross a socket to reach the connection. This transport runs the very same management
operation the ``@connections`` HTTP endpoint runs (:meth:`Management.operate`: payload limit,
410 for unknown/closing/connecting connections, the throttle/500/latency faults) on the
emulator's event loop and maps its answer to the same :mod:`wsgate.exceptions` a real answer
gives. Calls for any other endpoint go to the regular HTTP transport. boto3 calls from handlers
are untouched and always take the HTTP path.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING

from wsgate.sender.protocols import Transport
from wsgate.sender.transport import ConnectionInfo, error_for_status

if TYPE_CHECKING:
    from wsgate.local.server import Emulator

__all__ = ["LocalTransport"]

_Result = tuple[int, str | None, bytes]
_Answer = tuple["asyncio.Future[_Result]", _Result | None, Exception | None]


def _resolve(items: list[_Answer]) -> None:
    for future, result, error in items:
        if future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            assert result is not None
            future.set_result(result)


class LocalTransport:
    """A :class:`~wsgate.sender.transport.Transport` bound to one running :class:`Emulator`.

    Args:
        emulator: The emulator (started: its loop is the one running ``start``).
        loop: That emulator's event loop.
        fallback: Transport for other endpoints (the shared stdlib HTTP transport by default).
    """

    def __init__(
        self,
        emulator: Emulator,
        loop: asyncio.AbstractEventLoop,
        fallback: Transport | None = None,
    ) -> None:
        self.emulator = emulator
        self.loop = loop
        self._fallback = fallback
        self._lock = threading.Lock()
        self._queue: list[
            tuple[str, str, bytes, asyncio.Future[tuple[int, str | None, bytes]]]
        ] = []

    async def _queued(
        self, method: str, connection_id: str, data: bytes
    ) -> tuple[int, str | None, bytes]:
        # Calls are queued and run in batches on the emulator's loop, and answered in batches
        # on the caller's loop: a broadcast then costs a few thread hand-offs, not two per
        # message (each hand-off may wait for the GIL).
        future: asyncio.Future[tuple[int, str | None, bytes]]
        future = asyncio.get_running_loop().create_future()
        with self._lock:
            self._queue.append((method, connection_id, data, future))
            first = len(self._queue) == 1
        if first:
            self.loop.call_soon_threadsafe(self._drain)
        return await future

    def _drain(self) -> None:
        with self._lock:
            batch, self._queue = self._queue, []
        answers: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
        operate = self.emulator.management.operate
        for method, connection_id, data, future in batch:
            try:
                answer: _Answer = (future, operate(method, connection_id, data), None)
            except Exception as exc:  # handed to the waiting caller, never lost
                answer = (future, None, exc)
            answers.setdefault(future.get_loop(), []).append(answer)
        for loop, items in answers.items():
            loop.call_soon_threadsafe(_resolve, items)

    def _mine(self, endpoint: str) -> bool:
        return endpoint.rstrip("/") == self.emulator.endpoint

    def _other(self) -> Transport:
        if self._fallback is None:
            from wsgate.sender.sender import _shared_transport

            self._fallback = _shared_transport()
        return self._fallback

    async def _call(self, method: str, connection_id: str, data: bytes) -> tuple[int, bytes]:
        management = self.emulator.management

        async def run() -> tuple[int, str | None, bytes]:
            delay = self.emulator.config.faults.latency_ms / 1000
            if delay > 0:
                await asyncio.sleep(delay)
            return management.operate(method, connection_id, data)

        if asyncio.get_running_loop() is self.loop:
            status, error_type, body = await run()
        elif self.emulator.config.faults.latency_ms > 0:
            future = asyncio.run_coroutine_threadsafe(run(), self.loop)
            status, error_type, body = await asyncio.wrap_future(future)
        else:
            status, error_type, body = await self._queued(method, connection_id, data)
        if error_type is not None:
            raise error_for_status(connection_id, status, error_type)
        return status, body

    async def post(self, endpoint: str, connection_id: str, data: bytes) -> None:
        """PostToConnection through the emulator's management logic."""
        if not self._mine(endpoint):
            return await self._other().post(endpoint, connection_id, data)
        await self._call("POST", connection_id, bytes(data))
        return None

    async def get(self, endpoint: str, connection_id: str) -> ConnectionInfo:
        """GetConnection through the emulator's management logic."""
        if not self._mine(endpoint):
            return await self._other().get(endpoint, connection_id)
        _, body = await self._call("GET", connection_id, b"")
        return ConnectionInfo.from_json(connection_id, body)

    async def delete(self, endpoint: str, connection_id: str) -> None:
        """DeleteConnection through the emulator's management logic."""
        if not self._mine(endpoint):
            return await self._other().delete(endpoint, connection_id)
        await self._call("DELETE", connection_id, b"")
        return None
