"""Function output to the terminal: split into bounded lines, handed to a log sink off the loop.

Each line a function prints (stdout and stderr) reaches ``log(function_name, line)``. Lines
longer than :data:`MAX_LINE` are cut (the rest counted, not kept), and the lines waiting for a
slow sink are bounded by :data:`MAX_BACKLOG` bytes: beyond it lines are dropped and counted, so
a function printing forever never grows the emulator's memory.
"""

from __future__ import annotations

import collections
import contextlib
import sys
import threading
from collections.abc import Callable

__all__ = ["MAX_BACKLOG", "MAX_LINE", "LineSplitter", "LogPump", "LogSink", "terminal_log"]

LogSink = Callable[[str, str], None]
#: Longest line kept, in bytes (the rest of the line is dropped and counted).
MAX_LINE = 16 * 1024
#: Bytes of lines waiting for the sink before new lines are dropped.
MAX_BACKLOG = 1024 * 1024


def terminal_log(function_name: str, line: str) -> None:
    """The default sink: ``[FunctionName] line`` on standard error."""
    sys.stderr.write(f"[{function_name}] {line}\n")
    sys.stderr.flush()


class LineSplitter:
    """Cuts a byte stream into lines of at most ``max_line`` bytes."""

    def __init__(self, max_line: int = MAX_LINE) -> None:
        self.max_line = max_line
        self._buffer = bytearray()
        self._skipped = 0  # bytes of the current over-long line dropped so far

    def feed(self, data: bytes) -> list[str]:
        """Add bytes; return the complete lines they finish."""
        lines: list[str] = []
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            piece = data[start:] if end < 0 else data[start:end]
            room = self.max_line - len(self._buffer)
            if self._skipped or len(piece) > room:
                self._buffer += piece[: max(room, 0)]
                self._skipped += len(piece) - max(room, 0)
            else:
                self._buffer += piece
            if end < 0:
                break
            lines.append(self._take())
            start = end + 1
        return lines

    def flush(self) -> list[str]:
        """The unfinished last line, if any (at end of stream)."""
        return [self._take()] if self._buffer or self._skipped else []

    def _take(self) -> str:
        line = self._buffer.decode("utf-8", "replace").rstrip("\r")
        if self._skipped:
            line += f" …[{self._skipped} more bytes cut]"
        self._buffer.clear()
        self._skipped = 0
        return line


class LogPump:
    """A thread that hands lines to their sinks, so a slow terminal never blocks the loop."""

    def __init__(self, max_backlog: int = MAX_BACKLOG) -> None:
        self.max_backlog = max_backlog
        self._queue: collections.deque[tuple[LogSink, str, str]] = collections.deque()
        self._size = 0
        self._dropped: dict[tuple[LogSink, str], int] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="wsgate-function-logs", daemon=True)
        self._thread.start()

    def put(self, sink: LogSink, name: str, line: str) -> None:
        """Queue one line; never blocks (drops and counts it when the backlog is full)."""
        with self._cond:
            if self._size + len(line) > self.max_backlog:
                key = (sink, name)
                self._dropped[key] = self._dropped.get(key, 0) + 1
                return
            self._queue.append((sink, name, line))
            self._size += len(line)
            self._cond.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (for up to ``timeout`` seconds), then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._dropped and not self._closed:
                    self._cond.wait()
                if not self._queue and not self._dropped:
                    return
                batch = list(self._queue)
                self._queue.clear()
                self._size = 0
                dropped, self._dropped = self._dropped, {}
            for sink, name, line in batch:
                _deliver(sink, name, line)
            for (sink, name), count in dropped.items():
                _deliver(sink, name, f"[wsgate] {count} log line(s) dropped: output too fast")


def _deliver(sink: LogSink, name: str, line: str) -> None:
    with contextlib.suppress(Exception):  # a failing sink must not stop other functions' logs
        sink(name, line)
