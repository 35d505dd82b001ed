"""Headless Chromium (Playwright): two pages chat through the example app; the dashboard works."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from support import CHAT_APP
from support.chat import join_lobby
from wsgate.local.invoke import AppSpec

from .conftest import Recorder

pytestmark = pytest.mark.browser  # the browser fixture is in tests/conftest.py


def test_two_pages_chat_through_the_example_app(browser: Any, start_emulator: Any) -> None:
    running = start_emulator(str(CHAT_APP))
    url = f"http://127.0.0.1:{running.port}/"
    context = browser.new_context()
    try:
        ada, bob = context.new_page(), context.new_page()
        for page, name in ((ada, "ada"), (bob, "bob")):
            join_lobby(page, url, name)
            page.wait_for_selector("text=in lobby:", timeout=10_000)
        ada.wait_for_selector("#log >> text=bob joined lobby", timeout=10_000)
        bob.fill("#text", "hello from bob")
        bob.click("#send")
        ada.wait_for_selector("#log .message >> text=hello from bob", timeout=10_000)
        line = ada.locator("#log .message").last.inner_text()
        assert line == "[lobby] bob: hello from bob"
        ada.fill("#text", "hi bob")
        ada.press("#text", "Enter")
        bob.wait_for_selector("#log .message >> text=hi bob", timeout=10_000)
        bob.close()
        ada.wait_for_selector("#log >> text=bob left lobby", timeout=10_000)
    finally:
        context.close()


def test_dashboard_shows_sends_to_and_disconnects_a_connection(
    browser: Any, start_emulator: Any, recorder: Recorder
) -> None:
    running = start_emulator(AppSpec.from_object(recorder))
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{running.port}/_wsgate/")
        page.wait_for_selector("#feed-status.live", timeout=10_000)
        with connect(running.ws_url) as ws:
            cid = recorder.wait("CONNECT")[0]["requestContext"]["connectionId"]
            row = f'#connections tr[data-id="{cid}"]'
            page.wait_for_selector(row, timeout=10_000)
            ws.send("hello dashboard")
            page.wait_for_selector("#messages li.in >> text=hello dashboard", timeout=10_000)
            page.select_option("#send-to", cid)
            page.fill("#send-text", "hello client")
            page.click("#send-one")
            assert ws.recv(10) == "hello client"
            page.wait_for_selector("#messages li.out >> text=hello client", timeout=10_000)
            page.click(f"{row} button.disconnect")
            with pytest.raises(ConnectionClosed) as info:
                ws.recv(10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1000
        page.wait_for_selector(row, state="detached", timeout=10_000)
        ctx = recorder.wait("DISCONNECT")[0]["requestContext"]
        assert ctx["disconnectStatusCode"] == 1000
        # Fault switches from the page reach the emulator.
        page.fill('#faults-form [name="throttle"]', "0.5")
        page.click("#apply-faults")
        page.wait_for_selector("#faults-result >> text=applied", timeout=10_000)
        assert running.emulator.config.faults.as_dict()["throttle"] == 0.5
    finally:
        page.close()
