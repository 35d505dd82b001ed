"""``wsgate serve --template examples/sam-chat/template.yaml`` as a user runs it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pytest
from websockets.sync.client import connect

from support import wait_until

from .conftest import EXAMPLES, Served

pytestmark = pytest.mark.timeout(300)


def _read_until(stream: IO[str], pattern: str, seen: list[str]) -> re.Match[str]:
    for line in stream:
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    raise AssertionError("wsgate serve ended early:\n" + "".join(seen))


def test_the_sam_chat_example_runs_from_the_command_line(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[3] / "src"))
    env["WSGATE_REGISTRY"] = f"sqlite:///{tmp_path / 'registry.db'}"
    env["WSGATE_CA_DIR"] = str(tmp_path / "ca")  # never the user's own CA
    template = EXAMPLES / "sam-chat" / "template.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "wsgate.cli", "serve", "--template", str(template), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    seen: list[str] = []
    try:
        assert process.stdout is not None
        services = _read_until(process.stdout, r"services\s+(\S+)", seen).group(1)
        url = _read_until(process.stdout, r"WebSocket\s+(ws://\S+)", seen).group(1)
        assert url.endswith("/dev")  # the template's stage
        import boto3

        table = boto3.resource(
            "dynamodb",
            endpoint_url=services,
            region_name="us-east-1",
            aws_access_key_id="t",
            aws_secret_access_key="t",
        ).Table("sam-chat-connections")
        with connect(url + "?name=ann") as ann, connect(url + "?name=bob") as bob:
            wait_until(lambda: len(table.scan()["Items"]) == 2, 60, "two connections")
            ann.send(json.dumps({"action": "send", "text": "hi bob"}))
            expected = {"from": "ann", "text": "hi bob"}
            assert json.loads(bob.recv(60)) == expected
            replies = {ann.recv(60), ann.recv(60)}  # the broadcast and the two-way reply
            assert replies == {json.dumps(expected), "sent 2"}
            ann.send(json.dumps({"action": "dance"}))
            assert json.loads(ann.recv(30))["message"] == "Forbidden"
        wait_until(lambda: table.scan()["Items"] == [], 60, "$disconnect emptied the table")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def test_aws_endpoint_uses_a_dynamodb_already_running(
    serve: Callable[..., Served], moto_server: Any
) -> None:
    import boto3

    served = serve(
        EXAMPLES / "sam-chat" / "template.yaml",
        aws_endpoint=moto_server.endpoint_url,
        parameter_overrides={"ConnectionsTableName": "chat-on-given-endpoint"},
        stage="prod",
    )
    assert served.runner.services is not None and not served.runner.services.owns_server
    assert served.ws_url.endswith("/prod")
    table = boto3.resource("dynamodb", **moto_server.boto_kwargs).Table("chat-on-given-endpoint")
    with connect(served.ws_url + "?name=cy") as ws:
        wait_until(lambda: table.scan()["Items"] != [], 60, "the connection stored")
        assert table.scan()["Items"] == [
            {"connectionId": table.scan()["Items"][0]["connectionId"], "name": "cy"}
        ]
        ws.send(json.dumps({"action": "send", "text": "solo"}))
        assert {ws.recv(60), ws.recv(60)} == {json.dumps({"from": "cy", "text": "solo"}), "sent 1"}
    wait_until(lambda: table.scan()["Items"] == [], 60, "$disconnect emptied the table")
