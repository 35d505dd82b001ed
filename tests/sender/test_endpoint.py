"""Endpoint resolution: explicit → WSGATE_ENDPOINT → stored with the connection → event."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgate.context import LambdaContext
from wsgate.exceptions import ConfigurationError
from wsgate.registry.memory import MemoryRegistry
from wsgate.router import WebSocketApp
from wsgate.sender import CustomDomainWarning, Sender
from wsgate.sender.endpoint import (
    event_endpoint,
    is_custom_domain,
    parse_endpoint,
    split_url,
    split_url_general,
)

from .apistub import ApiStub

MakeSender = Callable[..., Sender]
EVENTS = Path(__file__).parent.parent / "events"


def test_explicit_beats_environment(
    stub: ApiStub, make_sender: MakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.connect("c1")
    monkeypatch.setenv("WSGATE_ENDPOINT", "http://127.0.0.1:9/elsewhere")
    make_sender(stub.endpoint).send("c1", "explicit")
    assert stub.received("c1") == [b"explicit"]


def test_environment_then_stored_endpoint(
    stub: ApiStub, make_sender: MakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.connect("c1")
    registry = MemoryRegistry()
    registry.store("c1", endpoint=stub.endpoint)
    make_sender(registry=registry).send("c1", "stored")
    monkeypatch.setenv("WSGATE_ENDPOINT", stub.endpoint)
    make_sender().send("c1", "env")
    assert stub.received("c1") == [b"stored", b"env"]


def test_current_event_endpoint_inside_a_handler(stub: ApiStub, make_sender: MakeSender) -> None:
    sender = make_sender()
    app = WebSocketApp()
    seen: list[Any] = []

    @app.route("echo")
    def echo(event: Any) -> None:
        sender.send(event.connection_id, {"echo": event.json["text"]})
        seen.append(sender._deadline())

    raw = json.loads((EVENTS / "message_custom.json").read_text())
    raw = copy.deepcopy(raw)
    raw["requestContext"]["domainName"] = f"127.0.0.1:{stub.port}"
    raw["requestContext"]["stage"] = stub.stage
    raw["requestContext"]["routeKey"] = "echo"
    raw["body"] = json.dumps({"action": "echo", "text": "héllo"})
    cid = raw["requestContext"]["connectionId"]
    stub.connect(cid)
    response = app.dispatch(raw, LambdaContext(timeout=5.0))
    assert response["statusCode"] == 200
    assert stub.received(cid) == ['{"echo":"héllo"}'.encode()]
    assert seen[0] is not None  # the Lambda context's remaining time became the deadline


def test_nothing_resolvable_is_a_configuration_error(make_sender: MakeSender) -> None:
    with pytest.raises(ConfigurationError, match="WSGATE_ENDPOINT"):
        make_sender().send("c1", "x")


@pytest.mark.parametrize(
    "url", ["wss://abc.execute-api.eu-west-1.amazonaws.com/prod", "ftp://x/y", "https://h/p?q=1"]
)
def test_malformed_endpoint(url: str) -> None:
    with pytest.raises(ConfigurationError):
        parse_endpoint(url)


def test_custom_domain_warns_once(make_sender: MakeSender) -> None:
    url = "https://ws.example.com/v1"
    assert is_custom_domain(url)
    assert not is_custom_domain("https://a1b2.execute-api.eu-west-1.amazonaws.com/prod")
    assert not is_custom_domain("http://localhost:3001/local")
    assert not is_custom_domain("http://127.0.0.1:3001/local")
    sender = make_sender(url, transport=_Null())
    with pytest.warns(CustomDomainWarning, match="custom domain"):
        sender.send("c1", "x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sender.send("c1", "y")  # no second warning for the same endpoint


def test_event_endpoint_prefers_execute_api_behind_custom_domain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    ctx = {"domainName": "ws.example.com", "stage": "prod", "apiId": "a1b2c3"}
    assert event_endpoint({"requestContext": ctx}) == (
        "https://a1b2c3.execute-api.eu-west-1.amazonaws.com/prod"
    )
    ctx["domainName"] = "a1b2c3.execute-api.eu-west-1.amazonaws.com"
    assert event_endpoint({"requestContext": ctx}) == (
        "https://a1b2c3.execute-api.eu-west-1.amazonaws.com/prod"
    )
    assert event_endpoint({"requestContext": {"domainName": "localhost:3001", "stage": "l"}}) == (
        "http://localhost:3001/l"
    )
    assert event_endpoint({"no": "context"}) is None


class _Null:
    """A transport that accepts everything (the recording kind the test client will use)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, bytes]] = []

    async def post(self, endpoint: str, connection_id: str, data: bytes) -> None:
        self.posts.append((endpoint, connection_id, data))

    async def get(self, endpoint: str, connection_id: str) -> Any:
        raise NotImplementedError

    async def delete(self, endpoint: str, connection_id: str) -> None:
        return None


_url_part = st.text(alphabet="aZ09.-_~%@:/?#[]!$&'()*+,;=é ", max_size=12)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["https", "HTTP", "http", "wss", "ftp", "https:"]),
    st.sampled_from(
        ["abc.execute-api.eu-west-1.amazonaws.com", "127.0.0.1", "LocalHost", "", "[::1]"]
    ),
    st.sampled_from(["", ":443", ":3001", ":0", ":99999", ":", ":08080", ":x"]),
    _url_part,
)
def test_split_url_fast_path_agrees_with_urlsplit(
    scheme: str, host: str, port: str, rest: str
) -> None:
    # split_url avoids importing urllib.parse for the usual endpoint; whatever it returns
    # (or raises) must be what urlsplit gives.
    url = f"{scheme}://{host}{port}{rest}"
    try:
        expected: object = split_url_general(url)
    except ValueError:
        expected = ValueError
    try:
        got: object = split_url(url)
    except ValueError:
        got = ValueError
    assert got == expected


def test_usual_endpoint_parses_without_urllib() -> None:
    code = (
        "import sys; from wsgate.sender.endpoint import parse_endpoint;"
        "e = parse_endpoint('https://abc.execute-api.eu-west-1.amazonaws.com/prod');"
        "assert e.canonical_prefix == '/prod' and e.port == 443, e;"
        "assert 'urllib.parse' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_execute_api_host_in_any_case() -> None:
    for url in (
        "HTTPS://A1B2.EXECUTE-API.EU-WEST-1.AMAZONAWS.COM/prod",
        "Https://a1b2.Execute-Api.eu-west-1.amazonaws.com/prod",
    ):
        ep = parse_endpoint(url)
        assert (ep.scheme, ep.host, ep.region) == (
            "https",
            "a1b2.execute-api.eu-west-1.amazonaws.com",
            "eu-west-1",
        )
        assert not is_custom_domain(url)
