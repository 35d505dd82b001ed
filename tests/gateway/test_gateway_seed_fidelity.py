"""The examples the tests run are the seed's own, with only the import line changed."""

from __future__ import annotations

import re

import pytest
from gateway_seed import example_names, example_source, seed_code_blocks


def _code_lines(text: str) -> list[str]:
    """Non-blank lines that are not imports, right-stripped (the seed has trailing spaces)."""
    return [
        line.rstrip()
        for line in text.splitlines()
        if line.strip() and not re.match(r"(from \S+ )?import ", line)
    ]


def _seed_blocks() -> list[list[str]]:
    blocks = seed_code_blocks()
    # The CORE FUNCTIONS block lists signatures, not runnable code (test_signatures covers it).
    return [_code_lines(b) for b in blocks if not b.startswith("# Connection management")]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    return any(haystack[i : i + len(needle)] == needle for i in range(len(haystack)))


@pytest.mark.parametrize("name", example_names())
def test_example_is_the_seed_text(name: str) -> None:
    source = example_source(name)
    imports = [line for line in source.splitlines() if re.match(r"(from \S+ )?import ", line)]
    assert any(line.startswith("from wsgate.gateway import ") for line in imports)
    assert not any(line.startswith("from gateway ") for line in imports)
    body = _code_lines(source)
    assert body, "an example with no code"
    assert any(_contains(block, body) for block in _seed_blocks()), (
        f"{name} differs from every code block of the seed"
    )


def test_every_seed_example_is_covered() -> None:
    bodies = [_code_lines(example_source(name)) for name in example_names()]
    for block in _seed_blocks():
        covered = [line for body in bodies if _contains(block, body) for line in body]
        missing = [line for line in block if line not in covered]
        assert not missing, f"seed lines run by no test: {missing}"
