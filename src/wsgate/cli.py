"""The ``wsgate`` command line.

Each subcommand lives in one ``_add_<name>`` function that declares its arguments and sets
``handler``; add a new one to :data:`COMMANDS` and nothing else changes. Heavy imports happen
inside the handlers so ``wsgate --help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

__all__ = ["COMMANDS", "build_parser", "main"]


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def _add_serve(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run an app in the local API Gateway WebSocket emulator",
        description=(
            "Serve APP (path/to/app.py, path/to/app.py:attr or module:attr; a WebSocketApp or "
            "any Lambda handler) at ws://HOST:PORT/STAGE, with the @connections Management API "
            "at http://HOST:PORT/STAGE/@connections/{id} and a dashboard at /_wsgate/."
        ),
    )
    parser.add_argument(
        "app", metavar="APP", nargs="?", help="omit with --template: run the template's functions"
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=3001, help="port (3001; 0 picks one)")
    parser.add_argument("--stage", default=None, help="stage name (the template's, else local)")
    parser.add_argument("--api-id", default="", help="requestContext.apiId (random)")
    parser.add_argument(
        "--template",
        help="SAM/CloudFormation template or serverless.yml; without APP its functions run",
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="+",
        metavar="KEY=VALUE",
        help="template parameters (serverless.yml: ${param:KEY} and ${opt:KEY})",
    )
    parser.add_argument(
        "--aws-endpoint",
        metavar="URL",
        help="DynamoDB/SQS already running (DynamoDB Local, LocalStack, moto_server)",
    )
    parser.add_argument("--region", help="AWS region of a template run (us-east-1)")
    parser.add_argument(
        "--no-tls",
        action="store_true",
        help="plain HTTP/WebSocket only; a TLS handshake is refused at once (default: the port "
        "answers https:// and wss:// too, with a certificate from a local CA)",
    )
    parser.add_argument("--reload", action="store_true", help="re-import APP on code change")
    parser.add_argument(
        "--static", help="folder served at / (default: APP's folder if it has index.html)"
    )
    parser.add_argument(
        "--timeout", type=float, default=29.0, help="integration timeout, seconds (29)"
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=600.0, help="idle close, seconds (600)"
    )
    parser.add_argument(
        "--max-duration", type=float, default=7200.0, help="hard close, seconds (7200)"
    )
    parser.add_argument("--workers", type=int, default=32, help="handler threads (32)")
    parser.add_argument(
        "--fanout",
        type=int,
        default=0,
        metavar="N",
        help="run N wsgate.fanout workers on a local SQS queue (WSGATE_FANOUT_QUEUE_URL)",
    )
    parser.add_argument(
        "--no-compression", action="store_true", help="refuse permessage-deflate offers"
    )
    parser.add_argument("--no-dashboard", action="store_true", help="do not serve /_wsgate/")
    parser.add_argument(
        "--http-sends",
        action="store_true",
        help="wsgate.gateway sends from handlers go over HTTP, not in-process",
    )
    security = parser.add_argument_group("security")
    security.add_argument(
        "--verify-signatures",
        action="store_true",
        help="require SigV4-signed @connections calls (403 otherwise, as AWS)",
    )
    security.add_argument(
        "--authorizer",
        metavar="MODULE:ATTR",
        help="REQUEST authorizer run before $connect (default: the app's @app.authorizer; "
        "with --template it replaces the template's authorizer)",
    )
    security.add_argument(
        "--identity-source",
        action="append",
        metavar="SOURCE",
        help="identity source of --authorizer, e.g. route.request.querystring.token "
        "(repeatable; default: the authorizer's own, else the Authorization header)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="write the app's metrics as CloudWatch EMF lines on stdout, as on Lambda "
        "(default: shown on the dashboard)",
    )
    security.add_argument(
        "--dashboard-actions",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="allow (or forbid) sending, disconnecting and changing faults from the "
        "dashboard (default: allowed on loopback only; read-only beyond it)",
    )
    faults = parser.add_argument_group(
        "fault injection (all off by default; also switchable on the dashboard)"
    )
    faults.add_argument(
        "--drop-disconnect",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="share (0..1) of $disconnect invocations silently skipped, as best-effort "
        "delivery allows",
    )
    faults.add_argument(
        "--throttle",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="share of @connections calls answered 429 LimitExceededException",
    )
    faults.add_argument(
        "--server-error",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="share of @connections calls answered 500 InternalServerErrorException",
    )
    faults.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="milliseconds added before every @connections call",
    )
    faults.add_argument(
        "--random-close",
        type=_share,
        default=0.0,
        metavar="SHARE",
        help="share of client messages after which the connection is dropped (1006)",
    )
    faults.add_argument(
        "--seed", type=int, default=None, help="seed for the fault dice (reproducible runs)"
    )
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from wsgate.exceptions import ConfigurationError
    from wsgate.local.config import EmulatorConfig, Faults
    from wsgate.local.server import Emulator

    if args.app is None and args.template is None:
        print("wsgate: serve needs APP, or --template PATH", file=sys.stderr)
        return 2
    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        stage=args.stage or "local",
        api_id=args.api_id,
        integration_timeout=args.timeout,
        idle_timeout=args.idle_timeout,
        max_duration=args.max_duration,
        max_workers=args.workers,
        compression=not args.no_compression,
        dashboard=not args.no_dashboard,
        static_dir=args.static,
        in_process_sends=not args.http_sends,
        faults=Faults(seed=args.seed, **{name: getattr(args, name) for name in Faults.FIELDS}),
        verify_signatures=args.verify_signatures,
        dashboard_actions=args.dashboard_actions,
        emf_metrics=args.metrics,
    )
    from wsgate.local.server import exposure_warning

    if args.app is None:
        from wsgate.local.apptemplate.command import serve_template

        warning = exposure_warning(config.host, config.verify_signatures)
        if warning:
            print(f"wsgate: WARNING: {warning}", file=sys.stderr, flush=True)
        return serve_template(args, config, _run_on_sender_loop)
    ca_bundle = None
    if not args.no_tls:
        # https://{domainName}/{stage} reaches the emulator too, as it does AWS.
        from dataclasses import replace

        from wsgate.local.tls import LocalCA

        try:
            ca = LocalCA.load_or_create()
        except ConfigurationError as exc:
            print(f"wsgate: {exc} (or run with --no-tls)", file=sys.stderr)
            return 2
        config = replace(config, tls=ca.server_context())
        ca_bundle = ca.ca_bundle
    emulator = Emulator(args.app, config, template=args.template, reload=args.reload)

    async def run() -> None:
        await emulator.start()
        if args.authorizer:
            from wsgate.local.authorizer import LocalAuthorizer

            emulator.authorizer = LocalAuthorizer.load(
                args.authorizer,
                identity_sources=args.identity_source,
                timeout=config.integration_timeout,
            )
        warning = exposure_warning(config.host, config.verify_signatures)
        if warning:
            print(f"wsgate: WARNING: {warning}", file=sys.stderr, flush=True)
        print(f"wsgate: WebSocket   {emulator.ws_url}", flush=True)
        print(f"wsgate: @connections {emulator.endpoint}/@connections/{{id}}", flush=True)
        print(f"wsgate: dashboard   {emulator.dashboard_url}_wsgate/", flush=True)
        if ca_bundle is not None:
            print(
                f"wsgate: TLS         https:// and wss:// on this port (CA {ca_bundle})", flush=True
            )
        fanout = None
        if args.fanout:
            from wsgate.fanout.local import LocalFanout

            fanout = LocalFanout(args.fanout, endpoint=args.aws_endpoint)
            await asyncio.get_running_loop().run_in_executor(None, fanout.start)
            print(f"wsgate: fan-out     {args.fanout} workers on {fanout.queue_url}", flush=True)
        try:
            await emulator.serve_forever()
        finally:
            if fanout is not None:
                fanout.stop()
            await emulator.stop()

    try:
        with _stop_signals():
            _run_on_sender_loop(run)
    except ConfigurationError as exc:
        print(f"wsgate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"wsgate: port {args.port} on {args.host} is already in use (another "
                f"wsgate serve?): pick another with --port {args.port + 1}, or --port 0 "
                "for a free one",
                file=sys.stderr,
            )
        else:
            print(f"wsgate: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """SIGINT and SIGTERM stop ``wsgate serve`` cleanly, whatever the parent set up.

    A shell script's background job, ``nohup`` or a test runner may start the process with
    SIGINT ignored (Python then installs no ``KeyboardInterrupt`` handler), and SIGTERM
    would kill it without ``$disconnect``. Both become ``KeyboardInterrupt`` in the main
    thread, which stops the emulator (its ``finally``); a second signal ends the wait.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _add_template(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from wsgate.deploy.cli import add_template_command

    add_template_command(subparsers)


def _add_asyncapi(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "asyncapi",
        help="write the AsyncAPI 3.0 document of an app (routes, bodies, replies)",
        description="Write the AsyncAPI 3.0 document of APP as JSON; see docs/bodies.md.",
    )
    parser.add_argument("app", metavar="APP", help="path/to/app.py[:attr] or module:attr")
    parser.add_argument("-o", "--output", help="write to this file (default: stdout)")
    parser.add_argument(
        "--url", help="the stage URL, e.g. wss://abc.execute-api.eu-west-1.amazonaws.com/prod"
    )
    parser.add_argument("--stage", default="prod", help="stage name without --url (prod)")
    parser.add_argument("--title", help="info.title (default: the app's name)")
    parser.add_argument("--api-version", default="1.0.0", help="info.version (1.0.0)")
    parser.set_defaults(handler=_asyncapi)


def _asyncapi(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wsgate.asyncapi import build_document, render
    from wsgate.deploy.cli import load_app
    from wsgate.exceptions import WsgateError

    try:
        loaded = load_app(args.app)
        if not hasattr(loaded.app, "routes"):
            print("wsgate: APP must be a WebSocketApp to describe its routes", file=sys.stderr)
            return 2
        document = build_document(
            loaded.app,
            url=args.url,
            stage=args.stage,
            title=args.title,
            version=args.api_version,
        )
    except (WsgateError, ValueError, TypeError) as exc:
        print(f"wsgate: {exc}", file=sys.stderr)
        return 2
    text = render(document)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wsgate: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _run_on_sender_loop(main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``main()`` on wsgate's sender loop (its background thread) until it ends or Ctrl-C.

    Handlers call ``wsgate.gateway`` from worker threads, and the sender runs those calls on
    its own loop. When the emulator runs on that same loop, a handler's send reaches the
    connection in one thread hand-off instead of two, which is most of a round trip here.
    """
    from wsgate.sender import loop as sender_loop

    loop = sender_loop.get_loop()
    finished = threading.Event()

    async def wrapper() -> None:
        try:
            await main()
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(wrapper(), loop)
    try:
        # Short waits, not one long one: a signal the kernel delivers to another thread (the
        # loop's, a worker's) runs its Python handler only once the main thread wakes up, and
        # a main thread blocked on a lock without a timeout never would (Ctrl-C ignored).
        while not concurrent.futures.wait([future], timeout=_WAKE_UP)[0]:
            pass
        future.result()
    except KeyboardInterrupt:
        future.cancel()  # main() runs its cleanup (``finally``) on the loop
        _wait(finished, 60)
        raise
    except concurrent.futures.CancelledError:
        _wait(finished, 60)


_WAKE_UP = 0.2
"""Seconds between the main thread's wake-ups while ``wsgate serve`` runs (signal handling)."""


def _wait(event: threading.Event, timeout: float) -> None:
    """``event.wait(timeout)`` in short steps, so a second Ctrl-C is seen at once."""
    deadline = time.monotonic() + timeout
    while not event.wait(_WAKE_UP) and time.monotonic() < deadline:
        pass


#: Subcommand registrars, in ``--help`` order.
COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_serve,
    _add_template,
    _add_asyncapi,
]


def _version() -> str:
    from wsgate import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    """The full ``wsgate`` parser (every registered subcommand)."""
    parser = argparse.ArgumentParser(prog="wsgate", description="wsgate command line")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"wsgate {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wsgate`` script; returns the exit status."""
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
