"""Fixtures for the function runtime tests: real function processes from small code roots.

``Spec`` stands in for ``wsgate.local.apptemplate.FunctionSpec`` (same fields); ``make_pool``
writes a code root and opens a :class:`FunctionPool` on it, closed at teardown; ``LogLines``
records what functions print.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from support import wait_until
from wsgate.local.lambda_runtime import FunctionPool

#: The runtime whose interpreter is the one running the tests.
PYTHON = f"python{sys.version_info[0]}.{sys.version_info[1]}"


#: A Python function that echoes its event, sleeps or exits when asked.
APP = {
    "app.py": """
        import os, time
        print("init", os.getpid())

        def handler(event, context):
            print("handling", event.get("n"))
            if event.get("sleep"):
                time.sleep(event["sleep"])
            if event.get("exit"):
                os._exit(3)
            return {"pid": os.getpid(), "event": event}
    """
}


@dataclass(frozen=True)
class Spec:
    """The fields of ``wsgate.local.apptemplate.FunctionSpec``."""

    logical_id: str
    name: str
    runtime: str
    handler: str
    code_root: Path
    environment: Mapping[str, str] = field(default_factory=dict)
    timeout: float = 3.0
    memory_mb: int = 128
    arn: str = ""


class LogLines:
    """A log sink that records ``(function name, line)`` pairs."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, name: str, line: str) -> None:
        with self.lock:
            self.lines.append((name, line))

    def of(self, name: str) -> list[str]:
        with self.lock:
            return [line for n, line in self.lines if n == name]

    def wait(self, name: str, text: str, timeout: float = 15.0) -> str:
        return wait_until(
            lambda: next((line for line in self.of(name) if text in line), None),
            timeout,
            f"{text!r} in the logs of {name}",
        )


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (relative path -> dedented text) under ``root``."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture
def logs() -> LogLines:
    return LogLines()


@pytest.fixture
def make_pool(tmp_path: Path, logs: LogLines) -> Iterator[Callable[..., FunctionPool]]:
    pools: list[FunctionPool] = []

    def make(
        files: Mapping[str, str],
        *,
        name: str = "Fn",
        runtime: str = PYTHON,
        handler: str = "app.handler",
        environment: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        folder: str | None = None,
        **kwargs: Any,
    ) -> FunctionPool:
        root = write_tree(tmp_path / (folder or name), files)
        spec = Spec(name, name, runtime, handler, root, dict(environment or {}), timeout)
        kwargs.setdefault("log", logs)
        pool = FunctionPool(spec, **kwargs)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


@pytest.fixture(scope="session")
def node_sdk() -> Path:
    """The AWS SDK for JavaScript v3 cache, installed once per machine (npm, from the registry)."""
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH")
    from wsgate.local.lambda_runtime.node_sdk import ensure_sdk

    return ensure_sdk()


@pytest.fixture
def node(node_sdk: Path) -> Path:
    return node_sdk
