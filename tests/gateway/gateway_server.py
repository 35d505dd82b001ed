"""A real ``@connections`` Management API server on loopback, for the gateway tests.

It speaks API Gateway's wire format (docs/aws-behaviour.md §6): ``POST``/``GET``/``DELETE``
``/{stage}/@connections/{id}`` (also ``%40connections``, ids percent-decoded), 200 / 200 JSON /
204 on success, ``410`` with ``x-amzn-ErrorType: GoneException`` and an empty body for an unknown
or closed connection, ``413 PayloadTooLargeException`` over 131,072 bytes, ``403
ForbiddenException`` on a wrong stage or path. Connections are opened by the test
(:meth:`ConnectionsServer.open`), standing in for clients that completed the handshake; what is
posted to them is recorded. Optionally it holds POSTs until several are in flight at once, which
shows that a broadcast runs concurrently without measuring time.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

MAX_POST_BYTES = 131_072


@dataclass
class _Conn:
    connected_at: float
    messages: list[bytes] = field(default_factory=list)


class ConnectionsServer:
    """The server's state; start it with :func:`serve`."""

    def __init__(self, stage: str = "test") -> None:
        self.stage = stage
        self.port = 0
        self._cond = threading.Condition()
        self._live: dict[str, _Conn] = {}
        self._closed: dict[str, _Conn] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.hold_until = 0  # hold each POST until this many are in flight (0: don't hold)
        self.hold_timeout = 3.0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.stage}"

    def open(self, connection_id: str) -> str:
        """A client completed its handshake: posts to ``connection_id`` now succeed."""
        with self._cond:
            self._live[connection_id] = _Conn(time.time())
        return connection_id

    def drop(self, connection_id: str) -> None:
        """The client vanished (no ``$disconnect`` ran): calls now answer 410."""
        with self._cond:
            conn = self._live.pop(connection_id, None)
            if conn is not None:
                self._closed[connection_id] = conn

    def is_open(self, connection_id: str) -> bool:
        with self._cond:
            return connection_id in self._live

    def messages(self, connection_id: str) -> list[bytes]:
        with self._cond:
            conn = self._live.get(connection_id) or self._closed.get(connection_id)
            return list(conn.messages) if conn else []

    def json_messages(self, connection_id: str) -> list[object]:
        return [json.loads(m) for m in self.messages(connection_id)]

    def wait_messages(self, connection_id: str, count: int, timeout: float = 5.0) -> list[bytes]:
        """Poll (with a deadline, no fixed sleep) until ``count`` messages arrived."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                conn = self._live.get(connection_id) or self._closed.get(connection_id)
                got = list(conn.messages) if conn else []
                remaining = deadline - time.monotonic()
                if len(got) >= count or remaining <= 0:
                    return got
                self._cond.wait(remaining)

    def calls(self, method: str) -> list[str]:
        with self._cond:
            return [cid for m, cid, _ in self.requests if m == method]

    # --- request handling (called from the HTTP server's threads) ----------------------------

    def _post(self, connection_id: str, body: bytes) -> tuple[int, str | None, bytes]:
        if len(body) > MAX_POST_BYTES:
            return 413, "PayloadTooLargeException", b'{"message":"Message too long"}'
        with self._cond:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._cond.notify_all()
            if self.hold_until:
                # Released for good once the target concurrency was reached.
                self._cond.wait_for(
                    lambda: self.max_in_flight >= self.hold_until, timeout=self.hold_timeout
                )
            self.in_flight -= 1
            conn = self._live.get(connection_id)
            if conn is None:
                return 410, "GoneException", b""
            conn.messages.append(body)
            self._cond.notify_all()
        return 200, None, b""

    def _get(self, connection_id: str) -> tuple[int, str | None, bytes]:
        with self._cond:
            conn = self._live.get(connection_id)
        if conn is None:
            return 410, "GoneException", b""
        iso = datetime.fromtimestamp(conn.connected_at, UTC).isoformat().replace("+00:00", "Z")
        body = {
            "connectedAt": iso,
            "lastActiveAt": iso,
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "gateway-tests"},
        }
        return 200, None, json.dumps(body).encode()

    def _delete(self, connection_id: str) -> tuple[int, str | None, bytes]:
        with self._cond:
            conn = self._live.pop(connection_id, None)
            if conn is None:
                return 410, "GoneException", b""
            self._closed[connection_id] = conn
        return 204, None, b""

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str | None, bytes]:
        prefix = f"/{self.stage}/"
        rest = path[len(prefix) :] if path.startswith(prefix) else ""
        for marker in ("@connections/", "%40connections/"):
            if rest.startswith(marker):
                connection_id = unquote(rest[len(marker) :])
                break
        else:
            return 403, "ForbiddenException", b'{"message":"Forbidden"}'
        with self._cond:
            self.requests.append((method, connection_id, headers))
        if method == "POST":
            return self._post(connection_id, body)
        if method == "GET":
            return self._get(connection_id)
        return self._delete(connection_id)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, error_type, payload = self.server.state.handle(
            self.command, self.path, dict(self.headers.items()), body
        )
        self.send_response(status)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_POST = do_GET = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many concurrent connects (the default, 5, drops SYNs)

    def __init__(self, state: ConnectionsServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@contextmanager
def serve(stage: str = "test") -> Iterator[ConnectionsServer]:
    """Run a server on a free loopback port for the duration of the ``with`` block."""
    state = ConnectionsServer(stage)
    server = _Server(state)
    state.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="connections-server", daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
