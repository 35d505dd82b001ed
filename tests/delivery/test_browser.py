"""Headless Chromium: two tabs of the chat example; one goes offline and catches up."""

from __future__ import annotations

from typing import Any

import pytest

from support.chat import chat_server, join_lobby
from wsgate.testing.remote import EmulatorProcess

__all__ = ["chat_server"]  # the fixture, from support.chat

pytestmark = pytest.mark.browser  # the browser fixture is in tests/conftest.py


def _enter(page: Any, url: str, name: str) -> None:
    join_lobby(page, url, name)
    page.wait_for_selector("text=in lobby:", timeout=10_000)


def _messages(page: Any) -> list[str]:
    texts: list[str] = page.locator("#log .message").all_inner_texts()
    return texts


def test_a_tab_that_goes_offline_catches_up_in_order(
    browser: Any, chat_server: EmulatorProcess
) -> None:
    url = chat_server.base_url + "/"
    ada_context, bob_context = browser.new_context(), browser.new_context()
    try:
        ada, bob = ada_context.new_page(), bob_context.new_page()
        _enter(ada, url, "ada")
        _enter(bob, url, "bob")
        bob.fill("#text", "before")
        bob.press("#text", "Enter")
        ada.wait_for_selector("#log .message >> text=before", timeout=10_000)

        ada_context.set_offline(True)
        ada.evaluate("window.chatClient.drop()")  # the socket dies with the network
        ada.wait_for_selector("#status:not(.open)", timeout=10_000)
        for n in range(1, 6):
            # One at a time: messages sent at once are handled concurrently (as by Lambda) and
            # get their sequence numbers in whatever order the handlers run.
            bob.fill("#text", f"while away {n}")
            bob.press("#text", "Enter")
            bob.wait_for_selector(f"#log .message >> text=while away {n}", timeout=10_000)
        # Ada stays away until she has failed to reconnect at least twice.
        ada.wait_for_function("window.chatClient.attempt >= 3", timeout=15_000)
        assert not any("while away" in line for line in _messages(ada))

        ada_context.set_offline(False)
        ada.wait_for_selector("#log .message >> text=while away 5", timeout=20_000)
        ada.wait_for_selector(
            "#log .catchup >> text=caught up 5 message(s) in lobby", timeout=5_000
        )
        expected = ["[lobby] bob: before"] + [f"[lobby] bob: while away {n}" for n in range(1, 6)]
        assert _messages(ada) == expected
        assert _messages(bob) == expected

        ada.fill("#text", "back")
        ada.press("#text", "Enter")
        bob.wait_for_selector("#log .message >> text=back", timeout=10_000)
        assert _messages(ada)[-1] == "[lobby] ada: back"
    finally:
        ada_context.close()
        bob_context.close()
