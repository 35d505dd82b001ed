"""The repository stands alone: nothing in it leans on files outside it, and citations resolve."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BEHAVIOUR = ROOT / "docs" / "aws-behaviour.md"
# Spelled in pieces so that this file does not match itself.
OUTSIDE = ("../" + "shared", "reference " + "§")
CITATION = re.compile(r"aws-behaviour\.md\)?\s+((?:§[0-9]+(?:\.[0-9]+)?(?:[,/] ?)?)+)")
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
TEXT_SUFFIXES = {".py", ".md", ".txt", ".js", ".mjs", ".cjs", ".html", ".css", ".toml", ".yaml"}


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        pytest.skip("not a git checkout")
    paths = [ROOT / name for name in out.decode().split("\0") if name]
    return [p for p in paths if p.suffix in TEXT_SUFFIXES and p.is_file()]


def sections() -> set[str]:
    found = set()
    for line in BEHAVIOUR.read_text(encoding="utf-8").splitlines():
        match = re.match(r"#{2,3} ([0-9]+(?:\.[0-9]+)?)[. ]", line)
        if match:
            found.add(match.group(1))
    # A numbered item of §10's checklist is cited as §10.N.
    checklist = re.search(r"## 10\..*?(?=\n## )", BEHAVIOUR.read_text(encoding="utf-8"), re.S)
    assert checklist
    found.update(f"10.{n}" for n in re.findall(r"(?m)^([0-9]+)\. ", checklist.group(0)))
    return found


def test_nothing_refers_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in tracked_files()
        for number, line in enumerate(
            path.read_text(encoding="utf-8", errors="replace").splitlines(), 1
        )
        if any(marker in line for marker in OUTSIDE)
    ]
    assert not offenders, offenders


def test_every_behaviour_citation_names_a_section() -> None:
    known = sections()
    assert {"1.2", "2.4", "4.3", "6.3", "8", "10.1"} <= known
    cited: list[tuple[str, str]] = []
    for path in tracked_files():
        for match in CITATION.finditer(path.read_text(encoding="utf-8", errors="replace")):
            cited += [
                (str(path.relative_to(ROOT)), s)
                for s in re.findall(r"§([0-9.]+[0-9])", match.group(1))
            ]
    assert len(cited) > 20
    unknown = [(where, section) for where, section in cited if section not in known]
    assert not unknown, unknown


def test_relative_links_in_docs_resolve() -> None:
    broken = []
    for path in tracked_files():
        if path.suffix != ".md":
            continue
        for target in LINK.findall(path.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)} → {target}")
    assert not broken, broken
