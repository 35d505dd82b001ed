"""The test client's session API over real sockets, against a running ``wsgate serve``.

:class:`RemoteTestClient` has the same ``connect(...)`` / session API as
:class:`~wsgate.testing.client.WebSocketTestClient`, but each session is a real WebSocket
connection (the ``websockets`` client) to the emulator, and server-side actions go through the
``@connections`` Management API with boto3. So one test body can run in process and over a
real socket::

    with RemoteTestClient.start("examples/chat/app.py") as client:   # wsgate serve, port 0
        with client.connect("/?name=ann") as ann:
            ann.send_json({"action": "join", "room": "lobby"})
            assert ann.receive_json()["type"] == "joined"

:class:`EmulatorProcess` runs ``wsgate serve APP`` as a child process on a free 127.0.0.1
port with its own SQLite registry, which the test process can open too. Needs the ``local``
extra (``websockets``; boto3 for the management calls).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from wsgate.exceptions import (
    ConfigurationError,
    HandshakeRejected,
    ReceiveTimeout,
    SessionClosed,
    SessionError,
)
from wsgate.testing.base import BaseClient, BaseSession
from wsgate.testing.factories import HeadersArg, merge_headers

if TYPE_CHECKING:
    from websockets.sync.client import ClientConnection

    from wsgate.registry.base import ConnectionRegistry
    from wsgate.sender import Sender

__all__ = ["EmulatorProcess", "RemoteSession", "RemoteTestClient", "wait_for"]

T = TypeVar("T")
USER_AGENT = "wsgate-testclient"
_READY = re.compile(r"wsgate: WebSocket\s+(ws://\S+)")


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.01) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    Use it for effects that happen after the client's call returns on a real server (a
    ``$disconnect`` handler's registry delete, for instance).

    Raises:
        TimeoutError: ``predicate`` stayed falsy for ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"condition not met within {timeout:g} s: {predicate!r}")
        time.sleep(interval)


class EmulatorProcess:
    """``wsgate serve APP`` in a child process on a free loopback port.

    Args:
        app: The ``APP`` argument: ``path/to/app.py``, ``path/to/app.py:attr`` or
            ``module:attr``.
        stage: The stage (``/{stage}`` path and management prefix).
        registry: ``WSGATE_REGISTRY`` for the app; a fresh SQLite file when omitted.
        env: Extra environment variables for the child.
        args: Extra ``wsgate serve`` arguments (``["--timeout", "2"]``, fault switches, ...).
        cwd: The child's working directory (default: this process's).
        startup_timeout: Seconds to wait for the server to listen.
    """

    def __init__(
        self,
        app: str,
        *,
        stage: str = "local",
        registry: str | None = None,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        cwd: str | Path | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.stage = stage
        self._tmp = tempfile.TemporaryDirectory(prefix="wsgate-serve-")
        self.registry_url = registry or f"sqlite:///{Path(self._tmp.name) / 'registry.db'}"
        self.log_path = Path(self._tmp.name) / "serve.log"
        self._env = dict(env or {})
        self._args = list(args or [])
        self._cwd = cwd
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._pump_thread: threading.Thread | None = None
        self._lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.ws_url = ""
        self._log = ""

    def __repr__(self) -> str:
        return f"<EmulatorProcess {self.app} {self.ws_url or 'not started'}>"

    @property
    def endpoint(self) -> str:
        """The Management API endpoint (``http://127.0.0.1:PORT/{stage}``)."""
        return "http" + self.ws_url[2:]

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the dashboard's API lives under ``/_wsgate/api/``)."""
        parts = urlsplit(self.ws_url)
        return f"http://{parts.netloc}"

    @property
    def log(self) -> str:
        """What the server wrote to stderr (its log), also after :meth:`stop`."""
        with contextlib.suppress(FileNotFoundError):  # after stop: the text was kept
            self._log = self.log_path.read_text(errors="replace")
        return self._log

    def start(self) -> EmulatorProcess:
        """Start the server and wait until it listens.

        Raises:
            ConfigurationError: The server exited or did not listen in time (its log is in
                the message: a missing app, an import error, ...).
        """
        env = dict(os.environ)
        env.update(
            {
                "WSGATE_REGISTRY": self.registry_url,
                "PYTHONUNBUFFERED": "1",
                "AWS_ACCESS_KEY_ID": env.get("AWS_ACCESS_KEY_ID") or "wsgate-local",
                "AWS_SECRET_ACCESS_KEY": env.get("AWS_SECRET_ACCESS_KEY") or "wsgate-local",
                "AWS_DEFAULT_REGION": env.get("AWS_DEFAULT_REGION") or "us-east-1",
            }
        )
        env.pop("WSGATE_ENDPOINT", None)  # the server sets its own
        env.update(self._env)
        command = [sys.executable, "-m", "wsgate.cli", "serve", self.app]
        command += ["--host", "127.0.0.1", "--port", "0", "--stage", self.stage, *self._args]
        with self.log_path.open("w") as log:
            self._process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                text=True,
                env=env,
                cwd=self._cwd,
            )
        self._pump_thread = threading.Thread(
            target=self._pump, name="wsgate-serve-stdout", daemon=True
        )
        self._pump_thread.start()
        deadline = time.monotonic() + self._startup_timeout
        while not self.ws_url:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self._fail("did not start in time")
            if line is None:
                self._fail("exited")
            match = _READY.search(line)
            if match:
                self.ws_url = match.group(1)
        return self

    def _fail(self, what: str) -> NoReturn:
        self.stop(timeout=5)
        process = self._process
        code = process.returncode if process is not None else None
        raise ConfigurationError(
            f"wsgate serve {self.app} {what} (exit status {code}):\n{self._log}"
        )

    def _pump(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        for line in process.stdout:  # drained to the end so the child never blocks on a pipe
            if not self.ws_url:
                self._lines.put(line)
        self._lines.put(None)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server like Ctrl-C does (open connections close with 1001 and get their
        ``$disconnect``), killing it if it does not exit in ``timeout`` seconds."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        if self._pump_thread is not None:
            self._pump_thread.join(5)  # it ends at the pipe's EOF, now that the child is gone
        if process is not None and process.stdout is not None and not self._pump_thread_alive():
            process.stdout.close()
        _ = self.log  # keep the text: the folder goes now
        self._tmp.cleanup()

    @property
    def returncode(self) -> int | None:
        """The server's exit status once it has exited (``0`` after a clean Ctrl-C stop; minus
        the signal number when killed), else ``None``."""
        return None if self._process is None else self._process.poll()

    def _pump_thread_alive(self) -> bool:
        return self._pump_thread is not None and self._pump_thread.is_alive()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class RemoteSession(BaseSession):
    """One real WebSocket connection to the emulator, with the in-process session's API.

    Attributes:
        connection_id: The emulator's id for this connection.
        subprotocol: The subprotocol the server accepted, if any.
        response_headers: The headers of the ``101`` response.
        close_code: The close code once closed, else ``None``.
        close_reason: The close reason once closed.
    """

    def __init__(self, client: RemoteTestClient, ws: ClientConnection, connection_id: str) -> None:
        self._client = client
        self._ws = ws
        self.connection_id = connection_id
        self.subprotocol: str | None = ws.subprotocol
        response = ws.response
        self.response_headers: dict[str, str] = (
            {k: v for k, v in response.headers.raw_items()} if response is not None else {}
        )
        self.close_code: int | None = None
        self.close_reason = ""

    def _closed(self, exc: Exception) -> SessionClosed:
        frame = getattr(exc, "rcvd", None) or getattr(exc, "sent", None)
        if self.close_code is None:
            self.close_code = int(frame.code) if frame is not None else 1006
            self.close_reason = str(frame.reason) if frame is not None else ""
        return SessionClosed(self.connection_id, self.close_code, self.close_reason)

    def send_text(self, text: str) -> None:
        """Send one text frame. Raises :class:`SessionClosed` when the connection is closed."""
        from websockets.exceptions import ConnectionClosed

        if not isinstance(text, str):
            raise TypeError(f"send_text takes a str, not {type(text).__name__}")
        try:
            self._ws.send(text)
        except ConnectionClosed as exc:
            raise self._closed(exc) from exc

    def send_bytes(self, data: bytes) -> None:
        """Send a binary frame (API Gateway closes the connection with 1003)."""
        from websockets.exceptions import ConnectionClosed

        try:
            self._ws.send(bytes(data))
        except ConnectionClosed as exc:
            raise self._closed(exc) from exc

    def receive_text(self, timeout: float | None = None) -> str:
        """The next message from the server, as text.

        Raises:
            ReceiveTimeout: Nothing arrived in time.
            SessionClosed: The connection is closed.
        """
        from websockets.exceptions import ConnectionClosed

        wait = self._client.timeout if timeout is None else timeout
        try:
            data = self._ws.recv(timeout=wait)
        except TimeoutError:
            raise ReceiveTimeout(self.connection_id, wait) from None
        except ConnectionClosed as exc:
            raise self._closed(exc) from exc
        return data if isinstance(data, str) else data.decode("utf-8", errors="replace")

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Send a close frame with ``code`` (``1005``: without a status) and wait for the
        server's; the emulator then runs ``$disconnect`` (poll with :func:`wait_for` for its
        effects). Closing twice does nothing."""
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = code, reason
        if code == 1005:  # "no status": a close frame with an empty payload
            self._ws.close(None, "")  # type: ignore[arg-type]
        else:
            self._ws.close(code, reason)
        self._client._forget(self.connection_id)

    def drop(self) -> None:
        """Lose the connection without a close frame (``$disconnect`` sees 1006)."""
        if self.close_code is not None:
            return
        self.close_code, self.close_reason = 1006, ""
        with contextlib.suppress(OSError):  # already gone is as good as dropped
            self._ws.socket.shutdown(socket.SHUT_RDWR)
        self._ws.close()
        self._client._forget(self.connection_id)


class RemoteTestClient(BaseClient):
    """Drive a running emulator with the session API of the in-process test client.

    Args:
        ws_url: The emulator's WebSocket URL (``ws://127.0.0.1:3001/local``).
        registry: The registry the app uses (to assert on it), when the test can open it.
        timeout: Default seconds ``receive_*`` waits (and the handshake may take).
        process: An :class:`EmulatorProcess` this client owns and stops on :meth:`close`.
    """

    def __init__(
        self,
        ws_url: str,
        *,
        registry: ConnectionRegistry | None = None,
        timeout: float = 10.0,
        process: EmulatorProcess | None = None,
    ) -> None:
        parts = urlsplit(ws_url)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ConfigurationError(f"not a WebSocket URL: {ws_url!r}")
        self.ws_url = ws_url.rstrip("/")
        self.stage = parts.path.strip("/")
        scheme = "https" if parts.scheme == "wss" else "http"
        self.base_url = f"{scheme}://{parts.netloc}"
        self.endpoint = f"{self.base_url}/{self.stage}"
        self.timeout = timeout
        self.process = process
        self._registry = registry
        self._sessions: dict[str, RemoteSession] = {}
        self._lock = threading.Lock()
        self._sender: Sender | None = None
        self._management: Any = None

    @classmethod
    def start(cls, app: str, *, timeout: float = 10.0, **options: Any) -> RemoteTestClient:
        """Start ``wsgate serve app`` (see :class:`EmulatorProcess` for ``options``) and return
        a client that stops it on :meth:`close`.

        Raises:
            ConfigurationError: The server did not start.
        """
        process = EmulatorProcess(app, **options).start()
        return cls(process.ws_url, timeout=timeout, process=process)

    def __repr__(self) -> str:
        return f"<RemoteTestClient {self.ws_url}>"

    @property
    def registry(self) -> ConnectionRegistry:
        """The app's registry (the emulator process's SQLite file, opened here too).

        Raises:
            ConfigurationError: The client was built without a registry or a process.
        """
        if self._registry is None:
            if self.process is None:
                raise ConfigurationError("this RemoteTestClient was given no registry")
            from wsgate.registry import open_registry

            self._registry = open_registry(self.process.registry_url)
        return self._registry

    # --- connecting ---------------------------------------------------------------------------

    def connect(
        self,
        path: str = "/",
        *,
        headers: HeadersArg | None = None,
        subprotocols: list[str] | None = None,
        user_agent: str | None = USER_AGENT,
    ) -> RemoteSession:
        """Open a real WebSocket connection (the handshake waits for ``$connect``).

        Args:
            path: ``/`` or ``/{stage}``, with the query string (``"/?token=abc"``).
            headers: Extra handshake headers.
            subprotocols: Offered as ``Sec-WebSocket-Protocol``.
            user_agent: The ``User-Agent`` header; ``None`` sends none.

        Raises:
            HandshakeRejected: The server answered with another status than 101.
            SessionError: The connection could not be made or identified.
        """
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import connect

        parts = urlsplit(path)
        if parts.path.rstrip("/") in ("", "/" + self.stage):
            url = self.ws_url
        else:
            url = self.ws_url.rsplit("/", 1)[0] + parts.path
        if parts.query:
            url += "?" + parts.query
        pairs = merge_headers([], headers)
        with self._lock:
            before = set(self.connections)
            try:
                ws = connect(
                    url,
                    additional_headers=pairs,
                    subprotocols=subprotocols,  # type: ignore[arg-type]
                    user_agent_header=user_agent,
                    compression=None,
                    open_timeout=max(self.timeout, 30.0),
                    max_size=None,
                )
            except InvalidStatus as exc:
                response = exc.response
                raise HandshakeRejected(
                    response.status_code,
                    response.body.decode("utf-8", errors="replace") if response.body else "",
                    {k: v for k, v in response.headers.raw_items()},
                ) from None
            except OSError as exc:
                raise SessionError(f"cannot connect to {url}: {exc}") from exc
            ws.__enter__()  # we own its lifetime (and newer websockets warn otherwise)
            new = set(self.connections) - before - set(self._sessions)
            if len(new) != 1:
                ws.close()
                raise SessionError(
                    f"cannot tell which connection is this client's: {sorted(new)} "
                    "(another client connected at the same moment)"
                )
            session = RemoteSession(self, ws, new.pop())
            self._sessions[session.connection_id] = session
        return session

    def _forget(self, connection_id: str) -> None:
        with self._lock:
            self._sessions.pop(connection_id, None)

    @property
    def connections(self) -> list[str]:
        """Ids of the connections open on the emulator (from its dashboard API).

        Raises:
            SessionError: The server has no dashboard API (``--no-dashboard``) or is down.
        """
        url = f"{self.base_url}/_wsgate/api/connections"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as answer:
                data = json.loads(answer.read())
        except (OSError, ValueError) as exc:
            raise SessionError(
                f"cannot list the emulator's connections at {url} (is the dashboard on?): {exc}"
            ) from exc
        return [row["connectionId"] for row in data["connections"]]

    # --- server-side actions through @connections (boto3) -------------------------------------

    @property
    def management(self) -> Any:
        """An unmodified boto3 ``apigatewaymanagementapi`` client for the emulator."""
        if self._management is None:
            import boto3
            from botocore.config import Config

            self._management = boto3.client(
                "apigatewaymanagementapi",
                endpoint_url=self.endpoint,
                region_name="us-east-1",
                aws_access_key_id="wsgate-local",
                aws_secret_access_key="wsgate-local",
                config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
            )
        return self._management

    @property
    def sender(self) -> Sender:
        """A :class:`~wsgate.sender.Sender` on boto3, aimed at the emulator."""
        if self._sender is None:
            from wsgate.sender import Sender, StaticCredentials

            self._sender = Sender(
                self.endpoint,
                transport="boto3",
                region="us-east-1",
                credentials=StaticCredentials("wsgate-local", "wsgate-local"),
            )
        return self._sender

    # --- lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close open sessions (1000), the registry and sender, and stop an owned server."""
        with self._lock:
            sessions = list(self._sessions.values())
        for session in sessions:
            try:
                session.close(1000)
            except Exception:  # closing a broken socket: nothing left to do
                continue
        if self._sender is not None:
            self._sender.shutdown()
            self._sender = None
        if self._registry is not None and self.process is not None:
            self._registry.close()
            self._registry = None
        if self.process is not None:
            self.process.stop()
