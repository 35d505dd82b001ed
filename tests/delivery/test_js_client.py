"""Runs the Node tests of ``wsgate-client.js`` (node's built-in test runner) against the
delivery test app served by real emulators."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from support.node import NODE, run_node_tests
from wsgate.delivery import client_js_path

TESTS = Path(__file__).parent / "js"


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_js_client_passes_its_node_tests(make_server: Any) -> None:
    long = make_server(buffer_size=200)
    short = make_server(buffer_size=10)
    env = {
        "WSGATE_CLIENT_JS": str(client_js_path()),
        "WSGATE_TEST_WS_URL": long.ws_url,
        "WSGATE_TEST_WS_URL_SHORT": short.ws_url,
    }
    run_node_tests(TESTS, env, passed=6)


def test_the_emulator_serves_the_client_at_a_fixed_path(make_server: Any) -> None:
    server = make_server()
    url = server.ws_url.replace("ws://", "http://").rsplit("/", 1)[0] + "/wsgate-client.js"
    with urllib.request.urlopen(url, timeout=10) as answer:
        body = answer.read()
        kind = answer.headers["Content-Type"]
    assert body == client_js_path().read_bytes()
    assert kind.startswith("text/javascript")


TSC = Path(__file__).resolve().parents[2] / "tools" / "node" / "node_modules" / ".bin" / "tsc"


@pytest.mark.skipif(not TSC.exists(), reason="tools/node has no typescript (scripts/setup)")
def test_the_type_declarations_accept_real_use_and_refuse_mistakes() -> None:
    assert client_js_path().with_name("wsgate-client.d.ts").is_file()  # shipped beside the js
    done = subprocess.run(
        [
            str(TSC),
            "--noEmit",
            "--strict",
            "--lib",
            "es2020,dom",
            "--target",
            "es2020",
            "--moduleResolution",
            "node",
            str(TESTS / "types-check.ts"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
