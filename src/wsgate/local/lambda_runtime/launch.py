"""What a function process is started with: its command line, working directory and environment.

The environment is built from nothing, as Lambda builds it: the template's variables, the
variables Lambda defines for every function (``AWS_REGION``, ``_HANDLER``, ``LAMBDA_TASK_ROOT``,
dummy credentials, ...), ``PATH``/``LANG``/``TZ``, and the caller's ``extra_env``. Nothing else of
the emulator's own environment reaches the function.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wsgate.exceptions import ConfigurationError

__all__ = [
    "DUMMY_CREDENTIALS",
    "FunctionLike",
    "Launch",
    "build_launch",
    "forget_bytecode",
    "pycache_dir",
    "python_interpreter",
    "runtime_kind",
]

logger = logging.getLogger("wsgate.local")

HERE = Path(__file__).resolve().parent
PYTHON_RUNTIME_DIR = HERE / "python"
NODE_RUNTIME_DIR = HERE / "node"

#: What the function's SDK signs with: never real credentials.
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIAWSGATELOCAL00000",
    "AWS_SECRET_ACCESS_KEY": "wsgate-local-secret-access-key",
    "AWS_SESSION_TOKEN": "wsgate-local-session-token",
}
_RUNTIME = re.compile(r"^(python|nodejs)(\d+)(?:\.(\d+|x))?$")


class FunctionLike(Protocol):
    """The fields of ``wsgate.local.apptemplate.FunctionSpec`` the runtime reads."""

    @property
    def logical_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def runtime(self) -> str: ...
    @property
    def handler(self) -> str: ...
    @property
    def code_root(self) -> Path: ...
    @property
    def environment(self) -> Mapping[str, str]: ...
    @property
    def timeout(self) -> float: ...
    @property
    def memory_mb(self) -> int: ...
    @property
    def arn(self) -> str: ...


@dataclass(frozen=True)
class Launch:
    """How to start one instance: ``argv`` run in ``cwd`` with exactly ``env``."""

    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]


def runtime_kind(runtime: str) -> str:
    """``"python"`` or ``"node"`` for a Lambda runtime identifier.

    Raises:
        ConfigurationError: Not a ``python3.x`` or ``nodejs18.x``-or-later runtime.
    """
    match = _RUNTIME.match(runtime)
    if match is None or (match[1] == "python" and match[2] != "3"):
        raise ConfigurationError(f"runtime {runtime!r} is not supported (python3.x, nodejs18.x+)")
    if match[1] == "nodejs" and int(match[2]) < 18:
        raise ConfigurationError(f"runtime {runtime!r} is not supported (nodejs18.x or later)")
    return "python" if match[1] == "python" else "node"


_probed: dict[str, str | None] = {}
_probe_lock = threading.Lock()


def python_interpreter(runtime: str, explicit: str | None = None) -> str:
    """The interpreter a ``python3.x`` function runs on.

    ``explicit`` wins; then the emulator's own interpreter if it is that version; then
    ``python3.x`` from ``PATH`` if it really runs (a pyenv shim may exist without the version
    behind it); else the emulator's own interpreter, said in one log line.
    """
    if explicit:
        return explicit
    wanted = runtime.removeprefix("python")
    if wanted == f"{sys.version_info[0]}.{sys.version_info[1]}":
        return sys.executable
    with _probe_lock:
        if runtime not in _probed:
            _probed[runtime] = _probe(f"python{wanted}", wanted)
            if _probed[runtime] is not None:
                logger.info("functions of runtime %s run on %s", runtime, _probed[runtime])
            else:
                logger.warning(
                    "%s is not on PATH: functions of runtime %s run on %s (Python %d.%d)",
                    f"python{wanted}",
                    runtime,
                    sys.executable,
                    *sys.version_info[:2],
                )
        found = _probed[runtime]
    return found or sys.executable


def _probe(name: str, version: str) -> str | None:
    path = shutil.which(name)
    if path is None:
        return None
    code = "import sys; print('%d.%d' % sys.version_info[:2])"
    try:
        out = subprocess.run(
            [path, "-c", code], capture_output=True, text=True, timeout=20, env=_base_env()
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if out.returncode == 0 and out.stdout.strip() == version else None


def pycache_dir() -> Path:
    """Where function processes keep their bytecode (``$XDG_CACHE_HOME/wsgate/pycache``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser().resolve() / "wsgate" / "pycache"


def forget_bytecode(code_root: Path) -> None:
    """Drop the cached bytecode of one code root (``--reload``: an edit made within the same
    second as the last compile, with the same size, would otherwise look up to date)."""
    root = Path(code_root).resolve()
    top = pycache_dir()
    folder = top / root.relative_to(root.anchor)
    shutil.rmtree(folder, ignore_errors=True)
    for parent in folder.parents:  # and the folders it leaves empty
        if parent == top or top not in parent.parents:
            break
        try:
            parent.rmdir()
        except OSError:
            break


def _base_env() -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
    }


