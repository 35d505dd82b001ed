"""One execution environment: a child process running a runtime, and its Runtime API endpoint.

All coroutines here run on the :class:`RuntimeService` loop. The process runs in a session of
its own, so killing the instance (timeout, restart, close) kills whatever it started too.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable

from wsgate.local.lambda_runtime.api import Invocation, RuntimeEndpoint
from wsgate.local.lambda_runtime.launch import Launch
from wsgate.local.lambda_runtime.logs import LineSplitter, LogPump, LogSink

__all__ = ["Instance"]


class Instance:
    """A function instance: started once, then given invocations one at a time.

    Args:
        name: The function's name (log prefix).
        make_launch: Builds the command line given the endpoint's ``host:port``.
        log: Where each output line goes.
        logs: The log thread lines are queued to.
        init_timeout: Seconds the runtime has to ask for its first event.
    """

    def __init__(
        self,
        name: str,
        make_launch: Callable[[str], Launch],
        log: LogSink,
        logs: LogPump,
        *,
        init_timeout: float = 10.0,
    ) -> None:
        self.name = name
        self.make_launch = make_launch
        self.log = log
        self.logs = logs
        self.endpoint = RuntimeEndpoint(self.kill, init_timeout=init_timeout)
        self.process: asyncio.subprocess.Process | None = None
        self.pid = 0
        self.dead = False
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def usable(self) -> bool:
        """Whether it can take another invocation (alive, initialised without error)."""
        return not self.dead and self.endpoint.init_error is None

    async def start(self) -> None:
        """Listen, then start the process (raises ``OSError`` if it cannot be started)."""
        try:
            launch = self.make_launch(await self.endpoint.start())
            self.process = await asyncio.create_subprocess_exec(
                *launch.argv,
                cwd=launch.cwd,
                env=dict(launch.env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except BaseException:
            self.dead = True
            await self.endpoint.close()
            raise
        self.pid = self.process.pid
        self._tasks = [
            asyncio.create_task(self._pump(self.process)),
            asyncio.create_task(self._watch(self.process)),
        ]

    def submit(self, invocation: Invocation) -> None:
        """Hand an invocation to the runtime (on the loop)."""
        try:
            self.endpoint.submit(invocation)
        except Exception as exc:  # never leave the caller waiting
            if not invocation.done.done():
                invocation.done.set_exception(exc)

    def kill(self) -> None:
        """Kill the process and everything it started (on the loop); idempotent."""
        self.dead = True
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """Kill, wait for the process and its output to end, stop the endpoint."""
        self.kill()
        if self._tasks:
            try:
                await asyncio.wait_for(asyncio.gather(*self._tasks), 5)
            except TimeoutError:
                # Something that left the process group still holds the output pipe: stop
                # reading it rather than wait for it.
                transport = getattr(self.process, "_transport", None)
                if transport is not None:
                    transport.close()
        await self.endpoint.close()

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        self.dead = True
        self.endpoint.process_exited(code)
        # Like a sandbox torn down: nothing the function started outlives it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    async def _pump(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        splitter = LineSplitter()
        while True:
            chunk = await process.stdout.read(64 * 1024)
            if not chunk:
                break
            for line in splitter.feed(chunk):
                self.logs.put(self.log, self.name, line)
        for line in splitter.flush():
            self.logs.put(self.log, self.name, line)
