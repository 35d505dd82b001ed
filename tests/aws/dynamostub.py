"""A scripted DynamoDB-protocol server for fault injection (throttling, 5xx, dropped
keep-alive connections, damaged answers): real sockets, HTTP/1.1 keep-alive, one thread per
connection. The answer to each request comes from a script; nothing else is emulated."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: What the script returns for the n-th request (from 1) of an operation:
#: ``(status, body)``, ``("drop", None)`` to close without answering, or
#: ``("crc", body)`` to answer 200 with a wrong CRC32.
Answer = tuple[int | str, Any]
Script = Callable[[str, dict[str, Any], int], Answer]


@dataclass
class Seen:
    operations: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    connections: int = 0


def ok_script(operation: str, body: dict[str, Any], n: int) -> Answer:
    return 200, {}


class DynamoStub:
    """Use as a context manager; ``endpoint_url`` is ``http(s)://127.0.0.1:PORT``."""

    def __init__(
        self,
        script: Script = ok_script,
        *,
        ssl_context: ssl.SSLContext | None = None,
        close_after_answer: bool = False,
    ) -> None:
        self.script = script
        self.ssl_context = ssl_context
        self.close_after_answer = close_after_answer
        self.seen = Seen()
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.05)  # so that the accept loop sees a stop
        self.port = self._sock.getsockname()[1]
        self._stop = False
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []

    @property
    def endpoint_url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> DynamoStub:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop = True
        self._threads[0].join(5)
        self._sock.close()
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        for thread in self._threads:
            thread.join(5)

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            if self.ssl_context is not None:
                try:
                    conn = self.ssl_context.wrap_socket(conn, server_side=True)
                except (OSError, ssl.SSLError):
                    conn.close()
                    continue
            with self._lock:
                self.seen.connections += 1
                self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                body, buf = buf[:length], buf[length:]
                operation = headers.get("x-amz-target", "").rpartition(".")[2]
                with self._lock:
                    self.seen.operations.append(operation)
                    self.seen.headers.append(headers)
                    n = self._counts[operation] = self._counts.get(operation, 0) + 1
                status, payload = self.script(operation, json.loads(body or b"{}"), n)
                if status == "drop":
                    return
                raw = json.dumps(payload).encode()
                crc = zlib.crc32(raw)
                if status == "crc":
                    status, crc = 200, crc ^ 1
                conn.sendall(
                    f"HTTP/1.1 {status} X\r\nContent-Type: application/x-amz-json-1.0\r\n"
                    f"x-amz-crc32: {crc}\r\nContent-Length: {len(raw)}\r\n\r\n".encode()
                    + raw
                )
                if self.close_after_answer:
                    return  # an idle keep-alive connection the server drops
        except OSError:
            return
        finally:
            conn.close()


def error(code: str, message: str = "") -> dict[str, str]:
    """An error body as DynamoDB writes it."""
    return {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