def _node_option_word(word: str) -> str:
    # NODE_OPTIONS splits on spaces; a word with spaces or quotes is double-quoted, escaped.
    if word and not any(c.isspace() or c in '"\\' for c in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _execution_env(runtime: str) -> str:
    return f"AWS_Lambda_{runtime}"


def build_launch(
    spec: FunctionLike,
    *,
    runtime_api: str,
    extra_env: Mapping[str, str] = {},
    python: str | None = None,
    python_path: Sequence[str] = (),
    node_options: Sequence[str] = (),
    node_path: Sequence[str] = (),
    region: str = "us-east-1",
) -> Launch:
    """The command line and environment of one instance of ``spec``.

    Args:
        spec: The function.
        runtime_api: ``host:port`` of this instance's Runtime API endpoint.
        extra_env: Merged over everything else (the emulator's network variables).
        python: The interpreter for ``python3.x`` functions (default: see
            :func:`python_interpreter`).
        python_path: Directories put first on ``PYTHONPATH``.
        node_options: Words added to ``NODE_OPTIONS``.
        node_path: Directories of ``node_modules`` put first on ``NODE_PATH`` (the SDK cache).
        region: Used when the function's ARN names none.

    Raises:
        ConfigurationError: An unsupported runtime.
    """
    kind = runtime_kind(spec.runtime)
    code_root = Path(spec.code_root).resolve()
    arn_parts = spec.arn.split(":")
    region = arn_parts[3] if len(arn_parts) > 4 and arn_parts[3] else region
    env: dict[str, str] = dict(spec.environment)
    env.update(_base_env())
    env.update(DUMMY_CREDENTIALS)
    env.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            # One stream per execution environment, named as Lambda names them.
            "AWS_LAMBDA_LOG_STREAM_NAME": time.strftime("%Y/%m/%d/", time.gmtime())
            + f"[$LATEST]{uuid.uuid4().hex}",
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "AWS_EXECUTION_ENV": _execution_env(spec.runtime),
            "_HANDLER": spec.handler,
            "LAMBDA_TASK_ROOT": str(code_root),
        }
    )
    if kind == "python":
        interpreter = python_interpreter(spec.runtime, python)
        env["LAMBDA_RUNTIME_DIR"] = str(PYTHON_RUNTIME_DIR)
        # Lambda puts its runtime directory (where boto3 lives) on PYTHONPATH; here that is
        # where this wsgate is installed, and for another interpreter the emulator's own
        # pure-Python site-packages, so boto3 imports as it does on Lambda.
        paths = [*python_path, str(HERE.parents[2])]
        if Path(interpreter).resolve() != Path(sys.executable).resolve():
            paths.append(sysconfig.get_paths()["purelib"])
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
        # Bytecode goes to a cache of its own, never into the app's folder (Lambda's code root
        # is read-only), and is kept for the next cold start (for another interpreter too).
        prefix = f"pycache_prefix={pycache_dir()}"
        argv: tuple[str, ...] = (
            interpreter,
            "-X",
            prefix,
            str(PYTHON_RUNTIME_DIR / "bootstrap.py"),
        )
    else:
        env["LAMBDA_RUNTIME_DIR"] = str(NODE_RUNTIME_DIR)
        env["NODE_PATH"] = os.pathsep.join([*node_path, str(code_root)])
        if node_options:
            env["NODE_OPTIONS"] = " ".join(_node_option_word(word) for word in node_options)
        argv = (shutil.which("node") or "node", str(NODE_RUNTIME_DIR / "bootstrap.mjs"))
    env.update(extra_env)
    return Launch(argv=argv, cwd=code_root, env=env)
