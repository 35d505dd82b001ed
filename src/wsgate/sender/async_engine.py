"""The engine for ``async`` transports: retries and fan-out on the sender's event loop.

:class:`~wsgate.sender.http_transport.HttpTransport` declares itself ``synchronous`` and
runs calls and broadcasts in the caller's thread. Every other transport (``"boto3"``, the
test client's recording transport, the emulator's in-process transport, your own) speaks the
``async`` :class:`~wsgate.sender.protocols.Transport` protocol; :class:`AsyncEngine` gives it
the same synchronous face (``call``, ``get_info``, ``post_many``) by running these
coroutines on the loop of :mod:`wsgate.sender.loop`. The retry decisions are the shared
:class:`~wsgate.aws.retry.RetryPolicy`'s; what is retryable is
:data:`~wsgate.sender.transport.RETRYABLE`, as on the synchronous path.
"""

from __future__ import annotations

import time

from wsgate.exceptions import ConnectionGoneError, SendError, TransportError
from wsgate.sender.transport import RETRYABLE

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Any, ClassVar, TypeVar

    from wsgate.aws.retry import RetryPolicy
    from wsgate.sender.broadcast import BroadcastResult
    from wsgate.sender.protocols import Transport
    from wsgate.sender.transport import ConnectionInfo

    _T = TypeVar("_T")

__all__ = ["AsyncEngine", "delete", "fan_out", "get", "post"]


async def _retrying(
    call: Callable[[], Awaitable[_T]],
    policy: RetryPolicy,
    deadline: float | None,
    failed: Exception | None = None,
) -> _T:
    """Runs ``call`` until it succeeds or the policy gives up; raises the last error.

    ``failed`` is the retryable error of a first attempt the caller made itself (the
    broadcast does, to keep this frame off the path of the sends that succeed at once).
    """
    import asyncio  # loaded already by whoever runs this coroutine

    attempt = 1
    error = failed
    while True:
        if error is None:
            try:
                return await call()
            except RETRYABLE as exc:
                error = exc
        delay = policy.backoff(attempt, deadline)
        if delay is None:
            raise error
        await asyncio.sleep(delay)
        attempt += 1
        error = None


async def post(
    transport: Transport,
    endpoint: str,
    connection_id: str,
    data: bytes,
    policy: RetryPolicy,
    deadline: float | None,
    failed: Exception | None = None,
) -> None:
    """PostToConnection with retries; raises the last error when the budget runs out."""
    await _retrying(lambda: transport.post(endpoint, connection_id, data), policy, deadline, failed)


async def get(
    transport: Transport,
    endpoint: str,
    connection_id: str,
    policy: RetryPolicy,
    deadline: float | None,
) -> ConnectionInfo:
    """GetConnection with retries."""
    return await _retrying(lambda: transport.get(endpoint, connection_id), policy, deadline)


async def delete(
    transport: Transport,
    endpoint: str,
    connection_id: str,
    policy: RetryPolicy,
    deadline: float | None,
) -> None:
    """DeleteConnection with retries."""
    await _retrying(lambda: transport.delete(endpoint, connection_id), policy, deadline)


async def fan_out(
    transport: Transport,
    work: list[tuple[str, str]],
    data: bytes,
    policy: RetryPolicy,
    deadline: float | None,
    max_concurrency: int,
    result: BroadcastResult,
) -> None:
    """Sends ``data`` to every ``(endpoint, id)`` in ``work``; fills ``result`` in place.

    ``max_concurrency`` worker coroutines pull from one queue. Stops starting new sends at
    the deadline; recipients not reached by then are recorded as failed with a
    ``TransportError`` ("deadline reached").
    """
    import asyncio  # loaded already by whoever runs this coroutine

    items = iter(work)
    sent, gone, failed = result.sent, result.gone, result.failed
    inflight: dict[int, str] = {}
    send = transport.post

    async def worker(slot: int) -> None:
        for endpoint, cid in items:
            if deadline is not None and time.monotonic() >= deadline:
                failed[cid] = TransportError(cid, None, "deadline reached before sending")
                continue
            inflight[slot] = cid
            try:
                try:
                    await send(endpoint, cid, data)
                except RETRYABLE as exc:
                    await post(transport, endpoint, cid, data, policy, deadline, exc)
            except ConnectionGoneError:
                gone.append(cid)
            except SendError as exc:
                failed[cid] = exc
            except Exception as exc:  # a broken transport must not lose the others
                failed[cid] = SendError(cid, None, f"{type(exc).__name__}: {exc}")
            else:
                sent.append(cid)
            del inflight[slot]

    count = max(1, min(max_concurrency, len(work)))
    tasks = [asyncio.ensure_future(worker(i)) for i in range(count)]
    timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    if pending:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending)
        for cid in inflight.values():
            failed[cid] = TransportError(cid, None, "deadline reached while sending")
        for _, cid in items:
            failed[cid] = TransportError(cid, None, "deadline reached before sending")
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:  # pragma: no cover
            raise task.exception()  # type: ignore[misc]


class AsyncEngine:
    """Drives an ``async`` transport from synchronous code, on the sender's loop.

    The same methods, with the same meaning, as a ``synchronous`` transport offers
    (:class:`~wsgate.sender.http_transport.HttpTransport`), so :class:`Sender` has one code
    path whichever engine runs underneath.

    Args:
        transport: The async transport to drive.
    """

    #: What it offers to the Sender: synchronous calls (the transport underneath is async).
    synchronous: ClassVar[bool] = True

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @staticmethod
    def _run(coro: Any, connection_id: str, stop: float | None) -> Any:
        from wsgate.sender import loop

        timeout = None if stop is None else max(0.001, stop - time.monotonic())
        try:
            return loop.run(coro, timeout)
        except TimeoutError as exc:
            raise TransportError(connection_id, None, "deadline reached") from exc

    def call(
        self,
        method: str,
        endpoint: str,
        connection_id: str,
        body: bytes,
        policy: RetryPolicy,
        deadline: float | None,
        stop: float | None = None,
    ) -> None:
        """PostToConnection (``POST``) or DeleteConnection (``DELETE``) with retries."""
        if method == "POST":
            coro = post(self.transport, endpoint, connection_id, body, policy, deadline)
        elif method == "DELETE":
            coro = delete(self.transport, endpoint, connection_id, policy, deadline)
        else:
            raise ValueError(f"unsupported method {method!r}: use get_info for GET")
        self._run(coro, connection_id, stop)

    def get_info(
        self,
        endpoint: str,
        connection_id: str,
        policy: RetryPolicy,
        deadline: float | None,
        stop: float | None = None,
    ) -> ConnectionInfo:
        """GetConnection with retries."""
        coro = get(self.transport, endpoint, connection_id, policy, deadline)
        info: ConnectionInfo = self._run(coro, connection_id, stop)
        return info

    def post_many(
        self,
        work: list[tuple[str, str]],
        data: bytes,
        policy: RetryPolicy,
        deadline: float | None,
        max_concurrency: int,
        result: BroadcastResult,
    ) -> None:
        """PostToConnection to every ``(endpoint, id)`` of ``work``; fills ``result``."""
        from wsgate.sender import loop

        loop.run(fan_out(self.transport, work, data, policy, deadline, max_concurrency, result))

    def close(self) -> None:
        """Awaits the transport's ``aclose()`` on the loop, when it has one."""
        aclose = getattr(self.transport, "aclose", None)
        if aclose is not None:
            from wsgate.sender import loop

            loop.run(aclose())
