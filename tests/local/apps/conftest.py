"""Template apps served the way ``wsgate serve --template`` serves them, in this process.

``serve(path, **options)`` reads the template, starts the local services, the emulator (on a
free port, on a loop of its own) and the function processes; everything is stopped at teardown
(the emulator first, so ``$disconnect`` still reaches the functions).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wsgate.local.apptemplate import TemplateApp, load_template_app
from wsgate.local.apptemplate.command import start_template
from wsgate.local.apptemplate.runner import TemplateRunner
from wsgate.local.config import EmulatorConfig
from wsgate.local.server import Emulator

VENDOR = Path(__file__).resolve().parent / "vendor"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@dataclass
class Served:
    """A running template app: its model, runner, emulator and captured function logs."""

    app: TemplateApp
    runner: TemplateRunner
    emulator: Emulator
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    logs: list[tuple[str, str]]

    @property
    def ws_url(self) -> str:
        return self.emulator.ws_url

    def dynamodb(self) -> Any:
        """A boto3 DynamoDB resource on the local services (what the functions use)."""
        import boto3

        assert self.runner.services is not None
        return boto3.resource(
            "dynamodb",
            endpoint_url=self.runner.services.endpoint,
            region_name=self.app.region,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    def table(self, logical_id: str) -> Any:
        return self.dynamodb().Table(self.app.tables[logical_id].name)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(60)
        self.runner.close()
        _end(self.loop, self.thread)


def _end(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    loop.call_soon_threadsafe(loop.stop)
    thread.join(30)
    loop.close()


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Served]]:
    """``serve(template_path, stage=..., parameter_overrides=..., timeout=..., reload=...,
    authorizer=...)``."""
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'registry.db'}")
    started: list[Served] = []

    def start(
        path: Path,
        *,
        timeout: float = 29.0,
        reload: bool = False,
        aws_endpoint: str | None = None,
        authorizer: Any = None,
        **options: Any,
    ) -> Served:
        app = load_template_app(path, **options)
        logs: list[tuple[str, str]] = []
        lock = threading.Lock()

        def log(name: str, line: str) -> None:
            with lock:
                logs.append((name, line))

        runner = TemplateRunner(app, log=log, ca_dir=tmp_path / "ca", aws_endpoint=aws_endpoint)
        config = EmulatorConfig(port=0, stage=app.stage, integration_timeout=timeout)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="template-emulator", daemon=True)
        thread.start()
        try:
            emulator = asyncio.run_coroutine_threadsafe(
                start_template(runner, config, reload=reload, authorizer=authorizer), loop
            ).result(120)
        except BaseException:
            runner.close()
            _end(loop, thread)
            raise
        served = Served(app, runner, emulator, loop, thread, logs)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
