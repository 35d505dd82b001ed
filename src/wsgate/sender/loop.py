"""The sender's event loop: one daemon thread, started on first use, kept for warm invocations.

Creating a loop per call (``asyncio.run``) would throw away the keep-alive connections and
cost ~1 ms per call; one loop in one thread keeps both. Any number of threads may submit
work at once (the emulator runs handlers in worker threads). After ``os.fork`` the child
starts its own loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["get_loop", "run", "submit"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_pid = 0


def get_loop() -> asyncio.AbstractEventLoop:
    """The background loop, started if needed."""
    global _loop, _thread, _pid
    loop = _loop
    if loop is not None and _pid == os.getpid():
        return loop
    with _lock:
        if _loop is None or _pid != os.getpid() or _thread is None or not _thread.is_alive():
            new_loop = asyncio.new_event_loop()
            ready = threading.Event()

            def _run() -> None:
                asyncio.set_event_loop(new_loop)
                new_loop.call_soon(ready.set)
                new_loop.run_forever()

            thread = threading.Thread(target=_run, name="wsgate-sender", daemon=True)
            thread.start()
            ready.wait()
            _loop, _thread, _pid = new_loop, thread, os.getpid()
        return _loop


def submit(coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
    """Schedules ``coro`` on the background loop and returns a thread-safe future.

    Raises:
        RuntimeError: Called from the loop's own thread (that would deadlock).
    """
    loop = get_loop()
    if threading.current_thread() is _thread:
        coro.close()
        raise RuntimeError("wsgate's sync Sender API cannot be called from its own loop thread")
    return asyncio.run_coroutine_threadsafe(coro, loop)


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Runs ``coro`` on the background loop and waits for its result.

    Raises:
        TimeoutError: ``timeout`` passed first (the coroutine is cancelled).
        Exception: Whatever the coroutine raised.
    """
    future = submit(coro)
    try:
        return future.result(timeout)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise
