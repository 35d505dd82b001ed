"""Broadcasts that start sending before the lookup ends: pages posted while the next one loads.

A room lookup comes as pages (:mod:`wsgate.registry.paging`). :func:`prefetched` reads the
next page in a background thread while the caller posts the current one, holding at most two
pages besides the one being posted, so memory stays bounded by the page size whatever the
room size (plus the ids already sent, kept to send each id once).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from typing import Any, TypeVar

    from wsgate.sender.broadcast import BroadcastResult
    from wsgate.sender.sender import Sender

    T = TypeVar("T")

__all__ = ["prefetched", "stream_pages"]

_END = object()


def prefetched(pages: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield ``pages`` in order, reading ahead in a background thread.

    The reader runs in a copy of the caller's context (so a Lambda deadline set there still
    bounds its retries). An exception from ``pages`` is raised here, after the pages read
    before it. Closing the iterator early stops the reader at its next page.

    Args:
        pages: Any iterable; each item is produced by the reader thread.
        depth: Pages read ahead at most (besides the one the reader is holding).
    """
    import contextvars
    import queue

    slots: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def hand_over(item: Any, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                slots.put((item, error), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for page in pages:
                if not hand_over(page):
                    return
        except BaseException as exc:  # handed to the consumer, raised in its thread
            hand_over(_END, exc)
            return
        hand_over(_END)

    context = contextvars.copy_context()
    reader = threading.Thread(target=context.run, args=(read,), name="wsgate-pages", daemon=True)
    reader.start()
    try:
        while True:
            item, error = slots.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item
    finally:
        stop.set()


def stream_pages(
    sender: Sender,
    pages: Iterable[Iterable[Any]],
    body: bytes,
    exclude: Iterable[str],
    on_page: Any,
) -> BroadcastResult:
    """The work of :meth:`Sender.broadcast_pages <wsgate.sender.Sender.broadcast_pages>`:
    plan and post each page (deduplicated against the pages before it) while the next one
    is read; prune, log and count once at the end, also when reading a page fails."""
    from wsgate.sender.broadcast import BroadcastResult, plan
    from wsgate.sender.endpoint import resolve_endpoint

    started = time.monotonic()
    seen = set(exclude)
    result = BroadcastResult()
    deadline = sender._deadline()
    engine = sender._engine

    def endpoint_for(stored: str | None) -> str:
        return resolve_endpoint(sender.endpoint, stored)

    try:
        for page in prefetched(pages):
            work, invalid = plan(page, endpoint_for, seen=seen)
            result.failed.update(invalid)
            if work:
                engine.post_many(
                    work, body, sender.policy, deadline, sender.max_concurrency, result
                )
            if on_page is not None:
                on_page(result)
    finally:
        sender._finish(result, started)
    return result
