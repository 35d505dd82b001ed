"""FunctionHost, interpreter choice, runtimes refused, and the Node.js SDK installer's errors."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from wsgate.exceptions import ConfigurationError
from wsgate.local.lambda_runtime import FunctionHost, FunctionPool, node_sdk
from wsgate.local.lambda_runtime.launch import python_interpreter, runtime_kind

from .conftest import PYTHON, LogLines, Spec, write_tree


def test_host_keeps_one_pool_per_function(tmp_path: Path, logs: LogLines) -> None:
    specs = {
        name: Spec(
            name,
            f"{name}Function",
            PYTHON,
            "app.handler",
            write_tree(tmp_path / name, {"app.py": f"def handler(e, c):\n    return {name!r}\n"}),
        )
        for name in ("Connect", "Default")
    }
    host = FunctionHost(specs, log=logs, max_instances=2)
    try:
        assert host.pool("Connect") is host.pool("Connect")
        assert host.pool("Connect").max_instances == 2
        assert host.pool("Connect").invoke({}).payload == "Connect"
        assert host.pool("Default").invoke({}).payload == "Default"
        with pytest.raises(KeyError):
            host.pool("Nope")
        host.restart(["Connect"])
        assert host.pool("Connect").invoke({}).cold
        assert not host.pool("Default").invoke({}).cold
    finally:
        host.close()
    with pytest.raises(ConfigurationError):
        host.pool("Connect")


@pytest.mark.parametrize("runtime", ["java21", "python2.7", "nodejs16.x", "provided.al2023"])
def test_unsupported_runtimes_are_refused(tmp_path: Path, runtime: str) -> None:
    with pytest.raises(ConfigurationError, match=runtime.replace(".", r"\.")):
        FunctionPool(Spec("F", "F", runtime, "app.handler", tmp_path))


def test_runtime_kinds() -> None:
    assert runtime_kind("python3.12") == "python"
    assert runtime_kind("nodejs18.x") == runtime_kind("nodejs22.x") == "node"


def test_interpreter_falls_back_to_the_emulators_with_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="wsgate.local"):
        assert python_interpreter("python3.99") == sys.executable
        assert python_interpreter("python3.99") == sys.executable
    said = [r.getMessage() for r in caplog.records if "python3.99" in r.getMessage()]
    assert len(said) == 1 and sys.executable in said[0]
    assert python_interpreter(PYTHON) == sys.executable
    assert python_interpreter("python3.99", "/usr/bin/custom") == "/usr/bin/custom"


def test_closed_pool_refuses_calls(tmp_path: Path) -> None:
    pool = FunctionPool(Spec("F", "F", PYTHON, "app.handler", tmp_path))
    pool.close()
    with pytest.raises(ConfigurationError, match="closed"):
        pool.invoke({})


def test_sdk_install_without_npm_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSGATE_NODE_SDK_DIR", str(tmp_path / "sdk"))
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm on it
    with pytest.raises(node_sdk.NodeSdkError, match="npm is not on PATH") as caught:
        node_sdk.ensure_sdk(progress=lambda line: None)
    assert caught.value.directory is not None and str(tmp_path / "sdk") in str(caught.value)
    assert not node_sdk.is_installed()
    assert node_sdk.main(["install"]) == 1


def test_sdk_install_failure_leaves_nothing_half_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSGATE_NODE_SDK_DIR", str(tmp_path / "sdk"))
    npm = tmp_path / "npm"
    npm.write_text("#!/bin/sh\necho 'npm error network ENOTFOUND registry.npmjs.org' >&2\nexit 1\n")
    npm.chmod(0o755)
    progress: list[str] = []
    with pytest.raises(node_sdk.NodeSdkError, match="ENOTFOUND"):
        node_sdk.ensure_sdk(progress=progress.append, npm=str(npm))
    assert len(progress) == 1 and "installing the AWS SDK" in progress[0]
    assert not node_sdk.is_installed()
    assert list((tmp_path / "sdk").iterdir()) == [tmp_path / "sdk" / ".install.lock"]


def test_sdk_installed_once_then_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSGATE_NODE_SDK_DIR", str(tmp_path / "sdk"))
    calls = tmp_path / "calls"
    npm = tmp_path / "npm"
    npm.write_text(f"#!/bin/sh\necho run >> {calls}\nmkdir -p node_modules/@aws-sdk\n")
    npm.chmod(0o755)
    progress: list[str] = []
    first = node_sdk.ensure_sdk(progress=progress.append, npm=str(npm))
    second = node_sdk.ensure_sdk(progress=progress.append, npm=str(npm))
    assert first == second and first.is_dir() and node_sdk.is_installed()
    assert calls.read_text() == "run\n" and len(progress) == 1
    assert node_sdk.main(["path"]) == 0


def test_prepare_checks_code_roots(tmp_path: Path) -> None:
    good = Spec("Good", "Good", PYTHON, "app.handler", tmp_path)
    missing = Spec("Gone", "Gone", PYTHON, "app.handler", tmp_path / "nowhere")
    host = FunctionHost({"Good": good})
    host.prepare()
    host.close()
    host = FunctionHost({"Good": good, "Gone": missing})
    try:
        with pytest.raises(ConfigurationError, match="nowhere"):
            host.prepare()
    finally:
        host.close()


def test_two_processes_never_install_at_once(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    npm = tmp_path / "npm"
    npm.write_text(
        f"#!/bin/sh\necho start >> {calls}\nsleep 1\necho end >> {calls}\n"
        "mkdir -p node_modules/@aws-sdk\n"
    )
    npm.chmod(0o755)
    code = (
        "from wsgate.local.lambda_runtime import node_sdk; "
        f"print(node_sdk.ensure_sdk(progress=lambda line: None, npm={str(npm)!r}))"
    )
    env = {**os.environ, "WSGATE_NODE_SDK_DIR": str(tmp_path / "sdk")}
    runs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=60)[0].strip() for run in runs]
    assert [run.returncode for run in runs] == [0, 0]
    assert outputs[0] == outputs[1] and outputs[0].endswith("node_modules")
    assert calls.read_text() == "start\nend\n"
