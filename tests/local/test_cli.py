"""``wsgate serve`` from the command line, and the APP forms it accepts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect

from support import wait_until
from wsgate.cli import build_parser
from wsgate.exceptions import ConfigurationError
from wsgate.local.invoke import load_app

APP = textwrap.dedent(
    """
    from wsgate.gateway import ws_send_message
    from wsgate.router import WebSocketApp

    app = WebSocketApp()

    @app.route("shout")
    def shout(event):
        ws_send_message(event.connection_id, event.body.upper())

    @app.route("echo", two_way=True)
    def echo(event):
        return {"statusCode": 200, "body": "echo " + event.body}

    def plain(event, context):
        return {"statusCode": 200}
    """
)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "chatapp.py").write_text(APP)
    (tmp_path / "index.html").write_text("<h1>hello page</h1>")
    return tmp_path


def test_app_forms(app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(app_dir)
    by_path = load_app(str(app_dir / "chatapp.py"))
    assert by_path.route_keys == {"echo", "shout"} and by_path.two_way_route_keys == {"echo"}
    assert by_path.source == app_dir / "chatapp.py"
    plain = load_app(f"{app_dir / 'chatapp.py'}:plain")
    assert plain.route_keys == {"$connect", "$disconnect", "$default"}
    by_module = load_app("chatapp:app")
    assert by_module.route_keys == {"echo", "shout"}
    with pytest.raises(ConfigurationError):
        load_app(str(app_dir / "missing.py"))
    with pytest.raises(ConfigurationError):
        load_app("chatapp:nothing")
    with pytest.raises(ConfigurationError):
        load_app("no_such_module_anywhere:app")


def test_parser_knows_serve_and_its_flags() -> None:
    args = build_parser().parse_args(
        ["serve", "app.py", "--port", "0", "--stage", "dev", "--throttle", "0.5"]
    )
    assert (args.command, args.port, args.stage, args.throttle) == ("serve", 0, "dev", 0.5)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "app.py", "--throttle", "2"])


def test_wsgate_serve_subprocess(app_dir: Path, tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("WSGATE_REGISTRY", None)
    env["WSGATE_METRICS"] = "off"  # stdout is a pipe read for its first line only
    proc = subprocess.Popen(
        [sys.executable, "-m", "wsgate.cli", "serve", str(app_dir / "chatapp.py"), "--port", "0"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"ws://127\.0\.0\.1:(\d+)/local", line)
        assert match, line
        port = int(match.group(1))
        with connect(f"ws://127.0.0.1:{port}/local") as ws:
            ws.send('{"action": "echo"}')
            assert ws.recv(10) == 'echo {"action": "echo"}'
            for n in range(20):  # wsgate.gateway sends from the handler, in-process
                ws.send(f'{{"action": "shout", "n": "x{n}"}}')
                assert ws.recv(10) == f'{{"ACTION": "SHOUT", "N": "X{n}"}}'
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
            assert b"hello page" in page.read()
        assert (tmp_path / ".wsgate").is_dir()  # the default SQLite registry's folder
        proc.send_signal(signal.SIGINT)  # Ctrl-C: closes connections and exits cleanly
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(15)
        if proc.stdout is not None:
            proc.stdout.close()


def test_reload_picks_up_code_changes(app_dir: Path, start_emulator: Any) -> None:
    from support import ThreadedEmulator
    from wsgate.local import EmulatorConfig
    from wsgate.local.server import Emulator

    source = app_dir / "chatapp.py"
    running = ThreadedEmulator(Emulator(str(source), EmulatorConfig(port=0), reload=True))
    try:
        with connect(running.ws_url) as ws:
            ws.send('{"action": "echo"}')
            assert ws.recv(5) == 'echo {"action": "echo"}'
        source.write_text(APP.replace('"echo " + event.body', '"v2 " + event.body'))

        def reloaded() -> bool:
            with connect(running.ws_url) as ws:
                ws.send('{"action": "echo"}')
                return ws.recv(5).startswith("v2 ")

        wait_until(reloaded, timeout=20, message="reloaded app")
    finally:
        running.stop()


def test_version_flag() -> None:
    import wsgate

    done = subprocess.run(
        [sys.executable, "-m", "wsgate.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wsgate {wsgate.__version__}"


BROKEN = {
    "syntax": ("x = 1\ndef f(:\n    pass\n", 2, "SyntaxError"),
    "missing_module": ("import os\nimport no_such_module_for_wsgate\n", 2, "ModuleNotFoundError"),
    "raises": ("import os\n\n\nraise RuntimeError('boom at import')\n", 4, "RuntimeError"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_app_that_fails_to_import_names_file_and_line(tmp_path: Path, kind: str) -> None:
    source, line, error = BROKEN[kind]
    path = tmp_path / f"broken_{kind}.py"
    path.write_text(source)
    with pytest.raises(ConfigurationError) as info:
        load_app(str(path))
    message = str(info.value)
    assert f"{path}:{line}" in message, message
    assert error in message, message
    assert info.value.filename == str(path) and info.value.lineno == line  # type: ignore[attr-defined]


def test_error_in_a_module_the_app_imports_names_that_module(tmp_path: Path) -> None:
    (tmp_path / "helper_mod_wsgate.py").write_text("VALUE = 1\n\nVALUE = 1 / 0\n")
    app = tmp_path / "uses_helper.py"
    app.write_text("import helper_mod_wsgate\n")
    with pytest.raises(ConfigurationError) as info:
        load_app(str(app))
    assert f"{tmp_path / 'helper_mod_wsgate.py'}:3" in str(info.value)
    assert "ZeroDivisionError" in str(info.value)


def test_wsgate_serve_broken_app_reports_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("app = (\n")
    done = subprocess.run(
        [sys.executable, "-m", "wsgate.cli", "serve", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == 2
    assert f"{path}:1" in done.stderr and "SyntaxError" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_wsgate_template_reports_the_same_place(tmp_path: Path) -> None:
    from wsgate.deploy.cli import load_app as load_for_template
    from wsgate.exceptions import AppImportError

    path = tmp_path / "broken_for_template.py"
    path.write_text("import os\n\n\nraise RuntimeError('at import')\n")
    with pytest.raises(AppImportError) as info:
        load_for_template(str(path))
    assert (info.value.filename, info.value.lineno) == (str(path), 4)
    assert isinstance(info.value.error, RuntimeError)
    assert str(info.value).startswith(f"cannot import {path}: {path}:4: RuntimeError: at import")
