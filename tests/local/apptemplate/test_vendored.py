"""The vendored public apps read as their authors deployed them."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsgate.local.apptemplate import load_template_app

VENDOR = Path(__file__).resolve().parent.parent / "apps" / "vendor"


def test_aws_simple_websockets_chat_app() -> None:
    app = load_template_app(VENDOR / "simple-websockets-chat-app" / "template.yaml")
    assert {k: r.function for k, r in app.routes.items()} == {
        "$connect": "OnConnectFunction",
        "$disconnect": "OnDisconnectFunction",
        "sendmessage": "SendMessageFunction",
    }
    send = app.functions["SendMessageFunction"]
    assert (send.runtime, send.handler, send.memory_mb) == ("nodejs20.x", "app.handler", 256)
    assert send.code_root == VENDOR / "simple-websockets-chat-app" / "sendmessage"
    assert send.environment == {"TABLE_NAME": "simplechat_connections"}
    assert app.tables["ConnectionsTable"].name == "simplechat_connections"
    assert app.stage == "Prod" and app.unsupported == ()


def test_aws_samples_python_sam_chat() -> None:
    app = load_template_app(VENDOR / "serverless-websocket-chat" / "template.yaml")
    assert set(app.routes) == {"$connect", "$disconnect", "$default"}
    default = app.functions["OnDefaultFunction"]
    assert default.code_root == VENDOR / "serverless-websocket-chat" / "websocket_demo"
    assert (default.handler, default.timeout, default.memory_mb) == ("handler.default", 3.0, 1024)
    table = app.tables["ConnectionsTable"]
    assert default.environment == {"DYNAMO_TABLE_NAME": table.name}
    assert [k["AttributeName"] for k in table.create_table_kwargs["KeySchema"]] == ["pk", "epoch"]


def test_brianz_serverless_yml_chat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENV", "demo")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    app = load_template_app(VENDOR / "noco-serverless-chat" / "serverless" / "serverless.yml")
    assert (app.stage, app.region) == ("demo", "us-west-2")
    assert {k: r.function for k, r in app.routes.items()} == {
        "$connect": "connect",
        "$disconnect": "disconnect",
        "command": "command",
        "$default": "default",
    }
    table = app.tables["ConnectionsTable"]
    assert table.name == "noco-sls-chat-demo-ConnectionsTable"
    assert app.functions["default"].environment == {"DYNAMO_TABLE_NAME": table.name}
    assert app.functions["default"].timeout == 6.0
    assert any("layers" in phrase for phrase in app.unsupported)  # its boto3 layer
