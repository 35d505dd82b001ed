"""Functions run as Lambda runs them: a pool of instances per function, one per concurrent call.

``FunctionPool.invoke`` is blocking and thread-safe (the emulator calls it from its worker
threads). The first call starts an instance (a cold start); a finished instance waits, warm, for
the next call; calls that overlap start more instances, up to ``max_instances`` (further calls
wait for one to come free). An instance whose call passes the function's ``Timeout`` is killed,
as is one whose process dies; the next call starts a new one.

``FunctionPool.invoke_nowait`` is the warm path without a waiting thread: it hands the event to a
warm, free instance and returns a future (``None`` when a call would have to start or wait for
an instance).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsgate.exceptions import ConfigurationError
from wsgate.local.lambda_runtime.api import MAX_PAYLOAD, Invocation, Outcome
from wsgate.local.lambda_runtime.instance import Instance
from wsgate.local.lambda_runtime.launch import (
    FunctionLike,
    Launch,
    build_launch,
    forget_bytecode,
    runtime_kind,
)
from wsgate.local.lambda_runtime.logs import LogSink, terminal_log
from wsgate.local.lambda_runtime.service import RuntimeService

__all__ = ["FunctionPool", "InvokeResult"]

logger = logging.getLogger("wsgate.local")


@dataclass
class InvokeResult:
    """How one invocation ended.

    Attributes:
        request_id: The invocation's request id (the context's ``aws_request_id``).
        payload: The handler's return value, JSON-decoded; ``None`` when none or on error.
        error: Lambda's error document (``errorType``, ``errorMessage`` and the runtime's trace:
            ``stackTrace`` for Python, ``trace`` for Node.js) when the call failed.
        timed_out: The function's own ``Timeout`` passed; the instance was killed.
        cold: This call started a new instance.
        duration_ms: Wall time of the call, including a cold start.
    """

    request_id: str
    payload: Any
    error: Mapping[str, Any] | None
    timed_out: bool = False
    cold: bool = False
    duration_ms: float = 0.0


class FunctionPool:
    """The instances of one function: started on first use, reused warm, more when calls overlap.

    Args:
        spec: The function (a ``FunctionSpec``).
        extra_env: Merged over the function's own environment.
        max_instances: Most instances at once; further calls wait for one.
        python: Interpreter for ``python3.x`` functions (default: ``python3.x`` from ``PATH``
            if present, else the emulator's own).
        log: ``log(function_name, line)`` for each line the function prints; default
            :func:`~wsgate.local.lambda_runtime.logs.terminal_log`.
        node_options: Extra ``NODE_OPTIONS`` words.
        python_path: Directories put first on the function's ``PYTHONPATH``.
        init_timeout: Seconds an instance has to initialise (Lambda's 10 s init limit).
        node_sdk: Whether Node.js functions get the AWS SDK for JavaScript v3 (installed once
            into a per-user cache), as Lambda's Node.js runtime has it.
        loop: A running event loop to serve the Runtime API on (the emulator's), instead of the
            shared background loop thread; it must keep running until :meth:`close` returns,
            and the blocking methods (:meth:`invoke`, :meth:`restart`, :meth:`close`) must then
            be called from other threads.

    Raises:
        ConfigurationError: The function's runtime is not supported.
    """

    def __init__(
        self,
        spec: FunctionLike,
        *,
        extra_env: Mapping[str, str] = {},
        max_instances: int = 10,
        python: str | None = None,
        log: LogSink | None = None,
        node_options: Sequence[str] = (),
        python_path: Sequence[str] = (),
        init_timeout: float = 10.0,
        node_sdk: bool = True,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if max_instances < 1:
            raise ConfigurationError(f"max_instances must be at least 1, not {max_instances}")
        self.spec = spec
        self.kind = runtime_kind(spec.runtime)
        self.extra_env = dict(extra_env)
        self.max_instances = max_instances
        self.python = python
        self.log = log or terminal_log
        self.node_options = tuple(node_options)
        self.python_path = tuple(python_path)
        self.init_timeout = init_timeout
        self.node_sdk = node_sdk and self.kind == "node"
        self.loop = loop
        self._cond = threading.Condition()
        self._idle: list[Instance] = []  # most recently used last
        self._all: set[Instance] = set()
        self._generation = 0
        self._closed = False
        self._service: RuntimeService | None = None
        self._node_path: tuple[str, ...] | None = None
        self._stopping: set[asyncio.Task[None]] = set()

    def prepare(self) -> None:
        """Check what a first call needs, ahead of it (call at startup; optional).

        Installs the Node.js SDK into its cache if this is a Node.js function and it is not
        there yet (one progress line), so the first call does not wait for npm.

        Raises:
            ConfigurationError: The code root is not a folder.
        """
        root = Path(self.spec.code_root)
        if not root.is_dir():
            raise ConfigurationError(f"the code root of {self.spec.name} is not a folder: {root}")
        if self.node_sdk and self._node_path is None:
            self._node_path = self._sdk_path()

    @property
    def instances(self) -> int:
        """How many instances exist now (busy or warm)."""
        with self._cond:
            return len(self._all)

    def invoke(self, event: Any, *, timeout: float | None = None) -> InvokeResult:
        """Call the function with ``event`` (JSON-serialisable) and wait for it.

        Args:
            event: The event.
            timeout: Seconds the call may run, instead of the function's ``Timeout``.

        Returns:
            The outcome; handler errors, init errors, timeouts and crashes are results
            (``error`` set), never exceptions.

        Raises:
            ConfigurationError: The pool is closed.
            TypeError: ``event`` is not JSON-serialisable.
        """
        began = time.perf_counter()
        request_id = str(uuid.uuid4())
        body = json.dumps(event).encode()
        if len(body) > MAX_PAYLOAD:
            message = (
                f"Request must be smaller than {MAX_PAYLOAD} bytes for the InvokeFunction operation"
            )
            error = {"errorType": "RequestTooLargeException", "errorMessage": message}
            return InvokeResult(request_id, None, error)
        while True:
            instance, generation, cold = self._checkout()
            handed_over = False
            try:
                outcome = self._start(instance) if cold else None
                if outcome is None:
                    outcome, handed_over = self._call(instance, request_id, body, timeout)
            finally:
                self._checkin(instance, generation)
            # A warm instance that died before taking the event (its runtime crashed after
            # answering the previous one): Lambda would use a new environment; so do we.
            if cold or handed_over or outcome.error is None:
                break
        return _result(request_id, outcome, cold, began)

    def invoke_nowait(
        self, event: Any, *, timeout: float | None = None
    ) -> concurrent.futures.Future[InvokeResult] | None:
        """Start a call on a warm instance without blocking; ``None`` when none is free.

        The warm path of :meth:`invoke` without a thread of its own: the event goes straight to
        the Runtime API loop and the returned future is resolved there (callbacks added to it
        run on that loop's thread: keep them short). When no instance is warm and free (a
        cold start, or every instance busy), nothing is started: call :meth:`invoke` from a
        worker thread instead.

        Raises:
            ConfigurationError: The pool is closed.
            TypeError: ``event`` is not JSON-serialisable.
        """
        began = time.perf_counter()
        body = json.dumps(event).encode()
        request_id = str(uuid.uuid4())
        result: concurrent.futures.Future[InvokeResult] = concurrent.futures.Future()
        result.set_running_or_notify_cancel()
        if len(body) > MAX_PAYLOAD:
            result.set_result(self.invoke(event, timeout=timeout))
            return result
        with self._cond:
            if self._closed:
                raise ConfigurationError(f"the pool of {self.spec.name} is closed")
            if not self._idle:
                return None
            instance, generation = self._idle.pop(), self._generation
            service = self._service
        assert service is not None
        invocation = self._invocation(request_id, body, timeout)

        def finished(done: concurrent.futures.Future[Outcome]) -> None:  # on the loop
            handed_over = invocation.started > 0
            self._checkin(instance, generation, wait=False)
            try:
                outcome = done.result()
            except BaseException as exc:  # the hand-over itself failed
                result.set_exception(exc)
                return
            if handed_over or outcome.error is None:
                result.set_result(_result(request_id, outcome, False, began))
            else:  # the warm instance died before taking the event: as invoke() does
                retry = threading.Thread(target=self._retry, args=(event, timeout, result))
                retry.start()

        invocation.done.add_done_callback(finished)
        if service.on_loop():  # the emulator's loop serves the Runtime API: no hand-off at all
            instance.submit(invocation)
            return result
        try:
            service.loop.call_soon_threadsafe(instance.submit, invocation)
        except RuntimeError as exc:  # the loop is closed (the pool is closing)
            invocation.done.set_exception(exc)
        return result

    def restart(self) -> None:
        """Replace every instance on its next use (``--reload``): warm ones are killed now,
        busy ones when their call ends."""
        if self.kind == "python":
            forget_bytecode(self.spec.code_root)
        with self._cond:
            self._generation += 1
            idle, self._idle = self._idle, []
            self._all.difference_update(idle)
            self._cond.notify_all()
        for instance in idle:
            self._stop(instance)

    def close(self) -> None:
        """Kill every instance and wait for the processes to end; the pool cannot be used after."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            instances, self._idle = list(self._all), []
            self._all.clear()
            self._cond.notify_all()
            service, self._service = self._service, None
        for instance in instances:
            self._stop(instance, service)
        if service is not None:
            service.release()
        if self.kind == "python":  # the app's bytecode is not kept past the emulator's run
            forget_bytecode(self.spec.code_root)

    # --- instances -------------------------------------------------------------------------

    def _checkout(self) -> tuple[Instance, int, bool]:
        with self._cond:
            while True:
                if self._closed:
                    raise ConfigurationError(f"the pool of {self.spec.name} is closed")
                if self._idle:
                    return self._idle.pop(), self._generation, False
                if len(self._all) < self.max_instances:
                    if self._service is None:
                        self._service = RuntimeService.acquire(self.loop)
                    instance = Instance(
                        self.spec.name,
                        self._launch,
                        self.log,
                        self._service.logs,
                        init_timeout=self.init_timeout,
                    )
                    self._all.add(instance)
                    return instance, self._generation, True
                self._cond.wait()

    def _checkin(self, instance: Instance, generation: int, *, wait: bool = True) -> None:
        with self._cond:
            keep = instance.usable and generation == self._generation and not self._closed
            if keep:
                self._idle.append(instance)
            else:
                self._all.discard(instance)
            self._cond.notify()
        if not keep:
            if wait:
                self._stop(instance)
            else:  # on the loop, which the stop needs: from a thread of its own
                threading.Thread(target=self._stop, args=(instance,), daemon=True).start()

    def _retry(
        self, event: Any, timeout: float | None, result: concurrent.futures.Future[InvokeResult]
    ) -> None:
        try:
            result.set_result(self.invoke(event, timeout=timeout))
        except BaseException as exc:  # the pool closed meanwhile: the caller gets the error
            result.set_exception(exc)

    def _start(self, instance: Instance) -> Outcome | None:
        service = self._service
        assert service is not None
        if self.node_sdk and self._node_path is None:
            self._node_path = self._sdk_path()
        try:
            service.run(instance.start(), timeout=60)
        except Exception as exc:  # the interpreter or code root is missing, ...
            instance.dead = True
            message = f"cannot start the runtime of {self.spec.name}: {exc}"
            return Outcome(
                error={"errorType": "Runtime.InvalidEntrypoint", "errorMessage": message}
            )
        return None

    def _call(
        self, instance: Instance, request_id: str, body: bytes, timeout: float | None
    ) -> tuple[Outcome, bool]:
        service = self._service
        assert service is not None
        invocation = self._invocation(request_id, body, timeout)
        service.loop.call_soon_threadsafe(instance.submit, invocation)
        # The loop's timers end every invocation; the wait here is only a safety net.
        outcome = invocation.done.result(self.init_timeout + invocation.timeout + 60)
        return outcome, invocation.started > 0

    def _invocation(self, request_id: str, body: bytes, timeout: float | None) -> Invocation:
        return Invocation(
            request_id=request_id,
            body=body,
            timeout=float(timeout if timeout is not None else self.spec.timeout),
            arn=self.spec.arn or f"arn:aws:lambda:us-east-1:123456789012:function:{self.spec.name}",
            trace_id=f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
        )

    def _stop(self, instance: Instance, service: RuntimeService | None = None) -> None:
        service = service or self._service
        if service is None:
            return
        if service.on_loop():  # the emulator's own loop (a --reload): stop in the background
            task = service.loop.create_task(instance.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
            return
        try:
            service.run(instance.stop(), timeout=30)
        except Exception:  # the loop is gone (or this is its thread): kill without it
            instance.kill()
            logger.debug("stopping an instance of %s off its loop", self.spec.name, exc_info=True)

    def _launch(self, address: str) -> Launch:
        return build_launch(
            self.spec,
            runtime_api=address,
            extra_env=self.extra_env,
            python=self.python,
            python_path=self.python_path,
            node_options=self.node_options,
            node_path=self._node_path or (),
        )

    def _sdk_path(self) -> tuple[str, ...]:
        from wsgate.local.lambda_runtime.node_sdk import NodeSdkError, ensure_sdk

        try:
            return (str(ensure_sdk(progress=lambda line: self.log(self.spec.name, line))),)
        except NodeSdkError as exc:
            self.log(self.spec.name, f"[wsgate] the AWS SDK for JavaScript is not available: {exc}")
            return ()


def _result(request_id: str, outcome: Outcome, cold: bool, began: float) -> InvokeResult:
    payload = None
    if outcome.payload is not None and outcome.error is None:
        payload = _decode(outcome.payload)
    duration = (time.perf_counter() - began) * 1000
    return InvokeResult(request_id, payload, outcome.error, outcome.timed_out, cold, duration)


def _decode(body: bytes) -> Any:
    """The response as JSON; a runtime that posts something else gets its text back."""
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")
