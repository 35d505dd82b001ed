"""The testing package's surface: pinned names, lazy imports, a light pytest plugin."""

from __future__ import annotations

import subprocess
import sys

import pytest

import wsgate.testing

EXPECTED = {
    "ConnectionEvents",
    "EmulatorProcess",
    "ManagementCall",
    "RecordingTransport",
    "RegistryContract",
    "RemoteSession",
    "RemoteTestClient",
    "WebSocketTestClient",
    "WebSocketTestSession",
    "connect_event",
    "disconnect_event",
    "lambda_context",
    "message_event",
    "wait_for",
}


def test_all_is_pinned_and_every_name_resolves() -> None:
    assert set(wsgate.testing.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(wsgate.testing, name).__name__ == name
    with pytest.raises(AttributeError):
        wsgate.testing.NoSuchThing  # noqa: B018


def loaded_after(statement: str) -> set[str]:
    heavy = ("boto3", "botocore", "aiohttp", "websockets", "asyncio")
    code = f"import sys; {statement}; print(' '.join(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def test_plugin_and_factories_import_light() -> None:
    # pytest loads the plugin in every project that has wsgate installed.
    assert not loaded_after("import wsgate.testing.plugin") & {"boto3", "aiohttp", "websockets"}
    # Event factories are stdlib only: usable in a Lambda-like unit test environment.
    assert loaded_after("import wsgate.testing.factories") == set()
    assert loaded_after("import wsgate.testing") == set()
