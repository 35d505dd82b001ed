"""The Lambda Runtime API (2018-06-01), server side: one endpoint per function instance.

The runtime inside the instance's process long-polls ``GET /runtime/invocation/next`` for an
event, then posts ``/runtime/invocation/{id}/response`` or ``/error``; a failed init posts
``/runtime/init/error``. Bodies are bounded: a response over Lambda's 6 MB limit fails the
invocation with ``Function.ResponseSizeTooLarge`` (and a 413 to the runtime), never more memory.
Runs on the :class:`~wsgate.local.lambda_runtime.service.RuntimeService` loop; listens on
127.0.0.1 only. HTTP/1.1 is :mod:`wsgate.local.lambda_runtime.wire` (why not aiohttp:
docs/lambda-runtime.md, "The warm path").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wsgate.local.lambda_runtime.wire import Connection, Request

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
        self._queue: deque[Invocation] = deque()
        self._poller: Connection | None = None  # the connection whose GET /next waits
        self._current: Invocation | None = None
        self._waiting: set[Invocation] = set()
        self._initialised = False
        self._closing = False
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()

    async def start(self) -> str:
        """Listen on a free port of 127.0.0.1; returns ``host:port``."""

        def connection() -> Connection:
            conn = Connection(self._request, self._lost, MAX_PAYLOAD)
            self._connections.add(conn)
            return conn

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(connection, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.address = f"{host}:{port}"
        return self.address

    async def close(self) -> None:
        """Stop listening and fail whatever is still waiting."""
        self.process_exited(self.exit_code if self.exit_code is not None else -9)
        self._closing = True
        poller, self._poller = self._poller, None
        if poller is not None:  # a long poll still waiting
            poller.respond(410, _GONE, close=True)
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self._connections):
            conn.close()
        self._connections.clear()

    # --- from the instance ---------------------------------------------------------------

    def submit(self, invocation: Invocation) -> None:
        """Hand an invocation to the runtime's pending ``/invocation/next``, or queue it."""
        if self.exit_code is not None:
            self._finish(invocation, self._dead_outcome(invocation))
            return
        self._waiting.add(invocation)
        if not self._initialised:
            # The init phase has its own limit; the function's Timeout starts at hand-over.
            loop = asyncio.get_running_loop()
            invocation.timer = loop.call_later(self.init_timeout, self._expire, invocation)
        poller = self._poller
        if poller is not None and self._current is None:
            self._poller = None
            self._deliver(poller, invocation)
        else:
            self._queue.append(invocation)

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

    # --- the requests ------------------------------------------------------------------------

    def _request(self, conn: Connection, request: Request) -> None:
        path = request.path
        if not path.startswith(_PREFIX + "/"):
            conn.respond(404, _json(404, "NotFound", f"no route {path}"))
            return
        route = path[len(_PREFIX) :]
        if route == "/invocation/next":
            if request.method != "GET":
                conn.respond(405, _json(405, "MethodNotAllowed", f"{request.method} {path}"))
            else:
                self._next(conn)
            return
        if request.method != "POST":
            conn.respond(405, _json(405, "MethodNotAllowed", f"{request.method} {path}"))
            return
        if route == "/init/error":
            self._init_error(conn, request)
            return
        parts = route.split("/")  # "", "invocation", id, "response" | "error"
        if len(parts) == 4 and parts[1] == "invocation" and parts[3] in ("response", "error"):
            invocation = self._invocation(parts[2])
            if invocation is None:
                message = f"Invalid request ID: {parts[2]}"
                conn.respond(400, _json(400, "InvalidRequestID", message), close=request.too_large)
            elif parts[3] == "response":
                self._response(conn, request, invocation)
            else:
                self._finish(invocation, Outcome(error=_error_body(request)))
                conn.respond(202, _ACCEPTED)
            return
        conn.respond(404, _json(404, "NotFound", f"no route {path}"))

    def _lost(self, conn: Connection) -> None:
        self._connections.discard(conn)
        if self._poller is conn:  # a killed process dropped its long poll
            self._poller = None

    def _next(self, conn: Connection) -> None:
        self._initialised = True
        if self._current is not None:  # asked for more without answering: Lambda fails it
            message = "the runtime asked for the next event without answering this one"
            self._finish(
                self._current,
                Outcome(error={"errorType": "Runtime.NoResponse", "errorMessage": message}),
            )
        if self._closing:
            conn.respond(410, _GONE, close=True)
            return
        while self._queue:
            invocation = self._queue.popleft()
            if not invocation.done.done():
                self._deliver(conn, invocation)
                return
        self._poller = conn

    def _deliver(self, conn: Connection, invocation: Invocation) -> None:
        if invocation.timer is not None:
            invocation.timer.cancel()
        self._waiting.discard(invocation)
        self._current = invocation
        invocation.started = time.monotonic()
        deadline_ms = int((time.time() + invocation.timeout) * 1000)
        loop = asyncio.get_running_loop()
        invocation.timer = loop.call_later(invocation.timeout, self._expire, invocation)
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
        }
        conn.respond(200, invocation.body, headers)

    def _response(self, conn: Connection, request: Request, invocation: Invocation) -> None:
        if request.too_large:
            message = (
                "Response payload size exceeded maximum allowed payload size"
                f" ({MAX_PAYLOAD} bytes)."
            )
            error = {"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message}
            self._finish(invocation, Outcome(error=error))
            conn.respond(413, _json(413, "RequestEntityTooLarge", message), close=True)
            return
        # The result first: the emulator's reply goes out before this 202.
        self._finish(invocation, Outcome(payload=request.body))
        conn.respond(202, _ACCEPTED)

    def _init_error(self, conn: Connection, request: Request) -> None:
        self.init_error = _error_body(request)
        for invocation in list(self._waiting):
            self._finish(invocation, Outcome(error=self.init_error))
        conn.respond(202, _ACCEPTED, close=request.too_large)

    def _invocation(self, request_id: str) -> Invocation | None:
        current = self._current
        if current is None or current.request_id != request_id:
            return None
        return current


#: Error documents are read up to 1 MB.
_MAX_ERROR = 1024 * 1024
_ACCEPTED = b'{"status": "OK"}'
_GONE = b'{"errorType": "Gone", "errorMessage": "the instance is stopping"}'


def _error_body(request: Request) -> dict[str, Any]:
    header = request.headers.get("lambda-runtime-function-error-type", "")
    raw = request.body
    if request.too_large or len(raw) > _MAX_ERROR:
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


def _json(status: int, error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name.removeprefix("SIG").lower()
    except ValueError:
        return str(number)
