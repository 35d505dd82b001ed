"""A real ``@connections`` HTTP server for the sender tests, with fault injection.

It speaks the Management API as docs/aws-behaviour.md §6 describes it (status codes,
``x-amzn-ErrorType`` headers, empty 410 bodies, 204 on delete), runs its own event loop in a
thread, listens on a free 127.0.0.1 port (optionally over TLS), and can misbehave on purpose:

* ``fault(method, connection_id, attempt)`` returns a fault for that attempt (attempts
  counted per method and id from 1): ``"429"``, ``"500"``, ``"502"``, ``"503"``,
  ``"timeout"`` (never answer), ``"reset"`` (close without answering), ``"chunked"`` or
  ``None``;
* ``close_after`` closes a connection after that many answers, without ``Connection: close``
  (the client's next request on it finds EOF);
* ``idle_close`` closes connections idle for that many seconds, as real servers do.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

MAX_DATA = 131_072

Fault = str | None


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class StubState:
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, list[bytes]] = field(default_factory=dict)
    attempts: Counter[tuple[str, str]] = field(default_factory=Counter)
    requests: list[Recorded] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: int = 0
    server_closed: int = 0


class ApiStub:
    """The server; use as a context manager (``with ApiStub() as stub: stub.endpoint``)."""

    def __init__(
        self,
        *,
        stage: str = "test",
        fault: Callable[[str, str, int], Fault] | None = None,
        close_after: int | None = None,
        idle_close: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
        record: bool = True,
    ) -> None:
        self.stage = stage
        self.fault = fault
        self.close_after = close_after
        self.idle_close = idle_close
        self.ssl_context = ssl_context
        self.record = record
        self.state = StubState()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._transports: set[asyncio.BaseTransport] = set()
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> ApiStub:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for transport in list(self._transports):
                transport.abort()
            for _ in range(3):
                await asyncio.sleep(0)  # let the aborted transports finish closing

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        stub = self

        class Tracking(asyncio.StreamReaderProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                stub._transports.add(transport)
                super().connection_made(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                stub._transports.discard(self._transport)  # type: ignore[attr-defined]
                super().connection_lost(exc)

        def factory() -> asyncio.StreamReaderProtocol:
            return Tracking(asyncio.StreamReader(), self._handle)

        self._server = await loop.create_server(
            factory, "127.0.0.1", 0, ssl=self.ssl_context, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{self.stage}"

    # --- state -------------------------------------------------------------------------------

    def connect(self, *ids: str, source_ip: str = "127.0.0.1") -> None:
        now = time.time()
        with self._lock:
            for cid in ids:
                self.state.live[cid] = {"connectedAt": now, "lastActiveAt": now, "ip": source_ip}
                self.state.messages.setdefault(cid, [])

    def received(self, cid: str) -> list[bytes]:
        with self._lock:
            return list(self.state.messages.get(cid, []))

    # --- protocol ----------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.state.accepted += 1
        answered = 0
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_close)
                except TimeoutError:
                    self.state.server_closed += 1
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                reply = self._answer(method, target, headers, body)
                if reply is None:  # "timeout": hold the request until the client gives up
                    await reader.read()
                    return
                if reply == b"":  # "reset"
                    return
                writer.write(reply)
                await writer.drain()
                answered += 1
                if self.close_after is not None and answered >= self.close_after:
                    self.state.server_closed += 1
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            writer.close()

    def _answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> bytes | None:
        prefix = f"/{self.stage}/"
        rest = target[len(prefix) :] if target.startswith(prefix) else None
        if rest is not None and rest.startswith("%40connections/"):
            rest = "@connections/" + rest[len("%40connections/") :]
        if rest is None or not rest.startswith("@connections/"):
            return _reply(403, "ForbiddenException", b'{"message":"Forbidden"}')
        cid = unquote(rest[len("@connections/") :])
        with self._lock:
            if self.record:
                self.state.requests.append(Recorded(method, target, headers, body))
            self.state.attempts[(method, cid)] += 1
            attempt = self.state.attempts[(method, cid)]
        if not headers.get("authorization", "").startswith("AWS4-HMAC-SHA256 Credential="):
            return self._count(_reply(403, "ForbiddenException", b'{"message":"Forbidden"}'))
        fault = self.fault(method, cid, attempt) if self.fault else None
        if fault == "timeout":
            return None
        if fault == "reset":
            return b""
        if fault == "403":
            return self._count(
                _reply(403, "AccessDeniedException", b'{"message":"User is not authorized"}')
            )
        if fault == "429":
            return self._count(
                _reply(429, "LimitExceededException", b'{"message":"Rate exceeded"}')
            )
        if fault in ("500", "502", "503"):
            return self._count(_reply(int(fault), None, b'{"message":"Internal server error"}'))
        with self._lock:
            conn = self.state.live.get(cid)
            if conn is None:
                return self._count(_reply(410, "GoneException", b""))
            if method == "POST":
                if len(body) > MAX_DATA:
                    return self._count(
                        _reply(413, "PayloadTooLargeException", b'{"message":"Message too long"}')
                    )
                self.state.messages[cid].append(body)
                conn["lastActiveAt"] = time.time()
                return self._count(_reply(200, None, b""))
            if method == "DELETE":
                del self.state.live[cid]
                return self._count(_reply(204, None, b""))
            if method == "GET":
                payload = json.dumps(
                    {
                        "connectedAt": _iso(conn["connectedAt"]),
                        "lastActiveAt": _iso(conn["lastActiveAt"]),
                        "identity": {"sourceIp": conn["ip"], "userAgent": "stub-client/1.0"},
                    }
                ).encode()
                return self._count(_reply(200, None, payload, chunked=fault == "chunked"))
        return self._count(_reply(403, "ForbiddenException", b'{"message":"Forbidden"}'))

    def _count(self, reply: bytes) -> bytes:
        self.state.statuses[int(reply[9:12])] += 1
        return reply


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"


_REASONS = {
    200: "OK",
    204: "No Content",
    403: "Forbidden",
    410: "Gone",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _reply(status: int, error_type: str | None, body: bytes, *, chunked: bool = False) -> bytes:
    head = [f"HTTP/1.1 {status} {_REASONS[status]}", "x-amzn-RequestId: stub"]
    if error_type:
        head.append(f"x-amzn-ErrorType: {error_type}")
    if status != 204:
        head.append("Content-Type: application/json")
        if chunked:
            head.append("Transfer-Encoding: chunked")
            half = len(body) // 2
            parts = [body[:half], body[half:]]
            body = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
        else:
            head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body if status != 204 else b"")
