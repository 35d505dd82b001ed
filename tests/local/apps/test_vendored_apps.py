"""Public apps written by others, run unmodified from their own templates.

Each: two real clients chat, ``$disconnect`` cleans the table (read through boto3 on the local
services), and, where the API has no ``$default`` route, an unknown route gets ``Forbidden``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from websockets.sync.client import connect

from support import wait_until

from .conftest import VENDOR, Served

pytestmark = pytest.mark.timeout(600)


def _items(served: Served, logical_id: str) -> list[dict[str, Any]]:
    return list(served.table(logical_id).scan()["Items"])


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_aws_simple_websockets_chat_app_nodejs(serve: Callable[..., Served]) -> None:
    served = serve(VENDOR / "simple-websockets-chat-app" / "template.yaml")
    assert served.emulator.config.stage == "Prod"
    with connect(served.ws_url) as alice, connect(served.ws_url) as bob:
        wait_until(lambda: len(_items(served, "ConnectionsTable")) == 2, 60, "two connections")
        alice.send(json.dumps({"action": "sendmessage", "data": "hello from alice"}))
        assert bob.recv(60) == "hello from alice"
        assert alice.recv(60) == "hello from alice"  # the sample sends to every connection
        alice.send(json.dumps({"action": "nosuchroute"}))
        frame = json.loads(alice.recv(30))
        assert frame["message"] == "Forbidden" and "connectionId" in frame
    wait_until(lambda: _items(served, "ConnectionsTable") == [], 60, "the table emptied")


def _python_chat(served: Served, table: str) -> None:
    with connect(served.ws_url) as alice, connect(served.ws_url) as bob:
        rows = served.table(table)
        key = {"pk": "general:::connections", "epoch": 0}

        def members() -> int:
            item = rows.get_item(Key=key).get("Item", {})
            return sum(1 for name in item if name.startswith("CONN"))

        wait_until(lambda: members() == 2, 60, "two connections in #general")
        alice.send("/name alice")
        assert alice.recv(60) == "Set username to alice"
        alice.send("hello bob")  # not JSON: the $default route
        assert bob.recv(60) == "#general alice: hello bob"
    wait_until(lambda: members() == 0, 60, "$disconnect removed both connections")


def test_aws_samples_python_sam_chat(serve: Callable[..., Served]) -> None:
    served = serve(VENDOR / "serverless-websocket-chat" / "template.yaml")
    assert served.app.unsupported == ()
    _python_chat(served, "ConnectionsTable")


def test_brianz_serverless_yml_python_chat(
    serve: Callable[..., Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENV", "demo")  # its README: the stage comes from ${env:ENV}
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    served = serve(VENDOR / "noco-serverless-chat" / "serverless" / "serverless.yml")
    assert served.emulator.config.stage == "demo"
    _python_chat(served, "ConnectionsTable")
    # Its "command" route: {"action": "command", "data": "fetchChannels"} answers the sender.
    with connect(served.ws_url) as carol:
        carol.send(json.dumps({"action": "command", "data": "fetchChannels"}))
        assert json.loads(carol.recv(60)) == {"channelsList": ["general"]}
