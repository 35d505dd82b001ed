"""A small, deterministic YAML writer for CloudFormation templates (no PyYAML needed).

Writes block mappings and sequences; every string is a double-quoted scalar (JSON string
escapes are valid YAML escapes), so values such as ``$connect``, ``yes``, ``0123`` or
``@connections`` can never change meaning. Keys are written plain when they are safe
(``Fn::Sub``, ``AWS::Region`` style names) and quoted otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["to_yaml"]

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*(::[A-Za-z0-9_.\-]+)*$")
_INDENT = "  "


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"mapping keys must be strings, not {type(key).__name__}")
    return key if _PLAIN_KEY.match(key) and key.lower() not in _YAML_WORDS else _scalar(key)


_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"})


def _is_sequence(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _lines(value: Any, depth: int) -> list[str]:
    pad = _INDENT * depth
    out: list[str] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            head = f"{pad}{_key(key)}:"
            if (isinstance(item, Mapping) and item) or (_is_sequence(item) and item):
                out.append(head)
                out.extend(_lines(item, depth + 1))
            else:
                out.append(f"{head} {_empty_or_scalar(item)}")
    else:
        for item in value:
            if (isinstance(item, Mapping) and item) or (_is_sequence(item) and item):
                nested = _lines(item, depth + 1)
                out.append(f"{pad}- {nested[0].lstrip()}")
                out.extend(nested[1:])
            else:
                out.append(f"{pad}- {_empty_or_scalar(item)}")
    return out


def _empty_or_scalar(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{}"
    if _is_sequence(value):
        return "[]"
    return _scalar(value)


def to_yaml(document: Mapping[str, Any], *, header: str = "") -> str:
    """Render ``document`` (dicts, lists, strings, numbers, booleans, None) as YAML text.

    Args:
        document: The template.
        header: Comment lines to put first (each is prefixed with ``# ``).
    """
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines.extend(_lines(document, 0))
    return "\n".join(lines) + "\n"
