"""Public names of wsgate.observe and wsgate.deploy, and what importing them costs."""

from __future__ import annotations

import subprocess
import sys

import wsgate.deploy
import wsgate.observe


def test_observe_public_names() -> None:
    assert sorted(wsgate.observe.__all__) == [
        "EMFSink",
        "EventContextFilter",
        "JsonFormatter",
        "MetricSink",
        "Metrics",
        "PowertoolsSink",
        "add_event_context",
        "configure_logging",
        "get_logger",
        "get_metrics",
        "set_metrics",
    ]
    for name in wsgate.observe.__all__:
        assert getattr(wsgate.observe, name) is not None


def test_deploy_public_names() -> None:
    assert sorted(wsgate.deploy.__all__) == [
        "DYNAMODB_ACTIONS",
        "TableDefinition",
        "TemplateOptions",
        "build_template",
        "render_template",
        "table_definition",
    ]


def _loaded(code: str) -> str:
    code += "\nprint(sorted(m for m in ('boto3', 'botocore', 'asyncio') if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip().splitlines()[-1]


def test_observe_loads_no_aws_sdk_or_asyncio() -> None:
    assert _loaded("import sys, wsgate.observe, wsgate.observe.middleware") == "[]"


def test_template_generation_builds_no_aws_client() -> None:
    code = (
        "import sys\n"
        "from wsgate import WebSocketApp\n"
        "from wsgate.deploy import build_template\n"
        "app = WebSocketApp()\n"
        "app.route('x')(lambda e: None)\n"
        "build_template(app)"
    )
    # The registry module may import botocore for its error types; no client, no asyncio.
    assert "boto3" not in _loaded(code)
    assert "asyncio" not in _loaded(code)
