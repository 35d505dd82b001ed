"""``wsgate serve --template PATH`` without an APP: run the API the template declares.

Called by :mod:`wsgate.cli`; kept here so the command line module stays small.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsgate.local.apptemplate.loader import load_template_app, parse_overrides
from wsgate.local.apptemplate.runner import TemplateRunner, print_line, startup_line

if TYPE_CHECKING:
    from wsgate.local.authorizer import LocalAuthorizer
    from wsgate.local.config import EmulatorConfig
    from wsgate.local.server import Emulator

__all__ = ["serve_template", "start_template"]

logger = logging.getLogger("wsgate.local")


def _describe(runner: TemplateRunner) -> list[str]:
    app = runner.app
    lines = [f"template    {app.source} (stage {app.stage}, api {app.api_id})"]
    for key, route in sorted(app.routes.items()):
        target = app.functions[route.function].name if route.function else "(no function)"
        lines.append(f"route       {key} -> {target}")
    if runner.created_tables:
        lines.append("tables      " + ", ".join(runner.created_tables))
    if runner.services is not None:
        lines.append(f"services    {runner.services.endpoint}")
    lines.extend(f"note        {note}" for note in app.notes)
    return lines


async def start_template(
    runner: TemplateRunner,
    config: EmulatorConfig,
    *,
    reload: bool = False,
    authorizer: LocalAuthorizer | None = None,
) -> Emulator:
    """Start services, then the emulator, then the functions; returns the running emulator.

    ``authorizer`` (``--authorizer``) guards ``$connect`` in place of the template's own.

    The caller stops the emulator first (its ``$disconnect`` calls still reach the functions)
    and then calls ``runner.close()`` from another thread while the loop still runs (the
    functions' Runtime API is served on it).
    """
    from wsgate.local.server import Emulator

    await asyncio.to_thread(runner.start_services)
    # No wsgate.gateway calls run in this process: the functions post over HTTP(S).
    config = dataclasses.replace(config, in_process_sends=False, **runner.emulator_fields())
    emulator = Emulator(runner.app_spec(), config)
    await emulator.start()
    runner.start_functions(emulator.port, config.host, asyncio.get_running_loop())
    for problem in await asyncio.to_thread(runner.prepare):
        logger.warning("%s", problem)
    emulator.authorizer = authorizer or runner.authorizer(config.integration_timeout)
    if reload:
        emulator._spawn(_watch(runner))  # the emulator owns its task set
    return emulator


async def _watch(runner: TemplateRunner) -> None:
    from watchfiles import DefaultFilter, awatch

    roots = {Path(spec.code_root) for spec in runner.app.functions.values()}
    folders = sorted(str(p) for p in roots if p.is_dir())
    if not folders:
        return
    # Code only: the local registry (.wsgate/) may sit in the same folder and changes on every
    # connect; caches and dependencies are not the app's code.
    code = DefaultFilter(
        ignore_dirs=(*DefaultFilter.ignore_dirs, ".wsgate", ".aws-sam", ".serverless"),
        ignore_entity_patterns=(*DefaultFilter.ignore_entity_patterns, r"\.db(-journal|-wal)?$"),
    )
    async for changes in awatch(*folders, watch_filter=code):
        names = sorted({Path(path).name for _kind, path in changes})
        logger.info("code changed (%s): functions restart on their next call", ", ".join(names))
        runner.reload()


def serve_template(
    args: argparse.Namespace,
    config: EmulatorConfig,
    run_on_loop: Callable[[Callable[[], Coroutine[Any, Any, None]]], None],
) -> int:
    """Run ``wsgate serve --template`` until Ctrl-C; returns the exit status."""
    from wsgate.exceptions import ConfigurationError

    try:
        app = load_template_app(
            args.template,
            parameter_overrides=parse_overrides(args.parameter_overrides),
            api_id=args.api_id or None,
            region=args.region,
            stage=args.stage,
        )
    except ConfigurationError as exc:
        print_line(str(exc))
        return 2
    if not app.has_api:
        print_line(f"{app.source}: no WebSocket API to serve")
        return 2
    config = dataclasses.replace(config, stage=app.stage)
    authorizer = None
    if args.authorizer:
        from wsgate.local.authorizer import LocalAuthorizer

        try:
            authorizer = LocalAuthorizer.load(
                args.authorizer,
                identity_sources=args.identity_source,
                timeout=config.integration_timeout,
                region=app.region,
                account_id=app.account_id,
            )
        except ConfigurationError as exc:
            print_line(f"--authorizer {args.authorizer}: {exc}")
            return 2
    runner = TemplateRunner(app, aws_endpoint=args.aws_endpoint, tls=not args.no_tls)
    line = startup_line(app)
    if line:
        print_line(line)

    async def run() -> None:
        emulator = await start_template(runner, config, reload=args.reload, authorizer=authorizer)
        try:
            for text in _describe(runner):
                print(f"wsgate: {text}", flush=True)
            if authorizer is not None:
                replaced = runner.app.authorizer
                instead = (
                    f" (in place of the template's {runner.app.functions[replaced.function].name})"
                    if replaced is not None
                    else ""
                )
                print(f"wsgate: authorizer  {args.authorizer}{instead}", flush=True)
            print(f"wsgate: WebSocket   {emulator.ws_url}", flush=True)
            print(f"wsgate: @connections {emulator.endpoint}/@connections/{{id}}", flush=True)
            await emulator.serve_forever()
        finally:
            await emulator.stop()
            await asyncio.to_thread(runner.close)  # while the loop serves the Runtime API

    try:
        run_on_loop(run)
    except ConfigurationError as exc:
        print_line(str(exc))
        return 2
    except OSError as exc:
        print_line(f"cannot listen on {config.host}:{config.port}: {exc}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        runner.close()
    return 0
