"""The emulator dashboard shows presence rooms with their members (JSON API and page)."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest
from websockets.sync.client import connect

from .presence_app import make_app
from .test_emulator import _enter


def _connections(port: int) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/_wsgate/api/connections")
    data = json.loads(conn.getresponse().read())
    conn.close()
    return data


def test_connections_api_lists_presence_rooms_and_members(start_emulator: Any) -> None:
    app, _ = make_app()
    running = start_emulator(app, dashboard=True)
    url = running.ws_url
    with connect(f"{url}?user=ann") as a1, connect(f"{url}?user=ann") as a2:
        with connect(f"{url}?user=bob") as bob:
            for ws in (a1, a2, bob):
                _enter(ws, "lobby")
            _enter(bob, "kitchen")
            data = _connections(running.port)
            lobby = data["presence"]["lobby"]
            assert [m["userId"] for m in lobby] == ["ann", "bob"]
            assert len(lobby[0]["connections"]) == 2
            assert [m["userId"] for m in data["presence"]["kitchen"]] == ["bob"]
            # The registry rooms presence uses stay out of the rooms column.
            assert all(row["rooms"] == [] for row in data["connections"])
        data = _connections(running.port)
        assert list(data["presence"]) == ["lobby"]


@pytest.mark.browser
def test_dashboard_page_shows_the_members(browser: Any, start_emulator: Any) -> None:
    app, _ = make_app()
    running = start_emulator(app, dashboard=True)
    with connect(f"{running.ws_url}?user=ann") as ann, connect(f"{running.ws_url}?user=bob") as bob:
        ws_data = ({"name": "Ann"}, {})
        for ws, data in zip((ann, bob), ws_data, strict=True):
            ws.send(json.dumps({"action": "presence.enter", "room": "lobby", "data": data}))
            json.loads(ws.recv(10))
        page = browser.new_page()
        try:
            page.goto(f"http://127.0.0.1:{running.port}/_wsgate/")
            page.wait_for_selector(
                ".presence-room[data-room=lobby] li[data-user=bob]", timeout=10_000
            )
            items = page.locator(".presence-room[data-room=lobby] li").all_inner_texts()
            assert len(items) == 2
            assert items[0].startswith('ann {"name":"Ann"} · 1 connection(s)')
            assert items[1].startswith("bob · 1 connection(s)")
            assert page.inner_text("#presence-count") == "1"
        finally:
            page.close()
