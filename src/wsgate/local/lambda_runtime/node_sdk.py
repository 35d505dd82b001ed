"""The AWS SDK for JavaScript v3 for Node.js functions, as Lambda's Node.js runtime provides it.

Lambda's ``nodejs18.x`` and later runtimes carry the SDK v3 clients, so apps deploy without
bundling them. Locally the common clients are installed once with ``npm`` into a per-user cache
(``$XDG_CACHE_HOME/wsgate/node-sdk/<key>/node_modules``, ``~/.cache`` by default; set
``WSGATE_NODE_SDK_DIR`` to use another folder), then reused. A file lock keeps two processes from
installing at once. Install ahead of time (a CI set-up step)::

    python -m wsgate.local.lambda_runtime.node_sdk install
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from wsgate.exceptions import ConfigurationError

__all__ = ["SDK_PACKAGES", "NodeSdkError", "ensure_sdk", "main", "sdk_root"]

#: The clients installed: those WebSocket apps on Lambda commonly import.
SDK_PACKAGES: dict[str, str] = {
    "@aws-sdk/client-apigatewaymanagementapi": "^3",
    "@aws-sdk/client-dynamodb": "^3",
    "@aws-sdk/client-eventbridge": "^3",
    "@aws-sdk/client-lambda": "^3",
    "@aws-sdk/client-s3": "^3",
    "@aws-sdk/client-secrets-manager": "^3",
    "@aws-sdk/client-sns": "^3",
    "@aws-sdk/client-sqs": "^3",
    "@aws-sdk/client-ssm": "^3",
    "@aws-sdk/client-sts": "^3",
    "@aws-sdk/lib-dynamodb": "^3",
}
_MARKER = "wsgate-node-sdk.json"
_local_lock = threading.Lock()


class NodeSdkError(ConfigurationError):
    """The SDK could not be installed (npm missing, offline, or failing)."""

    def __init__(self, reason: str, *, directory: Path | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.directory = directory

    def __str__(self) -> str:
        where = f" into {self.directory}" if self.directory else ""
        return f"cannot install the AWS SDK for JavaScript v3{where}: {self.reason}"


def _key() -> str:
    manifest = json.dumps(SDK_PACKAGES, sort_keys=True).encode()
    return "v3-" + hashlib.sha256(manifest).hexdigest()[:10]


def sdk_root() -> Path:
    """The folder holding ``node_modules`` (installed or not)."""
    override = os.environ.get("WSGATE_NODE_SDK_DIR")
    if override:
        return Path(override).expanduser().resolve() / _key()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser().resolve() / "wsgate" / "node-sdk" / _key()


def is_installed(root: Path | None = None) -> bool:
    """Whether the SDK is in the cache."""
    return ((root or sdk_root()) / _MARKER).is_file()


def ensure_sdk(
    *, progress: Callable[[str], None] | None = None, npm: str | None = None, timeout: float = 900
) -> Path:
    """The SDK's ``node_modules`` folder, installing it first if needed.

    Args:
        progress: Gets one line when an install starts (default: standard error).
        npm: The ``npm`` executable (default: from ``PATH``).
        timeout: Seconds the install may take.

    Raises:
        NodeSdkError: npm is missing or the install failed (offline, registry error).
    """
    root = sdk_root()
    if is_installed(root):
        return root / "node_modules"
    with _local_lock, _file_lock(root.parent / ".install.lock"):
        if not is_installed(root):
            _install(root, progress or _stderr, npm, timeout)
    return root / "node_modules"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _install(root: Path, progress: Callable[[str], None], npm: str | None, timeout: float) -> None:
    executable = npm or shutil.which("npm")
    if executable is None:
        raise NodeSdkError("npm is not on PATH (install Node.js with npm)", directory=root)
    progress(f"[wsgate] installing the AWS SDK for JavaScript v3 into {root} (once, with npm)…")
    staging = root.with_name(root.name + f".tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    package = {"name": "wsgate-node-sdk", "private": True, "dependencies": SDK_PACKAGES}
    (staging / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    command = [executable, "install", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"]
    try:
        done = subprocess.run(
            command, cwd=staging, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise NodeSdkError(f"npm install failed: {exc}", directory=root) from exc
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        reason = f"npm install exited {done.returncode} (offline?): " + " | ".join(tail)
        raise NodeSdkError(reason, directory=root)
    (staging / _MARKER).write_text(json.dumps({"packages": SDK_PACKAGES}) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """``python -m wsgate.local.lambda_runtime.node_sdk install|path``."""
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "install"
    if command == "path":
        print(sdk_root() / "node_modules")
        return 0 if is_installed() else 1
    if command != "install":
        print(
            "usage: python -m wsgate.local.lambda_runtime.node_sdk [install|path]", file=sys.stderr
        )
        return 2
    try:
        print(ensure_sdk())
    except NodeSdkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
