"""Paginated, optionally parallel, DynamoDB Scan that yields pages as they arrive."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from wsgate.registry.dynamodb_items import call

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any, Final

__all__ = ["parallel_scan"]

_DONE: Final = object()


def _pages(client: Any, request: dict[str, Any]) -> Iterator[dict[str, Any]]:
    request = dict(request)
    while True:
        page = call(client, "scan", **request)
        yield page
        last = page.get("LastEvaluatedKey")
        if not last:
            return
        request["ExclusiveStartKey"] = last


def parallel_scan(client: Any, request: dict[str, Any], segments: int) -> Iterator[dict[str, Any]]:
    """Yield every Scan page of ``request``; with ``segments > 1``, scan segments in threads.

    Pages come in arrival order. Closing the iterator early stops the worker threads after
    their current page. A failure in any segment is raised here.

    Raises:
        RegistryUnavailable: A Scan request failed.
    """
    if segments <= 1:
        yield from _pages(client, request)
        return
    import queue  # only for a parallel scan: off the cold path

    results: queue.Queue[Any] = queue.Queue(maxsize=segments * 2)
    stop = threading.Event()

    def worker(segment: int) -> None:
        try:
            for page in _pages(client, {**request, "Segment": segment, "TotalSegments": segments}):
                while not stop.is_set():
                    try:
                        results.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as exc:  # handed to the consumer
            results.put(exc)
        finally:
            results.put(_DONE)

    threads = [
        threading.Thread(target=worker, args=(n,), name=f"wsgate-scan-{n}", daemon=True)
        for n in range(segments)
    ]
    for thread in threads:
        thread.start()
    running = segments
    try:
        while running:
            item = results.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        # Drain so workers blocked on a full queue can finish.
        while any(thread.is_alive() for thread in threads):
            try:
                results.get(timeout=0.1)
            except queue.Empty:
                continue
