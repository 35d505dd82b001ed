"""The background event loop that serves every instance's Runtime API, shared and ref-counted.

Function pools are used from the emulator's worker threads; their Runtime API endpoints, child
processes and output pipes live on one asyncio loop in a thread of its own. The first pool to
need it starts it; the last to release it stops it (the loop closed, the thread joined), so a
test that opens and closes pools leaves nothing behind.

The emulator (``wsgate serve --template``) instead lends its own loop (:meth:`acquire` with
``loop``): a warm invocation then goes from the WebSocket message to the function's process and
back without any thread hand-off. Blocking calls (:meth:`run`) must then come from other
threads, as the emulator's worker threads are.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, ClassVar, TypeVar

from wsgate.local.lambda_runtime.logs import LogPump

__all__ = ["RuntimeService"]

T = TypeVar("T")


class RuntimeService:
    """One event loop thread and one log thread, shared by all pools of the process."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _current: ClassVar[RuntimeService | None] = None
    _lent: ClassVar[dict[asyncio.AbstractEventLoop, RuntimeService]] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.logs = LogPump()
        self._users = 0
        self._thread: threading.Thread | None = None
        if loop is not None:  # lent by its owner, who runs and closes it
            self.loop = loop
            return
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="wsgate-lambda-runtime", daemon=True
        )
        self._thread.start()
        ready.wait()

    @classmethod
    def acquire(cls, loop: asyncio.AbstractEventLoop | None = None) -> RuntimeService:
        """The running service (started if none); pair with :meth:`release`.

        Args:
            loop: A running loop to serve on instead of a thread of the service's own (its
                owner keeps running it until every pool using it is closed).
        """
        with cls._lock:
            if loop is not None:
                service = cls._lent.get(loop)
                if service is None:
                    service = cls._lent[loop] = RuntimeService(loop)
            else:
                if cls._current is None:
                    cls._current = RuntimeService()
                service = cls._current
            service._users += 1
            return service

    def release(self) -> None:
        """Stop the loop and the log thread once the last user released them."""
        with RuntimeService._lock:
            self._users -= 1
            if self._users > 0:
                return
            if RuntimeService._current is self:
                RuntimeService._current = None
            if RuntimeService._lent.get(self.loop) is self:
                del RuntimeService._lent[self.loop]
        if self._thread is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.logs.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (call from any other thread).

        Raises:
            RuntimeError: Called on the loop's own thread (it would wait for itself), or the
                loop is closed.
        """
        if self.on_loop():
            coro.close()
            raise RuntimeError("RuntimeService.run called on its own loop's thread")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def on_loop(self) -> bool:
        """Whether the caller runs on the service's loop (its thread, inside the loop)."""
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        try:
            self.loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(self.loop)
            for task in tasks:
                task.cancel()
            if tasks:
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()
