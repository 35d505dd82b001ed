"""The Lambda Runtime API (2018-06-01), server side: one endpoint per function instance.

The runtime inside the instance's process long-polls ``GET /runtime/invocation/next`` for an
event, then posts ``/runtime/invocation/{id}/response`` or ``/error``; a failed init posts
``/runtime/init/error``. Bodies are bounded: a response over Lambda's 6 MB limit fails the
invocation with ``Function.ResponseSizeTooLarge`` (and a 413 to the runtime), never more memory.
Runs on the :class:`~wsgate.local.lambda_runtime.service.RuntimeService` loop; listens on
127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["MAX_PAYLOAD", "Invocation", "Outcome", "RuntimeEndpoint"]

#: Lambda's limit on a synchronous invocation's request and response payloads (6 MB).
MAX_PAYLOAD = 6 * 1024 * 1024
_PREFIX = "/2018-06-01/runtime"


@dataclass
class Outcome:
    """How an invocation ended: a JSON ``payload`` (bytes) or an ``error`` dict."""

    payload: bytes | None = None
    error: Mapping[str, Any] | None = None
    timed_out: bool = False


@dataclass(eq=False)
class Invocation:
    """One event on its way through an instance."""

    request_id: str
    body: bytes
    timeout: float
    arn: str
    trace_id: str
    done: concurrent.futures.Future[Outcome] = field(default_factory=concurrent.futures.Future)
    started: float = 0.0  # monotonic time the runtime received it (0: not yet)
    timer: asyncio.TimerHandle | None = None


class RuntimeEndpoint:
    """The Runtime API of one instance.

    Args:
        on_timeout: Called (on the loop) when an invocation passes its deadline; the instance
            kills its process then.
        init_timeout: Seconds the runtime has to take its first event (Lambda's init limit).
    """

    def __init__(self, on_timeout: Callable[[], None], *, init_timeout: float = 10.0) -> None:
        self.on_timeout = on_timeout
        self.init_timeout = init_timeout
        self.address = ""
        self.init_error: dict[str, Any] | None = None
        self.exit_code: int | None = None
        self._queue: asyncio.Queue[Invocation | None] = asyncio.Queue()
        self._current: Invocation | None = None
        self._waiting: set[Invocation] = set()
        self._initialised = False
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1; returns ``host:port``."""
        app = web.Application()
        app.router.add_get(f"{_PREFIX}/invocation/next", self._next)
        app.router.add_post(f"{_PREFIX}/invocation/{{rid}}/response", self._response)
        app.router.add_post(f"{_PREFIX}/invocation/{{rid}}/error", self._error)
        app.router.add_post(f"{_PREFIX}/init/error", self._init_error)
        # A killed process drops its long poll: its handler is cancelled, not left pending.
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=0.5,
            handler_cancellation=True,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.address = f"{host}:{port}"
        return self.address

    async def close(self) -> None:
        """Stop listening and fail whatever is still waiting."""
        self.process_exited(self.exit_code if self.exit_code is not None else -9)
        self._queue.put_nowait(None)  # wakes a long poll still waiting
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- from the instance ---------------------------------------------------------------

    def submit(self, invocation: Invocation) -> None:
        """Queue an invocation for the runtime's next ``/invocation/next``."""
        if self.exit_code is not None:
            self._finish(invocation, self._dead_outcome(invocation))
            return
        self._waiting.add(invocation)
        if not self._initialised:
            # The init phase has its own limit; the function's Timeout starts at hand-over.
            loop = asyncio.get_running_loop()
            invocation.timer = loop.call_later(self.init_timeout, self._expire, invocation)
        self._queue.put_nowait(invocation)

    def process_exited(self, code: int) -> None:
        """The process ended: every invocation in flight fails as Lambda reports it."""
        self.exit_code = code
        for invocation in [*self._waiting, *([self._current] if self._current else [])]:
            self._finish(invocation, self._dead_outcome(invocation))

    def _dead_outcome(self, invocation: Invocation) -> Outcome:
        if self.init_error is not None:
            return Outcome(error=self.init_error)
        code = self.exit_code if self.exit_code is not None else -9
        reason = f"signal: {_signal_name(-code)}" if code < 0 else f"exit status {code}"
        message = f"RequestId: {invocation.request_id} Error: Runtime exited with error: {reason}"
        return Outcome(error={"errorType": "Runtime.ExitError", "errorMessage": message})

    def _expire(self, invocation: Invocation) -> None:
        if invocation.done.done():
            return
        limit = invocation.timeout if invocation.started else self.init_timeout
        phase = "Task" if invocation.started else "Init"
        message = (
            f"RequestId: {invocation.request_id} Error: {phase} timed out after {limit:.2f} seconds"
        )
        error = {"errorType": "Sandbox.Timedout", "errorMessage": message}
        self._finish(invocation, Outcome(error=error, timed_out=True))
        self.on_timeout()

    def _finish(self, invocation: Invocation, outcome: Outcome) -> None:
        self._waiting.discard(invocation)
        if self._current is invocation:
            self._current = None
        if invocation.timer is not None:
            invocation.timer.cancel()
        if not invocation.done.done():
            invocation.done.set_result(outcome)

    # --- the HTTP handlers -----------------------------------------------------------------

    async def _next(self, request: web.Request) -> web.StreamResponse:
        self._initialised = True
        if self._current is not None:  # asked for more without answering: Lambda fails it
            message = "the runtime asked for the next event without answering this one"
            self._finish(
                self._current,
                Outcome(error={"errorType": "Runtime.NoResponse", "errorMessage": message}),
            )
        while True:
            invocation = await self._queue.get()
            if invocation is None:  # the endpoint is closing
                self._queue.put_nowait(None)
                return _json(410, {"errorType": "Gone", "errorMessage": "the instance is stopping"})
            if not invocation.done.done():
                break
        if invocation.timer is not None:
            invocation.timer.cancel()
        self._waiting.discard(invocation)
        self._current = invocation
        invocation.started = time.monotonic()
        deadline_ms = int((time.time() + invocation.timeout) * 1000)
        loop = asyncio.get_running_loop()
        invocation.timer = loop.call_later(invocation.timeout, self._expire, invocation)
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
        }
        return web.Response(body=invocation.body, headers=headers)

    async def _response(self, request: web.Request) -> web.StreamResponse:
        invocation = self._invocation(request)
        if invocation is None:
            return _bad_request_id(request)
        body = await _read_bounded(request, MAX_PAYLOAD)
        if body is None:
            message = (
                "Response payload size exceeded maximum allowed payload size"
                f" ({MAX_PAYLOAD} bytes)."
            )
            error = {"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message}
            self._finish(invocation, Outcome(error=error))
            return _json(413, {"errorType": "RequestEntityTooLarge", "errorMessage": message})
        self._finish(invocation, Outcome(payload=body))
        return _json(202, {"status": "OK"})

    async def _error(self, request: web.Request) -> web.StreamResponse:
        invocation = self._invocation(request)
        if invocation is None:
            return _bad_request_id(request)
        self._finish(invocation, Outcome(error=await _error_body(request)))
        return _json(202, {"status": "OK"})

    async def _init_error(self, request: web.Request) -> web.StreamResponse:
        self.init_error = await _error_body(request)
        for invocation in list(self._waiting):
            self._finish(invocation, Outcome(error=self.init_error))
        return _json(202, {"status": "OK"})

    def _invocation(self, request: web.Request) -> Invocation | None:
        current = self._current
        if current is None or current.request_id != request.match_info["rid"]:
            return None
        return current


async def _read_bounded(request: web.Request, limit: int) -> bytes | None:
    """The body, or ``None`` when it is longer than ``limit`` (never holds more than that)."""
    if request.content_length is not None and request.content_length > limit:
        return None
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


async def _error_body(request: web.Request) -> dict[str, Any]:
    header = request.headers.get("Lambda-Runtime-Function-Error-Type", "")
    raw = await _read_bounded(request, 1024 * 1024)
    if raw is None:
        return {"errorType": header or "Runtime.Unknown", "errorMessage": "error body over 1 MB"}
    try:
        error = json.loads(raw)
    except ValueError:
        error = None
    if not isinstance(error, dict):
        text = raw.decode("utf-8", "replace")
        return {"errorType": header or "Runtime.Unknown", "errorMessage": text}
    error.setdefault("errorType", header or "Runtime.Unknown")
    error.setdefault("errorMessage", "")
    return error


def _bad_request_id(request: web.Request) -> web.Response:
    message = f"Invalid request ID: {request.match_info.get('rid', '')}"
    return _json(400, {"errorType": "InvalidRequestID", "errorMessage": message})


def _json(status: int, body: Mapping[str, Any]) -> web.Response:
    return web.json_response(dict(body), status=status)


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name.removeprefix("SIG").lower()
    except ValueError:
        return str(number)
