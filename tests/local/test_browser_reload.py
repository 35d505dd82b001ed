"""The chat page's first hour in a real browser: first steps, reload keeps and rejoins, no 403s."""

from __future__ import annotations

import http.client
import json
from typing import Any

import pytest

from support import CHAT_APP, wait_until

pytestmark = pytest.mark.browser  # the browser fixture is in tests/conftest.py


def _connections(port: int) -> list[dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/_wsgate/api/connections")
        rows: list[dict[str, Any]] = json.loads(conn.getresponse().read())["connections"]
    finally:
        conn.close()
    return rows


def test_chat_page_keeps_name_and_room_across_a_reload(browser: Any, start_emulator: Any) -> None:
    running = start_emulator(str(CHAT_APP))
    context = browser.new_context()
    forbidden: list[str] = []
    try:
        page = context.new_page()
        page.on("response", lambda r: r.status == 403 and forbidden.append(r.url))
        page.goto(f"http://127.0.0.1:{running.port}/")
        page.wait_for_selector("#status.open", timeout=10_000)
        page.wait_for_selector("#log >> text=Start here", timeout=10_000)  # what to do first
        page.fill("#name", "ada")
        page.click("#set-name")
        page.wait_for_selector("text=you are now ada", timeout=10_000)
        page.fill("#room", "lobby")
        page.click("#join")
        page.wait_for_selector("text=in lobby:", timeout=10_000)
        page.fill("#room", "not a room!")  # refused by the app
        page.click("#join")
        page.wait_for_selector("#log .error >> text=room must be", timeout=10_000)

        page.reload()
        page.wait_for_selector("#status.open", timeout=10_000)
        page.wait_for_selector("#log >> text=welcome back, ada", timeout=10_000)
        page.wait_for_selector("text=you are now ada", timeout=10_000)
        page.wait_for_selector("text=in lobby:", timeout=10_000)  # rejoined by itself
        assert page.input_value("#name") == "ada"
        assert page.input_value("#room") == "lobby"
        (row,) = wait_until(
            lambda: [
                r
                for r in _connections(running.port)
                if r["userId"] == "ada" and r["rooms"] == ["lobby"]
            ]
        )

        # A dropped connection reconnects and rejoins lobby only: the refused room is not retried.
        running.client().delete_connection(ConnectionId=row["connectionId"])
        wait_until(
            lambda: [
                r
                for r in _connections(running.port)
                if r["connectionId"] != row["connectionId"] and r["rooms"] == ["lobby"]
            ]
        )
        page.wait_for_selector("#status.open", timeout=10_000)
        assert page.locator("#log .error >> text=room must be").count() == 0
        assert forbidden == [], forbidden  # the favicon included
    finally:
        context.close()


def test_a_new_tab_starts_filled_in_but_not_joined(browser: Any, start_emulator: Any) -> None:
    running = start_emulator(str(CHAT_APP))
    context = browser.new_context()
    try:
        first = context.new_page()
        first.goto(f"http://127.0.0.1:{running.port}/")
        first.wait_for_selector("#status.open", timeout=10_000)
        first.fill("#name", "ada")
        first.click("#set-name")
        first.wait_for_selector("text=you are now ada", timeout=10_000)
        second = context.new_page()
        second.goto(f"http://127.0.0.1:{running.port}/")
        second.wait_for_selector("#status.open", timeout=10_000)
        assert second.input_value("#name") == "ada"  # filled in from the last session
        second.wait_for_selector("#log >> text=Start here", timeout=10_000)
        assert second.locator("text=you are now").count() == 0  # not renamed behind its back
    finally:
        context.close()
