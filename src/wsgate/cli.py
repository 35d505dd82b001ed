"""The ``wsgate`` command line.

Each subcommand lives in one ``_add_<name>`` function that declares its arguments and sets
``handler``; add a new one to :data:`COMMANDS` and nothing else changes. Heavy imports happen
inside the handlers so ``wsgate --help`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import logging
import os
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
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
    parser.add_argument("app", metavar="APP")
    parser.add_argument("--host", default="127.0.0.1", help="listen address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=3001, help="port (3001; 0 picks one)")
    parser.add_argument("--stage", default="local", help="stage name (local)")
    parser.add_argument("--api-id", default="", help="requestContext.apiId (random)")
    parser.add_argument("--template", help="SAM/CloudFormation template with the routes")
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
        help="REQUEST authorizer run before $connect (default: the app's @app.authorizer)",
    )
    security.add_argument(
        "--identity-source",
        action="append",
        metavar="SOURCE",
        help="identity source of --authorizer, e.g. route.request.querystring.token "
        "(repeatable; default: the authorizer's own, else the Authorization header)",
    )
    faults = parser.add_argument_group("fault injection (all off by default)")
    faults.add_argument("--drop-disconnect", type=_share, default=0.0, metavar="SHARE")
    faults.add_argument("--throttle", type=_share, default=0.0, metavar="SHARE")
    faults.add_argument("--server-error", type=_share, default=0.0, metavar="SHARE")
    faults.add_argument("--latency-ms", type=float, default=0.0, metavar="MS")
    faults.add_argument("--random-close", type=_share, default=0.0, metavar="SHARE")
    faults.add_argument("--seed", type=int, default=None, help="seed for the fault dice")
    parser.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from wsgate.exceptions import ConfigurationError
    from wsgate.local.config import EmulatorConfig, Faults
    from wsgate.local.server import Emulator

    config = EmulatorConfig(
        host=args.host,
        port=args.port,
        stage=args.stage,
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
    )
    from wsgate.local.server import exposure_warning

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
        try:
            await emulator.serve_forever()
        finally:
            await emulator.stop()

    try:
        _run_on_sender_loop(run)
    except ConfigurationError as exc:
        print(f"wsgate: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"wsgate: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


def _add_template(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from wsgate.deploy.cli import add_template_command

    add_template_command(subparsers)


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
        future.result()
    except KeyboardInterrupt:
        future.cancel()  # main() runs its cleanup (``finally``) on the loop
        finished.wait(60)
        raise
    except concurrent.futures.CancelledError:
        finished.wait(60)


#: Subcommand registrars, in ``--help`` order.
COMMANDS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = [
    _add_serve,
    _add_template,
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
