"""The AsyncAPI 3.0 document: its content, the official parser's verdict, the CLI, and what
``wsgate serve`` serves at ``/_wsgate/asyncapi`` (JSON and a page, in a real browser)."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support import CHAT_APP, ROOT, ThreadedEmulator
from wsgate import Router, WebSocketApp
from wsgate.asyncapi import build_document
from wsgate.cli import main
from wsgate.local import EmulatorConfig
from wsgate.local.server import Emulator

from . import models as m

NODE_MODULES = ROOT / "tools" / "node" / "node_modules"
VALIDATE = Path(__file__).resolve().parent / "js" / "validate-asyncapi.mjs"


def parse(document: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """The official AsyncAPI parser's diagnostics and model of ``document``."""
    node = shutil.which("node")
    if node is None or not (NODE_MODULES / "@asyncapi" / "parser").is_dir():
        pytest.fail("node and @asyncapi/parser are needed (npm install in tools/node)")
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    proc = subprocess.run(
        [node, str(VALIDATE), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"WSGATE_NODE_MODULES": str(NODE_MODULES), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout.splitlines()[-1])
    return result


def rich_app() -> WebSocketApp:
    app = WebSocketApp(name="shapes")
    sub = Router()

    @app.connect(query=m.Meta)
    def on_connect(event: Any, query: m.Meta) -> None:
        """Open a connection."""

    @app.route("shape")
    def shape(event: Any, body: m.Shape) -> None:
        """Add a shape."""

    @app.route("person", two_way=True)
    def person(event: Any, body: m.Person) -> m.Reply:
        """Echo a person."""
        return m.Reply(echoed=body.name, length=1)

    @sub.route("note", body=m.Note)
    def note(event: Any, body: Any) -> None: ...

    @app.route("ping", two_way=True)
    def ping(event: Any) -> str:
        return "pong"

    @app.default
    def fallback(event: Any) -> None: ...

    @app.authorizer(identity_sources=["route.request.querystring.token"])
    def authorize(request: Any) -> Any: ...

    app.include_router(sub, prefix="notes/")
    app.server_message("shapeAdded", m.Shape, description="Someone added a shape.")

    @app.server_message("tree")
    class TreeMessage(m.Tree):
        pass

    return app


def test_the_document_describes_routes_replies_server_messages_and_connect(
    tmp_path: Path,
) -> None:
    doc = build_document(rich_app(), url="wss://abc123.execute-api.eu-west-1.amazonaws.com/prod")
    assert doc["asyncapi"] == "3.0.0" and doc["info"]["title"] == "shapes"
    assert doc["servers"]["default"]["host"] == "abc123.execute-api.eu-west-1.amazonaws.com"
    assert doc["servers"]["default"]["protocol"] == "wss"
    channel = doc["channels"]["connection"]
    assert channel["address"] == "/prod"
    assert doc["x-wsgate-route-selection"] == "$request.body.action"
    messages = doc["components"]["messages"]
    shape = messages["shape"]["payload"]
    assert shape["properties"]["action"] == {"const": "shape"}
    assert shape["required"] == ["action", "name", "points"]
    assert shape["properties"]["points"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Point"},
    }
    assert messages["shape"]["summary"] == "Add a shape."
    person = messages["person"]["payload"]
    assert person["properties"]["address"]["anyOf"][0] == {"$ref": "#/components/schemas/Address"}
    assert messages["person.reply"]["payload"] == {"$ref": "#/components/schemas/Reply"}
    assert messages["ping.reply"]["payload"] == {"type": "string"}
    assert messages["notes_note"]["payload"]["properties"]["action"] == {"const": "notes/note"}
    assert messages["shapeAdded"]["description"] == "Someone added a shape."
    ops = doc["operations"]
    assert ops["receive_shape"]["action"] == "receive" and "reply" not in ops["receive_shape"]
    assert ops["receive_person"]["reply"]["messages"] == [
        {"$ref": "#/channels/connection/messages/person.reply"}
    ]
    assert ops["send_shapeAdded"]["action"] == "send"
    assert ops["send_invalid_body"]["action"] == "send"
    ws = channel["bindings"]["ws"]
    assert ws["query"]["properties"] == {
        "source": {"type": "string"},
        "priority": {"type": "integer"},
        "token": {"type": "string"},
    }
    assert ws["query"]["required"] == ["token"]
    assert doc["components"]["securitySchemes"] == {
        "query_token": {
            "type": "httpApiKey",
            "name": "token",
            "in": "query",
            "description": "Identity source route.request.querystring.token of the $connect "
            "REQUEST authorizer (every identity source must be present).",
        }
    }
    schemas = doc["components"]["schemas"]
    assert schemas["TreeMessage"]["properties"]["children"]["items"] == {
        "$ref": "#/components/schemas/Tree"
    }
    assert schemas["Address"]["properties"]["zip"]["maxLength"] == 10

    verdict = parse(doc, tmp_path)
    assert verdict["errors"] == [] and verdict["warnings"] == []
    by_id = {op["id"]: op for op in verdict["operations"]}
    assert by_id["receive_person"]["reply"] == ["person.reply"]
    assert by_id["send_tree"]["action"] == "send"
    assert "wsgate.invalid" in verdict["messages"]


def test_the_parser_refuses_a_broken_document(tmp_path: Path) -> None:
    doc = build_document(rich_app())
    doc["operations"]["receive_shape"]["action"] = "subscribe"  # an AsyncAPI 2 word
    del doc["info"]["version"]
    verdict = parse(doc, tmp_path)
    paths = {e["path"] for e in verdict["errors"]}
    assert "operations.receive_shape.action" in paths and "info" in paths


def test_wsgate_asyncapi_writes_the_chat_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "chat.json"
    assert main(["asyncapi", str(CHAT_APP), "-o", str(out), "--stage", "dev"]) == 0
    doc = json.loads(out.read_text())
    assert doc["channels"]["connection"]["address"] == "/dev"
    payload = doc["components"]["messages"]["sendMessage"]["payload"]
    assert payload["required"] == ["action", "room", "text"]
    assert doc["components"]["messages"]["whoami.reply"]["payload"] == {
        "$ref": "#/components/schemas/Me"
    }
    assert "send_message" in doc["operations"]
    assert parse(doc, tmp_path)["errors"] == []
    assert main(["asyncapi", str(CHAT_APP), "--url", "http://x"]) == 2
    assert "ws:// or wss://" in capsys.readouterr().err


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ThreadedEmulator]:
    monkeypatch.setenv("WSGATE_REGISTRY", f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("WSGATE_ENDPOINT", raising=False)
    running = ThreadedEmulator(Emulator(rich_app(), EmulatorConfig(port=0)))
    yield running
    running.stop()


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return answer.status, answer.headers["Content-Type"], answer.read().decode()


def test_serve_serves_the_document_and_its_page(served: ThreadedEmulator, tmp_path: Path) -> None:
    base = f"http://127.0.0.1:{served.port}/_wsgate/asyncapi"
    status, kind, text = get(base + ".json")
    assert status == 200 and kind.startswith("application/json")
    doc = json.loads(text)
    assert doc == build_document(served.emulator.app.app, url=served.ws_url)
    assert doc["servers"]["default"]["protocol"] == "ws"
    assert parse(doc, tmp_path)["errors"] == []
    status, kind, page = get(base)
    assert status == 200 and kind.startswith("text/html")
    assert "http" not in page.replace("http-equiv", "")  # nothing loaded from elsewhere
    _, _, dashboard = get(f"http://127.0.0.1:{served.port}/_wsgate/")
    assert 'href="/_wsgate/asyncapi"' in dashboard


@pytest.mark.browser
def test_the_page_shows_routes_bodies_and_replies_in_a_browser(
    browser: Any, served: ThreadedEmulator
) -> None:
    page = browser.new_page()
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            None
            if request.url.startswith(f"http://127.0.0.1:{served.port}/")
            else outside.append(request.url)
        ),
    )
    try:
        page.goto(f"http://127.0.0.1:{served.port}/_wsgate/")
        page.click("#asyncapi-link")
        page.wait_for_selector("#doc-status.ok", timeout=10_000)
        assert page.inner_text("#api-title") == "shapes 1.0.0"
        assert page.inner_text("#api-selection") == "$request.body.action"
        assert page.inner_text("#api-server") == served.ws_url
        assert page.inner_text("#api-security") == "token (query)"
        shape = page.locator('#receive .operation[data-route="shape"]')
        assert shape.locator('li[data-field="name"]').inner_text() == "name: string required"
        points = shape.locator('li[data-field="points"]')
        assert points.locator('li[data-field="x"]').inner_text() == "x: integer required"
        person = page.locator('#receive .operation[data-route="person"]')
        assert "two-way" in person.locator("h3").inner_text()
        assert person.locator('.reply li[data-field="length"]').inner_text() == (
            "length: integer required"
        )
        assert page.locator('#send .operation[data-route="shapeAdded"]').count() == 1
        assert page.locator('#send .operation[data-route="wsgate.invalid"]').count() == 1
        assert "source: string" in page.inner_text("#connect")
    finally:
        page.close()
    assert outside == []
