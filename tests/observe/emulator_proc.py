"""Run `wsgate serve` as a real subprocess and watch its stdout/stderr (for observe tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "chat" / "app.py"
DEADLINE = 30.0 * float(os.environ.get("WSGATE_TEST_TIMEOUT_FACTOR", "1"))


class Output:
    """Collects a stream's lines in a thread, so the test can poll without blocking."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def join(self) -> None:
        self._thread.join(DEADLINE)


def wait_for(condition: Callable[[], Any], what: str) -> Any:
    """Poll ``condition`` until it is truthy (and return it), failing after the deadline."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Served:
    """A running emulator: its WebSocket URL, management endpoint and output."""

    def __init__(self, url: str, out: Output, err: Output) -> None:
        self.url = url
        self.endpoint = url.replace("ws://", "http://", 1)
        self.out = out
        self.err = err


@contextmanager
def serve(tmp_path: Path, *args: str, app: Path = CHAT) -> Iterator[Served]:
    """Start ``wsgate serve APP --port 0 ARGS`` on 127.0.0.1; stop it (SIGINT) afterwards."""
    env = dict(os.environ)
    env.update(
        WSGATE_REGISTRY=f"sqlite:///{tmp_path / 'registry.db'}",
        WSGATE_METRICS="on",
        WSGATE_METRICS_NAMESPACE="chat-e2e",
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        PYTHONUNBUFFERED="1",
    )
    env.pop("WSGATE_ENDPOINT", None)
    command = [sys.executable, "-m", "wsgate.cli", "serve", str(app), "--port", "0"]
    process = subprocess.Popen(
        # --metrics: the EMF lines on stdout, as on Lambda (by default they go to the dashboard).
        [*command, "--no-dashboard", "--metrics", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = Output(process.stdout), Output(process.stderr)
    try:
        found = wait_for(
            lambda: (
                re.search(r"WebSocket\s+(ws://127\.0\.0\.1:\d+/\S+)", out.text())
                or process.poll() is not None
            ),
            "the emulator to listen",
        )
        assert process.poll() is None, err.text()
        yield Served(found.group(1), out, err)
    finally:
        if process.poll() is None:
            # Every assertion is made by now: no need for the graceful (SIGINT) shutdown, which
            # waits for running invocations and background sweeps.
            process.terminate()
            try:
                process.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(DEADLINE)
        out.join()
        err.join()
        process.stdout.close()
        process.stderr.close()
