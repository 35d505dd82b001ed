"""The complete example test file of docs/testing.md runs, as a user would run it."""

from __future__ import annotations

import re

import pytest

from .conftest import CHAT_APP, ROOT

pytest_plugins = ["pytester"]

GUIDE = ROOT / "docs" / "testing.md"


def example_file() -> str:
    text = GUIDE.read_text()
    match = re.search(r"<!-- example: test_chat.py -->\n```python\n(.*?)\n```", text, re.S)
    assert match, "docs/testing.md lost its example test file"
    return match.group(1) + "\n"


@pytest.mark.slow
def test_guide_example_passes_against_the_chat_example(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=CHAT_APP.read_text(), test_chat=example_file())
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", "-v")
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines_random(
        ["*test_rooms_over_both_transports?in-process? PASSED*", "*?emulator? PASSED*"]
    )
