"""Headless Chromium on the chat example: two tabs of one user and one of another.

One presence entry per user; closing one of the user's tabs is no leave, closing both is.
"""

from __future__ import annotations

from typing import Any

import pytest

from support.chat import chat_server, join_lobby
from wsgate.testing.remote import EmulatorProcess

__all__ = ["chat_server"]  # the fixture, from support.chat

pytestmark = pytest.mark.browser  # the browser fixture is in tests/conftest.py

ONLINE = "#online ul[data-room=lobby] li.member"


def _enter(page: Any, url: str, name: str) -> None:
    join_lobby(page, url, name)
    page.wait_for_selector(f"{ONLINE} >> text={name}", timeout=10_000)
    # Count what the page's presence reports, to prove no leave+join went by.
    page.evaluate(
        """() => {
          const p = window.chatPresence.get("lobby");
          window.seen = { join: [], leave: [] };
          p.onJoin((m) => window.seen.join.push(m.userId));
          p.onLeave((m) => window.seen.leave.push(m.userId));
          window.leaves = [];  // every presence.leave frame that reached the page
          window.chatClient.on("message", (m) => {
            if (m.data.type === "presence.leave") window.leaves.push(m.data);
          });
        }"""
    )


def _online(page: Any) -> list[str]:
    names: list[str] = page.locator(ONLINE).all_inner_texts()
    return names


def test_one_entry_per_user_and_a_leave_only_with_the_last_tab(
    browser: Any, chat_server: EmulatorProcess
) -> None:
    url = chat_server.base_url + "/"
    ann_context, bob_context = browser.new_context(), browser.new_context()
    try:
        ann1 = ann_context.new_page()
        _enter(ann1, url, "ann")
        bob = bob_context.new_page()
        _enter(bob, url, "bob")
        ann2 = ann_context.new_page()
        _enter(ann2, url, "ann")
        for page in (ann1, ann2, bob):
            page.wait_for_function(
                "document.querySelectorAll('#online ul[data-room=lobby] li.member').length === 2",
                timeout=10_000,
            )
            assert sorted(_online(page)) == ["ann", "bob"]

        ann1.close()  # one of ann's tabs: no leave
        bob.wait_for_timeout(5_000)  # longer than the client's 3 s grace period
        assert sorted(_online(bob)) == ["ann", "bob"]
        assert bob.evaluate("window.seen") == {"join": [], "leave": []}

        ann2.close()  # the last one: ann leaves
        bob.wait_for_function("window.seen.leave.includes('ann')", timeout=15_000)
        assert _online(bob) == ["bob"]
        assert bob.evaluate("window.seen.join") == []
    finally:
        ann_context.close()
        bob_context.close()


def test_a_reconnect_within_the_grace_period_shows_no_flicker(
    browser: Any, chat_server: EmulatorProcess
) -> None:
    url = chat_server.base_url + "/"
    ann_context, bob_context = browser.new_context(), browser.new_context()
    try:
        ann, bob = ann_context.new_page(), bob_context.new_page()
        _enter(ann, url, "ann")
        _enter(bob, url, "bob")
        bob.wait_for_function(
            "document.querySelectorAll('#online ul[data-room=lobby] li.member').length === 2",
            timeout=10_000,
        )
        ann.wait_for_function("window.seen.join.includes('bob')", timeout=10_000)
        for page in (ann, bob):
            page.evaluate("window.seen = { join: [], leave: [] }")  # count from here on
        # ann's socket dies; her $disconnect announces a leave, and her client reconnects and
        # enters again within the grace period: bob sees neither.
        ann.evaluate("window.chatClient.drop()")
        ann.wait_for_function("window.chatClient.state === 'open'", timeout=10_000)
        ann.wait_for_timeout(500)
        bob.wait_for_timeout(4_000)
        assert bob.evaluate("window.seen") == {"join": [], "leave": []}
        # ... though the leave did reach bob's page: the grace period absorbed it.
        assert [m["userId"] for f in bob.evaluate("window.leaves") for m in f["members"]] == ["ann"]
        assert sorted(_online(bob)) == ["ann", "bob"]
        assert ann.evaluate("window.seen") == {"join": [], "leave": []}
        assert sorted(_online(ann)) == ["ann", "bob"]
    finally:
        ann_context.close()
        bob_context.close()
