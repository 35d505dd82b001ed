"""The event loop that runs ``async def`` handlers, middleware and exception handlers.

``WebSocketApp.dispatch`` is synchronous, as Lambda's Python runtime calls it. When a handler
returns an awaitable, :func:`run` drives it to completion on the calling thread's loop before
``dispatch`` returns, so everything the coroutine started inside the invocation finishes inside
it. The loop is created on first use and kept (never closed between calls): on Lambda, where
one thread runs every invocation of the execution environment, that is one loop per process,
reused across warm invocations, so clients bound to it (an ``aiohttp`` session, an async
database pool) stay usable. ``asyncio.run`` per call would close it each time. The emulator and
the test client run handlers in worker threads: each thread keeps its own loop.

This module imports :mod:`asyncio`; :mod:`wsgate.router` imports it only when an awaitable
shows up, so ``import wsgate`` and purely synchronous apps never load asyncio.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["get_loop", "run"]

T = TypeVar("T")


class _Holder:
    """Owns one thread's loop; closes it when the thread ends (its thread-local data goes)."""

    __slots__ = ("loop",)

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()

    def __del__(self) -> None:
        loop = self.loop
        if not loop.is_closed() and not loop.is_running():
            loop.close()


_local = threading.local()


def get_loop() -> asyncio.AbstractEventLoop:
    """This thread's handler loop, created on first use and reused afterwards."""
    holder: _Holder | None = getattr(_local, "holder", None)
    if holder is None or holder.loop.is_closed():
        holder = _Holder()
        _local.holder = holder
    return holder.loop


def run(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion and return its result (or raise its exception).

    On this thread's loop (:func:`get_loop`). When this thread is already running a loop (an
    ``async`` test calling ``app(event)``, or a sync middleware nested inside an async one),
    the awaitable runs on a short-lived helper thread with its own loop, and this thread waits;
    context variables (the current event) are carried over in both cases.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return get_loop().run_until_complete(_as_coroutine(awaitable))
    return _run_in_helper(awaitable)


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _run_in_helper(awaitable: Awaitable[T]) -> T:
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}

    def target() -> None:
        loop = asyncio.new_event_loop()
        try:
            outcome["value"] = context.run(loop.run_until_complete, _as_coroutine(awaitable))
        except BaseException as exc:  # handed to the waiting thread below
            outcome["error"] = exc
        finally:
            loop.close()

    thread = threading.Thread(target=target, name="wsgate-async-helper", daemon=True)
    thread.start()
    thread.join()
    if "error" in outcome:
        error: BaseException = outcome["error"]
        raise error
    result: T = outcome["value"]
    return result
