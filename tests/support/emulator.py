"""A real :class:`~wsgate.local.server.Emulator` on its own event loop in a background thread.

Tests talk to it the way users do: real WebSocket clients and unmodified boto3
``apigatewaymanagementapi`` clients over 127.0.0.1 (the emulator binds port 0 unless told).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from wsgate.local.server import Emulator
from wsgate.observe import Metrics, set_metrics
from wsgate.testing import wait_for

T = TypeVar("T")

START_TIMEOUT = 15.0
STOP_TIMEOUT = 40.0


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, message: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy and return that (no fixed sleep).

    Raises:
        AssertionError: It stayed falsy for ``timeout`` seconds (``message`` says what for).
    """
    try:
        return wait_for(predicate, timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {message or predicate}") from None


def management_client(endpoint: str, *, attempts: int = 1, **options: Any) -> Any:
    """An unmodified boto3 management API client aimed at ``endpoint`` with dummy credentials.

    ``attempts`` is botocore's ``total_max_attempts``; ``options`` override client arguments
    (``aws_secret_access_key`` to sign wrongly, for instance). Close it when done.
    """
    import boto3
    from botocore.config import Config

    arguments: dict[str, Any] = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
        "config": Config(retries={"total_max_attempts": attempts, "mode": "standard"}),
    }
    arguments.update(options)
    return boto3.client("apigatewaymanagementapi", **arguments)


class ThreadedEmulator:
    """Run ``emulator`` on a new event loop in a daemon thread; :meth:`stop` ends both.

    The process-wide metrics recorder is off while it runs unless ``metrics=True`` (a test
    that checks EMF output); :meth:`stop` lets it be rebuilt from the environment.

    Raises:
        RuntimeError: The emulator did not start within 15 s.
        BaseException: Whatever ``Emulator.start`` raised (a port in use, a bad app).
    """

    def __init__(
        self, emulator: Emulator, *, name: str = "emulator", metrics: bool = False
    ) -> None:
        self.emulator = emulator
        self._silenced = not metrics
        if self._silenced:
            # Handlers run in worker threads and flush EMF lines to sys.stdout when they end,
            # which can fall between pytest's capture phases and land in its terminal output.
            set_metrics(Metrics(enabled=False))
        self.loop = asyncio.new_event_loop()
        self._clients: list[Any] = []
        self._stopped = False
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            try:
                self.loop.run_until_complete(emulator.start())
            except BaseException as exc:
                failure.append(exc)
                started.set()
                self.loop.close()
                return
            started.set()
            self.loop.run_forever()
            self.loop.close()

        self.thread = threading.Thread(target=run, name=name, daemon=True)
        self.thread.start()
        if not started.wait(START_TIMEOUT) or failure:
            if self._silenced:
                set_metrics(None)
            if not failure:
                raise RuntimeError("the emulator did not start")
            self.thread.join(STOP_TIMEOUT)
            raise failure[0]

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:{port}/{stage}``."""
        return self.emulator.ws_url

    @property
    def endpoint(self) -> str:
        """The management API endpoint (``http://127.0.0.1:{port}/{stage}``)."""
        return self.emulator.endpoint

    @property
    def port(self) -> int:
        """The bound port."""
        return self.emulator.port

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the emulator's loop (where its state lives) and return its result."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def connection_ids(self) -> list[str]:
        """The ids of the emulator's open connections."""
        return self.call(lambda: list(self.emulator.connections))

    def client(self, *, attempts: int = 1, endpoint: str | None = None, **options: Any) -> Any:
        """A boto3 management client aimed at the emulator, closed by :meth:`stop`."""
        client = management_client(endpoint or self.endpoint, attempts=attempts, **options)
        self._clients.append(client)
        return client

    def stop(self) -> None:
        """Close the clients made here, stop the emulator and its loop. Safe to call twice."""
        for client in self._clients:
            client.close()  # their pooled sockets would otherwise leak into later tests
        self._clients.clear()
        if self._stopped:
            return
        self._stopped = True
        try:
            asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(STOP_TIMEOUT)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            if self._silenced:
                set_metrics(None)
