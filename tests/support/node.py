"""Running a folder of Node tests (node's built-in test runner) from pytest."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

NODE = shutil.which("node")


def run_node_tests(folder: Path, env: dict[str, str], *, passed: int) -> None:
    """Run every ``*.test.mjs`` in ``folder`` with ``env`` added to this environment; assert
    that all passed and that there were exactly ``passed`` of them (none skipped silently)."""
    assert NODE is not None, "node is not installed"
    files = sorted(str(p) for p in folder.glob("*.test.mjs"))
    done = subprocess.run(
        [NODE, "--experimental-websocket", "--test", *files],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report
    assert "# fail 0" in report and f"# pass {passed}" in report, report
