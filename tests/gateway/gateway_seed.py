"""Access to the seed's examples (INT-11) as the gateway tests run them.

Each example is kept in ``seed_examples/`` exactly as the seed prints it, except for the import
line, which reads ``from wsgate.gateway import ...`` (listing what the example uses; where the
seed's snippet forgot an import, such as ``time`` in Pattern 4, the import line adds it). The
files are plain text rather than modules so that no formatter or linter ever rewrites them;
``test_gateway_seed_fidelity.py`` checks them line by line against the seed's code blocks, kept
verbatim in ``seed_code_blocks.txt``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

EXAMPLES = Path(__file__).parent / "seed_examples"

#: The interface specification's Python code blocks, verbatim (see the file's introduction).
SEED_BLOCKS_PATH = Path(__file__).parent / "seed_code_blocks.txt"


def seed_code_blocks() -> list[str]:
    """Every Python code block of the interface specification, in order."""
    text = SEED_BLOCKS_PATH.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def seed_core_block() -> str:
    """The CORE FUNCTIONS block: the signatures, one a line, under comment headings."""
    blocks = [block for block in seed_code_blocks() if block.startswith("# Connection management")]
    assert len(blocks) == 1, "the seed has one CORE FUNCTIONS block"
    return blocks[0]


def example_names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES.glob("*.txt"))


def example_source(name: str) -> str:
    return (EXAMPLES / f"{name}.txt").read_text(encoding="utf-8")


def run_example(name: str, **names: Any) -> dict[str, Any]:
    """Execute an example in a fresh namespace holding ``names``; return the namespace.

    Examples that define functions (the rules and patterns) leave them in the namespace for the
    test to call; bare statements (the use cases, the anti-patterns) run at once, reading the
    free variables (``room_id``, ``data``...) the test passes in.
    """
    path = EXAMPLES / f"{name}.txt"
    code = compile(example_source(name), str(path), "exec")
    namespace: dict[str, Any] = {"__name__": f"seed_{name}", **names}
    exec(code, namespace)
    return namespace
