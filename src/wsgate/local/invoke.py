"""Load the app (``APP`` argument) and call its handler like Lambda does, in worker threads."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import importlib.util
import logging
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsgate._loading import import_error, import_file
from wsgate.exceptions import ConfigurationError
from wsgate.local.template import load_template

__all__ = ["AppSpec", "Invoker", "Outcome", "load_app"]

logger = logging.getLogger("wsgate.local")

Handler = Callable[[dict[str, Any], Any], Any]
PREDEFINED = frozenset({"$connect", "$disconnect", "$default"})
_DEFAULT_ATTRS = ("app", "handler", "lambda_handler", "main")


@dataclass
class AppSpec:
    """The app as the emulator sees it: a handler plus the routes API Gateway would have.

    Attributes:
        handler: ``handler(event, context)``; for a ``WebSocketApp`` its ``dispatch``.
        route_keys: Every route key deployed (``$connect``/``$disconnect`` included if present).
        two_way_route_keys: Routes whose response ``body`` is sent back to the client.
        route_selection_expression: The API's selection expression.
        timeouts: Integration timeout per route key, overriding the emulator's default.
        name: Function name for the Lambda context.
        source: The file the app was loaded from (watched by ``--reload``).
        authorizer: The app's ``$connect`` authorizer (``WebSocketApp.authorizer_config``),
            run by :func:`wsgate.local.authorizer.app_authorizer`; ``None`` without one.
        app: The ``WebSocketApp`` itself (its AsyncAPI document is served), or ``None``.
        start: ``start(event)`` begins the same call as ``handler`` without blocking and
            returns a future of its result, or ``None`` when it cannot (the call then runs
            ``handler`` in a worker thread). Template apps use it for a warm function
            instance: the call needs no worker thread while the function runs elsewhere.
    """

    handler: Handler
    route_keys: frozenset[str]
    two_way_route_keys: frozenset[str] = frozenset()
    route_selection_expression: str = "$request.body.action"
    timeouts: dict[str, float] = field(default_factory=dict)
    name: str = "wsgate-local"
    source: Path | None = None
    authorizer: Any = None
    app: Any = None
    start: Callable[[dict[str, Any]], Future[Any] | None] | None = None

    @classmethod
    def from_object(cls, obj: Any, *, template: str | Path | None = None) -> AppSpec:
        """Describe a ``WebSocketApp`` or a plain handler function.

        A plain function without a template is wired to ``$connect``, ``$disconnect`` and
        ``$default`` (one-way), the routes a single-function deployment has.

        Raises:
            ConfigurationError: ``obj`` is neither, or the template cannot be read.
        """
        tpl = load_template(template) if template is not None else None
        if hasattr(obj, "dispatch") and hasattr(obj, "route_keys"):
            keys = frozenset(obj.route_keys)
            two_way = frozenset(getattr(obj, "two_way_route_keys", ()))
            expression = str(obj.route_selection_expression)
            handler: Handler = obj.dispatch
        elif callable(obj):
            keys, two_way, expression = PREDEFINED, frozenset(), "$request.body.action"
            handler = obj
        else:
            raise ConfigurationError(f"{obj!r} is neither a WebSocketApp nor a handler function")
        timeouts: dict[str, float] = {}
        if tpl is not None:
            keys, two_way = tpl.route_keys, tpl.two_way_route_keys
            expression, timeouts = tpl.route_selection_expression, dict(tpl.timeouts)
        name = getattr(obj, "__name__", type(obj).__name__)
        spec = cls(handler, keys, two_way, expression, timeouts, str(name))
        spec.authorizer = getattr(obj, "authorizer_config", None)
        spec.app = obj if hasattr(obj, "routes") else None
        return spec

    def select_route(self, body: str) -> str | None:
        """Pick the route key for a message body; ``None`` means send the Forbidden frame."""
        if any(not key.startswith("$") for key in self.route_keys):
            from wsgate.selection import select_route

            return select_route(self.route_selection_expression, body, self.route_keys)
        return "$default" if "$default" in self.route_keys else None


def load_app(target: str, *, template: str | Path | None = None) -> AppSpec:
    """Import ``APP`` (``path/to/app.py``, ``path/to/app.py:attr`` or ``module:attr``).

    Without ``:attr`` the first of ``app``, ``handler``, ``lambda_handler``, ``main`` found in
    the module is used. Importing runs the module's code afresh each call (``--reload``).

    Raises:
        ConfigurationError: The file or module or attribute is missing, or is not an app.
    """
    spec_text, _, attr = target.partition(":")
    if target.count(":") == 1 and len(spec_text) == 1:  # a Windows drive letter, not module:attr
        spec_text, attr = target, ""
    source: Path | None = None
    try:
        if spec_text.endswith(".py") or "/" in spec_text or Path(spec_text).is_file():
            source = Path(spec_text).resolve()
            if not source.is_file():
                raise ConfigurationError(f"no such file: {spec_text}")
            module = import_file(source)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            sys.modules.pop(spec_text, None)
            module = importlib.import_module(spec_text)
            file = getattr(module, "__file__", None)
            source = Path(file).resolve() if file else None
    except ConfigurationError:
        raise
    except Exception as exc:
        raise import_error(spec_text, exc) from exc
    names = [attr] if attr else [n for n in _DEFAULT_ATTRS if hasattr(module, n)]
    if not names or not hasattr(module, names[0]):
        wanted = attr or " / ".join(_DEFAULT_ATTRS)
        raise ConfigurationError(f"{spec_text} has no attribute {wanted}")
    app = AppSpec.from_object(getattr(module, names[0]), template=template)
    app.source = source
    return app


@dataclass
class Outcome:
    """How one invocation ended: ``ok`` (with ``result``), ``error`` or ``timeout``."""

    kind: str
    result: Any = None
    error: BaseException | None = None


def _make_context(request_id: str, timeout: float, name: str) -> Any:
    from wsgate.context import LambdaContext

    return LambdaContext(
        aws_request_id=request_id,
        function_name=name,
        deadline=time.time() + timeout,
    )


class Invoker:
    """Runs handlers in a bounded thread pool with a Lambda context and a timeout.

    Call from the emulator's event loop. :meth:`submit` reports through a callback on that
    loop (no task per message); :meth:`invoke` is the awaitable form.

    ``$connect``/``$disconnect`` integrations and authorizers run in a lane of their own
    (``control=True``): on AWS every invocation gets its own execution environment, so a
    client flooding messages never makes another client's handshake wait; in one shared
    pool a new ``$connect`` would queue behind every message already waiting.
    """

    def __init__(self, max_workers: int = 32) -> None:
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="wsgate-invoke")
        # As wide as the message pool, so a connection storm runs as many $connect
        # handlers at once as before (threads are started only when needed).
        self._control = ThreadPoolExecutor(max_workers, thread_name_prefix="wsgate-connect")
        #: Calls submitted and not yet reported (a timed-out call is reported at its timeout).
        self.in_flight = 0
        # Message calls submitted, not yet finished (loop-owned); control calls are not
        # dropped at a stop, so $disconnect still reaches the app.
        self._queued: set[Future[Any]] = set()

    def submit(
        self,
        app: AppSpec,
        event: dict[str, Any],
        request_id: str,
        timeout: float,
        done: Callable[[Outcome], None],
        *,
        control: bool = False,
        released: Callable[[], None] | None = None,
    ) -> None:
        """Start ``app.handler(event, context)``; ``done(outcome)`` runs on the loop later.

        Never raises for handler failures: they arrive as ``Outcome("error")``, a handler
        still running after ``timeout`` seconds as ``Outcome("timeout")``. ``released()``
        runs on the loop once the call no longer holds a worker (after a timeout that is
        when the handler really returns).
        """
        loop = asyncio.get_running_loop()
        reported = False

        def call() -> Any:
            return app.handler(event, _make_context(request_id, timeout, app.name))

        def report(outcome: Outcome) -> None:
            nonlocal reported
            if reported:
                return
            reported = True
            self.in_flight -= 1
            timer.cancel()
            done(outcome)

        def finished(future: Future[Any]) -> None:  # on the loop
            self._queued.discard(future)
            if released is not None:
                released()
            if future.cancelled():  # never started: the emulator is stopping
                report(Outcome("error", error=RuntimeError("the emulator is stopping")))
                return
            exc = future.exception()
            if exc is None:
                report(Outcome("ok", result=future.result()))
                return
            if not reported:
                route = event.get("requestContext", {}).get("routeKey")
                # Logged already with its traceback: by WebSocketApp.dispatch, or by a template
                # function's own process. One line here then.
                logged = getattr(exc, "_wsgate_logged", False) or getattr(exc, "function", None)
                logger.error(
                    "handler failed for %s (request %s): %s: %s",
                    route,
                    request_id,
                    type(exc).__name__,
                    exc,
                    exc_info=None if logged else exc,
                )
            report(Outcome("error", error=exc))

        self.in_flight += 1
        timer = loop.call_later(timeout, report, Outcome("timeout"))
        future = self._start(app, event)
        if future is None:
            try:
                future = (self._control if control else self._pool).submit(call)
            except RuntimeError as exc:  # the pool is shut down (the emulator is stopping)
                report(Outcome("error", error=exc))
                if released is not None:
                    released()
                return
            if not control:
                self._queued.add(future)
        # A thread cannot be killed: after a timeout the handler runs on, its result dropped.
        future.add_done_callback(lambda f: _call_soon(loop, finished, f))

    @staticmethod
    def _start(app: AppSpec, event: dict[str, Any]) -> Future[Any] | None:
        """The call already under way without a worker thread (``app.start``), if it can be."""
        if app.start is None:
            return None
        try:
            return app.start(event)
        except Exception as exc:  # reported as the handler's own failure would be
            failed: Future[Any] = Future()
            failed.set_exception(exc)
            return failed

    async def invoke(
        self,
        app: AppSpec,
        event: dict[str, Any],
        request_id: str,
        timeout: float,
        *,
        control: bool = False,
    ) -> Outcome:
        """Call ``app.handler(event, context)`` and wait; never raises for handler failures."""
        waiter: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        done = functools.partial(_settle, waiter)
        self.submit(app, event, request_id, timeout, done, control=control)
        return await waiter

    def call_sync(self, fn: Callable[[], Any], *, control: bool = False) -> Any:
        """Run a blocking callable in a pool (authorizers: ``control=True``; registry reads)."""
        return (self._control if control else self._pool).submit(fn)

    def cancel_queued(self) -> int:
        """Drop the calls still waiting for a worker (call from the loop when stopping).

        Under load thousands of messages can wait behind the pool; running them after their
        connections closed only delays the stop (and the ``$disconnect`` calls queued behind
        them) by up to the integration timeout. They are reported as errors ("the emulator is
        stopping"); calls already running finish, and ``$connect``/``$disconnect`` calls (their
        own lane) are never dropped. Returns how many were dropped.
        """
        return sum(1 for future in list(self._queued) if future.cancel())

    def shutdown(self) -> None:
        """Stop accepting work; running handlers finish on their own."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._control.shutdown(wait=False, cancel_futures=True)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[[Any], None], arg: Any) -> None:
    try:
        here = asyncio.get_running_loop()
    except RuntimeError:  # a worker thread
        here = None
    if here is loop:  # a call finished on the loop itself (AppSpec.start): report it now,
        fn(arg)  # before whatever else this loop step writes (the Runtime API's own answer)
        return
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
        loop.call_soon_threadsafe(fn, arg)


def _settle(waiter: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not waiter.done():
        waiter.set_result(outcome)
