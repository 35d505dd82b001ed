"""Route selection expressions, evaluated exactly as API Gateway does (docs/aws-behaviour.md §3).

An API's ``RouteSelectionExpression`` picks the route for each incoming message:

- ``$request.body.action`` and ``${request.body.action}`` are the same expression.
- The part after ``request.body`` is a JSONPath over the message parsed as JSON. wsgate
  implements the subset that makes sense for a route key: dotted names (``a.b``), quoted names
  (``['a b']`` / ``["a"]``) and array indexes (``[0]``, ``[-1]``).
- Templates mix static text and several variables:
  ``${request.body.service}/${request.body.action}``.
  Evaluation is a single pass (no recursion); ``\\$`` is a literal dollar sign.
- A path that does not resolve gives ``""`` (``${request.body.a}-${request.body.nope}`` → ``"a-"``).
- The value is stringified: strings as they are, ``1`` → ``"1"``, ``1.5`` → ``"1.5"``,
  ``true`` → ``"true"``, ``null`` → ``""``, arrays ``"[item1, item2]"`` and objects
  ``"{k=v}"`` (Java ``toString`` style, as the docs' array example shows). UNVERIFIED:
  AWS documents only the array and integer forms; booleans, floats, ``null`` and objects
  follow the same Java convention by inference.
- Non-JSON bodies, and (UNVERIFIED) JSON that is not an object, go to ``$default``. A purely
  static expression needs no JSON and always yields its literal (UNVERIFIED for non-JSON
  bodies: the docs only say a static expression "always evaluates to that literal").
- Matching is exact and case-sensitive; no match falls back to ``$default`` if the API has it,
  else there is no route (API Gateway sends the ``Forbidden`` error frame).

Expressions are compiled once and cached, since they run for every message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from functools import lru_cache

from wsgate.exceptions import InvalidRouteError

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "PREDEFINED_ROUTE_KEYS",
    "SelectionExpression",
    "compile_expression",
    "evaluate",
    "select_route",
    "stringify",
    "validate_route_key",
]

PREDEFINED_ROUTE_KEYS = frozenset({"$connect", "$disconnect", "$default"})
_PREFIX = "request.body"
# One JSONPath step: .name | ['quoted'] | ["quoted"] | [index]
_STEP = re.compile(
    r"""\.(?P<name>[A-Za-z0-9_-]+)"""
    r"""|\[(?:'(?P<sq>(?:[^'\\]|\\.)*)'|"(?P<dq>(?:[^"\\]|\\.)*)"|(?P<idx>-?\d+))\]"""
)
_MISSING: Any = object()

Path = tuple[str | int, ...]


class SelectionExpression:
    """A compiled route selection expression. Build one with :func:`compile_expression`."""

    __slots__ = ("_parts", "expression", "is_static")

    def __init__(self, expression: str, parts: tuple[str | Path, ...]) -> None:
        self.expression = expression
        self._parts = parts
        self.is_static = all(isinstance(p, str) for p in parts)

    def __repr__(self) -> str:
        return f"SelectionExpression({self.expression!r})"

    @property
    def paths(self) -> tuple[Path, ...]:
        """The JSONPath of every variable, as tuples of names and indexes."""
        return tuple(p for p in self._parts if isinstance(p, tuple))

    def evaluate_value(self, document: Any) -> str:
        """Evaluate against an already parsed JSON ``document``.

        A document that is not an object resolves every variable to ``""``.
        """
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = _resolve(document, part) if isinstance(document, dict) else _MISSING
            if value is not _MISSING:
                out.append(stringify(value))
        return "".join(out)

    def evaluate(self, body: str | bytes | None) -> str:
        """Evaluate against a raw message body (a non-JSON body resolves variables to ``""``)."""
        if self.is_static:
            return "".join(p for p in self._parts if isinstance(p, str))
        return self.evaluate_value(_parse(body))

    def select(self, body: str | bytes | None, route_keys: Collection[str]) -> str | None:
        """Pick the route key for ``body`` among ``route_keys`` (see :func:`select_route`)."""
        if self.is_static:
            return self.select_value(None, route_keys)
        return self.select_value(_parse(body), route_keys)

    def select_value(self, document: Any, route_keys: Collection[str]) -> str | None:
        """Pick the route key for an already parsed JSON ``document``.

        Pass any non-dict (e.g. ``None``) for a body that is not a JSON object.
        """
        if self.is_static or isinstance(document, dict):
            key = self.evaluate_value(document)
            if key in route_keys and key not in ("$connect", "$disconnect"):
                return key
        return "$default" if "$default" in route_keys else None


_NOT_JSON: Any = object()


