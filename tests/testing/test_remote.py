"""RemoteTestClient and EmulatorProcess specifics: start-up errors, attaching, boto3 access."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wsgate.exceptions import ConfigurationError, SessionError
from wsgate.testing import EmulatorProcess, RemoteTestClient

APP_FILE = Path(__file__).resolve().parent / "parity_app.py"


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorProcess]:
    with EmulatorProcess(str(APP_FILE), stage="prod") as process:
        yield process


def test_attach_to_a_running_server(server: EmulatorProcess) -> None:
    assert server.ws_url.startswith("ws://127.0.0.1:") and server.ws_url.endswith("/prod")
    assert server.endpoint == "http" + server.ws_url[2:]
    with RemoteTestClient(server.ws_url) as client:
        assert client.stage == "prod" and client.endpoint == server.endpoint
        with client.connect("/prod?token=ann", user_agent="probe/2") as ann:
            assert client.connections == [ann.connection_id]
            info = client.management.get_connection(ConnectionId=ann.connection_id)
            assert info["Identity"]["SourceIp"] == "127.0.0.1"
            assert info["Identity"]["UserAgent"] == "probe/2"
            client.management.post_to_connection(ConnectionId=ann.connection_id, Data=b"raw")
            assert ann.receive_bytes() == b"raw"
        with pytest.raises(ConfigurationError, match="no registry"):
            _ = client.registry
    assert "wsgate emulator on" in server.log


def test_the_server_log_explains_a_failed_start(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise ImportError('missing dependency xyz')\n")
    process = EmulatorProcess(str(broken))
    with pytest.raises(ConfigurationError, match="missing dependency xyz"):
        process.start()
    assert "missing dependency xyz" in process.log


def test_bad_urls_and_missing_dashboard_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a WebSocket URL"):
        RemoteTestClient("http://127.0.0.1:3001/local")
    client = RemoteTestClient.start(str(APP_FILE), args=["--no-dashboard"])
    with client, pytest.raises(SessionError, match="dashboard"):
        client.connect("/?token=x")
