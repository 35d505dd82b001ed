"""docs/security.md and the tests must agree: every test it names exists, every attack is listed."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import pytest

from .test_attacks import ATTACKS

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
MODULES = [
    f"{folder.name}.{path.stem}"
    for folder in (Path(__file__).parent, Path(__file__).parent.parent / "fuzz")
    for path in sorted(folder.glob("test_*.py"))
]


def _param_ids(func: Any) -> set[str]:
    ids: set[str] = set()
    for mark in getattr(func, "pytestmark", []):
        if mark.name != "parametrize":
            continue
        for value in mark.args[1]:
            first = value[0] if isinstance(value, tuple) else value
            if isinstance(first, str):
                ids.add(first)
    return ids


def _tests() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.startswith("test_") and callable(value):
                found[attr] = _param_ids(value)
    return found


def test_every_test_named_in_the_doc_exists() -> None:
    tests = _tests()
    named = re.findall(r"`(test_[a-z0-9_]+)(?:\[([^\]`]+)\])?`", DOC.read_text())
    assert len(named) > 50
    for name, param in named:
        assert name in tests, f"docs/security.md names {name}, which no test defines"
        if param and param != "<case>":
            assert param in tests[name], f"{name}[{param}] is not a parameter of the test"


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_every_forged_token_case_is_in_the_table(attack: str) -> None:
    assert re.search(rf"^\| `{attack}` \|", DOC.read_text(), re.MULTILINE), attack
