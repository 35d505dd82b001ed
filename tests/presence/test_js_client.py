"""Runs the Node tests of ``wsgate-presence.js`` (node's built-in test runner) against the
presence test app served by a real emulator."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.node import NODE, run_node_tests
from wsgate.delivery import client_js_path
from wsgate.presence import client_js_path as presence_js_path

from .presence_app import make_app

TESTS = Path(__file__).parent / "js"


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_js_presence_client_passes_its_node_tests(start_emulator: Any) -> None:
    app, _ = make_app(heartbeat=0.5, timeout=3.0)
    running = start_emulator(app)
    env = {
        "WSGATE_CLIENT_JS": str(client_js_path()),
        "WSGATE_PRESENCE_JS": str(presence_js_path()),
        "WSGATE_TEST_WS_URL": running.ws_url,
    }
    run_node_tests(TESTS, env, passed=3)
