"""The background event loop that serves every instance's Runtime API, shared and ref-counted.

Function pools are used from the emulator's worker threads; their Runtime API endpoints, child
processes and output pipes live on one asyncio loop in a thread of its own. The first pool to
need it starts it; the last to release it stops it (the loop closed, the thread joined), so a
test that opens and closes pools leaves nothing behind.
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

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.logs = LogPump()
        self._users = 0
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name="wsgate-lambda-runtime", daemon=True
        )
        self._thread.start()
        ready.wait()

    @classmethod
    def acquire(cls) -> RuntimeService:
        """The running service (started if none); pair with :meth:`release`."""
        with cls._lock:
            if cls._current is None:
                cls._current = RuntimeService()
            cls._current._users += 1
            return cls._current

    def release(self) -> None:
        """Stop the loop and the log thread once the last user released them."""
        with RuntimeService._lock:
            self._users -= 1
            if self._users > 0:
                return
            if RuntimeService._current is self:
                RuntimeService._current = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.logs.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for its result (call from any other thread)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

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
