"""Start and stop DynamoDB-compatible servers for tests: dynalite (npm) and moto_server (PyPI).

Each server runs as a child process on a free port of 127.0.0.1 and is polled until it answers
a DynamoDB request, so tests never sleep a fixed time. Stdlib only: importing this module loads
neither boto3 nor moto. The pytest fixtures ``dynalite_server`` and ``moto_server`` in
:mod:`wsgate.testing.plugin` wrap these functions (session-scoped)::

    server = start_dynalite()
    try:
        client = boto3.client("dynamodb", endpoint_url=server.endpoint_url, **server.boto_kwargs)
        ...
    finally:
        server.stop()
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = [
    "LocalServer",
    "ServerStartError",
    "find_dynalite",
    "free_port",
    "start_dynalite",
    "start_moto_server",
]

HOST = "127.0.0.1"
TEST_CREDENTIALS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}


class ServerStartError(RuntimeError):
    """A test server could not be found or did not start; the message says why."""


@dataclass
class LocalServer:
    """A running DynamoDB-compatible server on loopback.

    Attributes:
        name: ``"dynalite"`` or ``"moto_server"``.
        port: Its port on 127.0.0.1.
        process: The child process.
        supports_ttl: Whether it accepts UpdateTimeToLive (dynalite does not).
        supports_transactions: Whether it implements TransactWriteItems (dynalite does not).
    """

    name: str
    port: int
    process: subprocess.Popen[bytes]
    supports_ttl: bool
    supports_transactions: bool
    _log: IO[bytes] = field(repr=False)

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``: boto3's ``endpoint_url`` / ``AWS_ENDPOINT_URL_DYNAMODB``."""
        return f"http://{HOST}:{self.port}"

    @property
    def boto_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``boto3.client("dynamodb", ...)``: endpoint, region, dummy keys."""
        return {"endpoint_url": self.endpoint_url, **TEST_CREDENTIALS}

    def stdlib_client(self, **options: Any) -> Any:
        """wsgate's stdlib :class:`~wsgate.aws.dynamodb.DynamoDBClient` for this server
        (same region and dummy keys as :attr:`boto_kwargs`); ``options`` go to the client."""
        from wsgate.aws.credentials import StaticCredentials
        from wsgate.aws.dynamodb import DynamoDBClient

        keys = StaticCredentials(
            TEST_CREDENTIALS["aws_access_key_id"], TEST_CREDENTIALS["aws_secret_access_key"]
        )
        return DynamoDBClient(
            region=TEST_CREDENTIALS["region_name"],
            endpoint_url=self.endpoint_url,
            credentials=keys,
            **options,
        )

    def log(self) -> str:
        """What the server wrote to stdout and stderr so far."""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout``) and remove its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._log.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._log.name)


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def find_dynalite(start: Path | None = None) -> Path:
    """Locate the dynalite executable.

    Looks at ``WSGATE_DYNALITE``, then ``tools/node/node_modules/.bin/dynalite`` in this folder
    or any parent (the repository layout ``scripts/setup`` creates), then ``PATH``.

    Raises:
        ServerStartError: dynalite is not installed.
    """
    if env := os.environ.get("WSGATE_DYNALITE"):
        return Path(env)
    roots = [start or Path.cwd(), Path(__file__).resolve()]
    for root in roots:
        for folder in (root, *root.parents):
            candidate = folder / "tools" / "node" / "node_modules" / ".bin" / "dynalite"
            if candidate.exists():
                return candidate
    if found := shutil.which("dynalite"):
        return Path(found)
    raise ServerStartError(
        "dynalite not found: run scripts/setup (npm ci in tools/node) or set WSGATE_DYNALITE"
    )


def start_dynalite(*, timeout: float = 30.0, executable: Path | None = None) -> LocalServer:
    """Start dynalite in memory on a free loopback port, with instant table creation.

    Raises:
        ServerStartError: dynalite is missing or did not answer within ``timeout`` seconds.
    """
    binary = executable or find_dynalite()

    def command(port: int) -> list[str]:
        return [
            str(binary),
            "--host",
            HOST,
            "--port",
            str(port),
            "--createTableMs",
            "0",
            "--deleteTableMs",
            "0",
            "--updateTableMs",
            "0",
        ]

    return _start("dynalite", command, timeout, supports_ttl=False, supports_transactions=False)


def start_moto_server(*, timeout: float = 30.0) -> LocalServer:
    """Start moto's server on a free loopback port, handling one request at a time.

    moto's own ``moto_server`` lets requests interleave (a reader can see an UpdateItem half
    applied, two conditional writes on one item can both pass); DynamoDB never does. So moto's
    application is served by :mod:`wsgate.testing.moto_atomic`, which runs one request at a time,
    whenever moto is importable here; otherwise a ``moto_server`` on ``PATH`` is used as it is.

    Raises:
        ServerStartError: moto[server] is not installed or did not answer within ``timeout``.
    """
    if importlib.util.find_spec("moto") is not None:
        prefix = [sys.executable, "-m", "wsgate.testing.moto_atomic"]
    else:
        beside = Path(sys.executable).parent / "moto_server"
        found = shutil.which("moto_server")
        if beside.exists():
            prefix = [str(beside)]
        elif found:
            prefix = [found]
        else:
            raise ServerStartError("moto's server is not installed: pip install 'moto[server]'")

    def command(port: int) -> list[str]:
        return [*prefix, "-H", HOST, "-p", str(port)]

    return _start("moto_server", command, timeout, supports_ttl=True, supports_transactions=True)


def _start(
    name: str,
    command: Any,
    timeout: float,
    *,
    supports_ttl: bool,
    supports_transactions: bool,
    attempts: int = 3,
) -> LocalServer:
    failures: list[str] = []
    for _ in range(attempts):
        port = free_port()
        # Kept open for the server's lifetime; LocalServer.stop() closes and removes it.
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix=f"wsgate-{name}-", suffix=".log", delete=False
        )
        argv: Sequence[str] = command(port)
        try:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            log.close()
            os.unlink(log.name)
            raise ServerStartError(f"cannot run {name} ({argv[0]}): {exc}") from exc
        server = LocalServer(name, port, process, supports_ttl, supports_transactions, log)
        if _wait_until_ready(server, timeout):
            return server
        failures.append(f"port {port}: {server.log()[-2000:]}")
        server.stop()
    raise ServerStartError(f"{name} did not start: " + " | ".join(failures))


def _wait_until_ready(server: LocalServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        if _answers(server.port):
            return True
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    return False


def _answers(port: int) -> bool:
    """Whether a DynamoDB ListTables request gets an HTTP answer (any status)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request(
            "POST",
            "/",
            body=b"{}",
            headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "DynamoDB_20120810.ListTables",
                "Authorization": (
                    "AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/dynamodb/aws4_request,"
                    " SignedHeaders=host, Signature=0"
                ),
                "X-Amz-Date": "20200101T000000Z",
            },
        )
        status = connection.getresponse().status
        return 200 <= status < 500
    except OSError:
        return False
    finally:
        connection.close()
