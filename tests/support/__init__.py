"""Helpers shared by the test packages: an emulator on a background loop, polling, paths.

Importable as ``support`` from every test module: the root ``tests/conftest.py`` puts the
``tests`` folder on ``sys.path`` (pytest's default ``prepend`` import mode).
"""

from __future__ import annotations

from pathlib import Path

from .emulator import ThreadedEmulator, management_client, wait_until

__all__ = ["CHAT_APP", "ROOT", "ThreadedEmulator", "management_client", "wait_until"]

ROOT = Path(__file__).resolve().parents[2]
"""The repository root."""

CHAT_APP = ROOT / "examples" / "chat" / "app.py"
"""The chat example the README serves."""
