"""An ``async def`` app behaves the same in the test client and under ``wsgate serve``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wsgate.exceptions import HandshakeRejected
from wsgate.testing import RemoteTestClient, WebSocketTestClient

from .async_app import app, loops

APP_FILE = Path(__file__).resolve().parent / "async_app.py"
ID = r"[A-Za-z0-9_-]{15}="


@pytest.fixture(params=["inprocess", "emulator"])
def api(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "inprocess":
        loops.clear()
        with WebSocketTestClient(app, raise_server_exceptions=False) as client:
            yield client
        assert len(loops) == 1  # one thread here: one loop, reused by every invocation
    else:
        with RemoteTestClient.start(str(APP_FILE)) as client:
            yield client


def test_async_handlers_middleware_and_awaited_sends(api: Any) -> None:
    with pytest.raises(HandshakeRejected) as refused:
        api.connect("/")
    assert refused.value.status_code == 401
    with pytest.raises(HandshakeRejected) as crashed:
        api.connect("/?token=crash")
    assert crashed.value.status_code == 502  # the async $connect raised: a Lambda error
    with api.connect("/?token=ann") as ann, api.connect("/?token=bob") as bob:
        assert ann.response_headers.get("x-async-middleware") == "1"
        for _ in range(3):
            ann.send_json({"action": "hello", "name": "ann"})
            assert ann.receive_json() == {"hello": "ann"}
        ann.send_json({"action": "shout", "text": "hi"})
        got = sorted(json.dumps(ann.receive_json()) for _ in range(2))
        assert got == ['{"sent": 2}', '{"shout": "hi"}']
        assert bob.receive_json() == {"shout": "hi"}
        bob.send_json({"action": "echo", "text": "back"})
        assert bob.receive_json() == {"echo": "back"}
        bob.send_json({"action": "boom"})
        frame = bob.receive_text()
        assert re.fullmatch(
            rf'\{{"message": "Internal server error", '
            rf'"connectionId":"{re.escape(bob.connection_id)}", "requestId":"{ID}"\}}',
            frame,
        ), frame
        bob.send_json({"action": "echo", "text": "still open"})
        assert bob.receive_json() == {"echo": "still open"}


def test_an_async_handler_crash_is_raised_in_the_test() -> None:
    with (
        WebSocketTestClient(app) as client,
        client.connect("/?token=x") as ws,
        pytest.raises(ValueError, match="async message crash"),
    ):
        ws.send_json({"action": "boom"})