def _parse(body: str | bytes | None) -> Any:
    if body is None:
        return _NOT_JSON
    try:
        return json.loads(body)
    except (ValueError, TypeError):
        return _NOT_JSON


def _resolve(document: Any, path: Path) -> Any:
    node = document
    for step in path:
        if isinstance(step, str):
            if not isinstance(node, dict) or step not in node:
                return _MISSING
            node = node[step]
        else:
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return _MISSING
            node = node[step]
    return node


def stringify(value: Any) -> str:
    """Turn a JSON value into route-key text (Java ``toString`` style; see the module doc)."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(stringify(v) if v is not None else "null" for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{k}={stringify(v) if v is not None else 'null'}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    return str(value)


def _compile_path(expression: str, text: str) -> Path:
    """Compile the text after ``request.body`` into path steps."""
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _STEP.match(text, pos)
        if match is None:
            raise InvalidRouteError(
                expression, f"unsupported JSONPath after request.body at {text[pos:]!r}"
            )
        if match["name"] is not None:
            steps.append(match["name"])
        elif match["idx"] is not None:
            steps.append(int(match["idx"]))
        else:
            quoted = match["sq"] if match["sq"] is not None else match["dq"]
            steps.append(re.sub(r"\\(.)", r"\1", quoted))
        pos = match.end()
    return tuple(steps)


@lru_cache(maxsize=256)
def compile_expression(expression: str) -> SelectionExpression:
    """Compile (and cache) a route selection expression.

    Call it once at start-up to validate an expression; evaluation functions call it too, and
    the cache makes repeated calls cheap.

    Raises:
        InvalidRouteError: the expression is empty, not a string, has an unclosed ``${``,
            a variable other than ``request.body...``, or an unsupported JSONPath.
    """
    if not isinstance(expression, str) or not expression:
        raise InvalidRouteError(
            str(expression), "a selection expression must be a non-empty string"
        )
    parts: list[str | Path] = []
    literal: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch == "\\" and expression.startswith("$", i + 1):
            literal.append("$")
            i += 2
            continue
        if ch != "$":
            literal.append(ch)
            i += 1
            continue
        if expression.startswith("{", i + 1):
            end = expression.find("}", i + 2)
            if end < 0:
                raise InvalidRouteError(expression, "unclosed '${'")
            inner = expression[i + 2 : end]
            nxt = end + 1
        else:
            # Bare form: $request.body followed by as many JSONPath steps as match.
            inner_start = i + 1
            if not expression.startswith(_PREFIX, inner_start):
                raise InvalidRouteError(
                    expression, "only $request.body variables are allowed; write \\$ for '$'"
                )
            pos = inner_start + len(_PREFIX)
            while (m := _STEP.match(expression, pos)) is not None:
                pos = m.end()
            if expression.startswith((".", "["), pos):
                raise InvalidRouteError(
                    expression, f"unsupported JSONPath after request.body at {expression[pos:]!r}"
                )
            inner = expression[inner_start:pos]
            nxt = pos
        if inner != _PREFIX and not inner.startswith((_PREFIX + ".", _PREFIX + "[")):
            raise InvalidRouteError(expression, f"unsupported variable {inner!r}")
        if literal:
            parts.append("".join(literal))
            literal.clear()
        parts.append(_compile_path(expression, inner[len(_PREFIX) :]))
        i = nxt
    if literal:
        parts.append("".join(literal))
    return SelectionExpression(expression, tuple(parts))


def evaluate(expression: str, body: str | bytes | None) -> str:
    """Evaluate ``expression`` on a message body; the text API Gateway would match.

    Raises:
        InvalidRouteError: the expression is invalid.
    """
    return compile_expression(expression).evaluate(body)


def select_route(
    expression: str, body: str | bytes | None, route_keys: Collection[str]
) -> str | None:
    """The route key API Gateway would invoke for ``body``.

    Returns the exactly (case-sensitively) matching key; else ``"$default"`` when it is in
    ``route_keys``; else ``None`` (the caller sends the ``Forbidden`` error frame).

    Raises:
        InvalidRouteError: the expression is invalid.
    """
    return compile_expression(expression).select(body, route_keys)


def validate_route_key(route_key: str) -> str:
    """Check a route key API Gateway would accept and return it.

    Raises:
        InvalidRouteError: empty, not a string, or starting with ``$`` without being one of
            ``$connect``, ``$disconnect``, ``$default``.
    """
    if not isinstance(route_key, str) or not route_key:
        raise InvalidRouteError(str(route_key), "a route key must be a non-empty string")
    if route_key.startswith("$") and route_key not in PREDEFINED_ROUTE_KEYS:
        raise InvalidRouteError(route_key, "custom route keys may not start with '$'")
    return route_key
