"""``wsgate template APP``: write the SAM template of an app (registered by ``wsgate.cli``)."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsgate._loading import import_error, import_file
from wsgate.exceptions import ConfigurationError, WsgateError

__all__ = ["LoadedApp", "add_template_command", "load_app"]

_DEFAULT_ATTRS = ("app", "handler", "lambda_handler", "main")


@dataclass(frozen=True, slots=True)
class _PlainFunction:
    """A plain ``handler(event, context)`` deploys as API Gateway's three predefined routes."""

    name: str
    route_keys: tuple[str, ...] = ("$connect", "$disconnect", "$default")
    two_way_route_keys: tuple[str, ...] = ()
    route_selection_expression: str = "$request.body.action"


@dataclass(frozen=True, slots=True)
class LoadedApp:
    """An app imported for deployment.

    Attributes:
        app: The ``WebSocketApp`` (or a description of a plain handler function).
        module: The Lambda handler's module path (``app`` or ``package.app``).
        attribute: The attribute holding the app in that module.
        folder: The folder to package as the function's code.
    """

    app: Any
    module: str
    attribute: str
    folder: Path

    @property
    def handler(self) -> str:
        """The Lambda ``Handler`` setting, ``module.attribute``."""
        return f"{self.module}.{self.attribute}"


def load_app(target: str) -> LoadedApp:
    """Import ``APP`` (``path/to/app.py``, ``path/to/app.py:attr`` or ``module:attr``).

    Without ``:attr`` the first of ``app``, ``handler``, ``lambda_handler``, ``main`` is used.

    Raises:
        ConfigurationError: the file, module or attribute is missing or not an app.
    """
    spec_text, _, attr = target.partition(":")
    try:
        if spec_text.endswith(".py") or "/" in spec_text or os.sep in spec_text:
            path = Path(spec_text).resolve()
            if not path.is_file():
                raise ConfigurationError(f"no such file: {spec_text}")
            folder, module_name = path.parent, path.stem
            module = import_file(path)
        else:
            module_name, folder = spec_text, Path.cwd()
            if str(folder) not in sys.path:
                sys.path.insert(0, str(folder))
            module = importlib.import_module(module_name)
    except WsgateError:
        raise
    except Exception as exc:
        raise import_error(spec_text, exc) from exc
    names = [attr] if attr else [n for n in _DEFAULT_ATTRS if hasattr(module, n)]
    if not names or not hasattr(module, names[0]):
        raise ConfigurationError(
            f"{spec_text} has no attribute {attr or ' / '.join(_DEFAULT_ATTRS)}"
        )
    obj = getattr(module, names[0])
    if not hasattr(obj, "route_keys"):
        if not callable(obj):
            raise ConfigurationError(f"{names[0]} is neither a WebSocketApp nor a function")
        obj = _PlainFunction(names[0])
    return LoadedApp(obj, module_name, names[0], folder)


def _run(args: argparse.Namespace) -> int:
    from wsgate.deploy.template import TemplateOptions, render_template

    try:
        loaded = load_app(args.app)
        out_dir = Path(args.output).resolve().parent if args.output else Path.cwd()
        code_uri = args.code_uri or os.path.relpath(loaded.folder, out_dir)
        options = TemplateOptions(
            stage=args.stage,
            table_name=args.table_name,
            memory=args.memory,
            timeout=args.timeout,
            code_uri=code_uri,
            handler=args.lambda_handler or loaded.handler,
            runtime=args.runtime,
            architecture=args.architecture,
            api_name=args.api_name,
            metrics_namespace=args.metrics_namespace,
            fanout=args.fanout,
            fanout_concurrency=args.fanout_concurrency,
        )
        text = render_template(loaded.app, options, source=args.app)
    except WsgateError as exc:
        print(f"wsgate: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wsgate: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def add_template_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``wsgate template`` on the CLI's subparsers."""
    parser = subparsers.add_parser(
        "template",
        help="write the SAM template (API, routes, function, table, IAM, alarms) for an app",
        description="Write a SAM template that deploys APP; see docs/deploy.md.",
    )
    parser.add_argument("app", metavar="APP", help="path/to/app.py[:attr] or module:attr")
    parser.add_argument("-o", "--output", help="write to this file (default: stdout)")
    parser.add_argument("--stage", default="prod", help="API stage name (default: prod)")
    parser.add_argument("--table-name", help="fixed DynamoDB table name (default: generated)")
    parser.add_argument("--memory", type=int, default=256, help="function memory, MB")
    parser.add_argument("--timeout", type=int, default=30, help="function timeout, seconds")
    parser.add_argument("--runtime", default="python3.12", help="Lambda runtime")
    parser.add_argument("--architecture", default="arm64", choices=("arm64", "x86_64"))
    parser.add_argument("--api-name", help="API name (default: the app's name or the stack's)")
    parser.add_argument("--code-uri", help="code folder relative to the template")
    parser.add_argument(
        "--handler", dest="lambda_handler", help="Lambda handler, module.attr (default: from APP)"
    )
    parser.add_argument("--metrics-namespace", default="wsgate", help="EMF namespace")
    parser.add_argument(
        "--fanout",
        action="store_true",
        help="hand large broadcasts to worker functions through SQS (docs/fanout.md)",
    )
    parser.add_argument(
        "--fanout-concurrency", type=int, default=10, help="most fan-out workers at once"
    )
    parser.set_defaults(handler=_run)
