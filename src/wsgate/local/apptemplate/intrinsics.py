"""CloudFormation's intrinsic functions and conditions, evaluated for a local run.

``Ref``, ``Fn::Sub`` (both forms), ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``,
``Fn::If``, ``Fn::Equals``/``And``/``Or``/``Not``, ``Fn::FindInMap``, ``Fn::Base64``,
``Fn::GetAZs``, ``Fn::Length``, ``Fn::ToJsonString`` and the pseudo parameters. What cannot be
known locally (``Fn::ImportValue``, an unknown attribute) raises :class:`Unresolved`; the
caller records the phrase and goes on. Sources: AWS CloudFormation User Guide, "Intrinsic
function reference" and "Pseudo parameters reference".
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from wsgate.exceptions import WsgateError

__all__ = ["NO_VALUE", "Resolver", "Unresolved", "text"]

NO_VALUE: Any = type("NoValue", (), {"__repr__": lambda self: "AWS::NoValue"})()
_SUB = re.compile(r"\$\{([^}]*)\}")
_MAX_DEPTH = 64


class Unresolved(WsgateError):
    """A construct that cannot be evaluated locally; ``phrase`` names it."""

    def __init__(self, phrase: str) -> None:
        super().__init__(phrase)
        self.phrase = phrase


def text(value: Any) -> str:
    """A scalar as CloudFormation writes it into a string (``true``, ``5``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise Unresolved(f"a {type(value).__name__} where a string is needed")


class Resolver:
    """Evaluates intrinsics over one template's parameters, mappings and conditions.

    Subclasses answer :meth:`resource_ref` and :meth:`resource_attribute` for resources.
    """

    def __init__(
        self,
        *,
        parameters: Mapping[str, Any],
        pseudo: Mapping[str, Any],
        mappings: Mapping[str, Any] | None = None,
        conditions: Mapping[str, Any] | None = None,
    ) -> None:
        self.parameters = dict(parameters)
        self.pseudo = dict(pseudo)
        self.mappings = dict(mappings or {})
        self._conditions = dict(conditions or {})
        self._decided: dict[str, bool] = {}
        self._deciding: set[str] = set()

    # -- resources (overridden) -------------------------------------------------------------
    def resource_ref(self, logical_id: str) -> Any:
        """What ``Ref`` of a resource gives."""
        raise Unresolved(f"Ref to unknown {logical_id}")

    def resource_attribute(self, logical_id: str, attribute: str) -> Any:
        """What ``Fn::GetAtt`` of a resource gives."""
        raise Unresolved(f"Fn::GetAtt {logical_id}.{attribute}")

    # -- evaluation ---------------------------------------------------------------------------
    def ref(self, name: str) -> Any:
        """``Ref``: a pseudo parameter, a parameter, or a resource."""
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        return self.resource_ref(name)

    def value(self, data: Any, depth: int = 0) -> Any:
        """``data`` with every intrinsic evaluated (``AWS::NoValue`` entries dropped).

        Raises:
            Unresolved: Something in ``data`` cannot be evaluated locally.
        """
        if depth > _MAX_DEPTH:
            raise Unresolved("intrinsics nested too deep")
        if isinstance(data, list):
            items = [self.value(item, depth + 1) for item in data]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(data, dict):
            return data
        if len(data) == 1:
            ((key, arg),) = data.items()
            if key == "Ref":
                if not isinstance(arg, str):
                    raise Unresolved("Ref of a non-string")
                return self.ref(arg)
            if isinstance(key, str) and key.startswith("Fn::"):
                return self._function(key[4:], arg, depth + 1)
        result = {}
        for key, item in data.items():
            resolved = self.value(item, depth + 1)
            if resolved is not NO_VALUE:
                result[key] = resolved
        return result

    def condition(self, name: str) -> bool:
        """The value of the template's condition ``name``."""
        if name in self._decided:
            return self._decided[name]
        if name not in self._conditions:
            raise Unresolved(f"unknown condition {name}")
        if name in self._deciding:
            raise Unresolved(f"condition {name} refers to itself")
        self._deciding.add(name)
        try:
            decided = self._truth(self._conditions[name], 0)
        finally:
            self._deciding.discard(name)
        self._decided[name] = decided
        return decided

    def _truth(self, data: Any, depth: int) -> bool:
        if isinstance(data, dict) and len(data) == 1 and isinstance(data.get("Condition"), str):
            return self.condition(data["Condition"])
        value = self.value(data, depth + 1)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise Unresolved(f"a condition that is not true/false ({value!r})")

    def _list(self, arg: Any, name: str, size: int | None = None) -> list[Any]:
        if not isinstance(arg, list) or (size is not None and len(arg) != size):
            raise Unresolved(f"Fn::{name} with malformed arguments")
        return arg

    def _function(self, name: str, arg: Any, depth: int) -> Any:
        if name == "GetAtt":
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            logical_id, attribute = self._list(arg, name, 2)
            return self.resource_attribute(str(logical_id), text(self.value(attribute, depth)))
        if name == "Sub":
            return self._sub(arg, depth)
        if name == "Join":
            delimiter, items = self._list(arg, name, 2)
            values = self.value(items, depth)
            if not isinstance(values, list):
                raise Unresolved("Fn::Join of a non-list")
            return text(self.value(delimiter, depth)).join(text(v) for v in values)
        if name == "Select":
            index, items = self._list(arg, name, 2)
            values = self.value(items, depth)
            position = int(text(self.value(index, depth)))
            if not isinstance(values, list) or not 0 <= position < len(values):
                raise Unresolved(f"Fn::Select index {position} out of range")
            return values[position]
        if name == "Split":
            delimiter, source = self._list(arg, name, 2)
            return text(self.value(source, depth)).split(text(self.value(delimiter, depth)))
        if name == "If":
            condition, when_true, when_false = self._list(arg, name, 3)
            chosen = when_true if self.condition(str(condition)) else when_false
            return self.value(chosen, depth)
        if name == "Equals":
            left, right = (self.value(v, depth) for v in self._list(arg, name, 2))
            return text(left) == text(right) if _scalar(left, right) else left == right
        if name in ("And", "Or"):
            truths = [self._truth(item, depth) for item in self._list(arg, name)]
            return all(truths) if name == "And" else any(truths)
        if name == "Not":
            (item,) = self._list(arg, name, 1)
            return not self._truth(item, depth)
        if name == "FindInMap":
            return self._find_in_map(self._list(arg, name), depth)
        if name == "Base64":
            return base64.b64encode(text(self.value(arg, depth)).encode()).decode()
        if name == "GetAZs":
            region = text(self.value(arg, depth)) or str(self.pseudo.get("AWS::Region"))
            return [f"{region}{zone}" for zone in "abc"]
        if name == "Length":
            values = self.value(arg, depth)
            if not isinstance(values, list):
                raise Unresolved("Fn::Length of a non-list")
            return len(values)
        if name == "ToJsonString":
            return json.dumps(self.value(arg, depth), separators=(",", ":"))
        if name == "ImportValue":
            raise Unresolved("Fn::ImportValue (another stack's output)")
        raise Unresolved(f"Fn::{name}")

    def _find_in_map(self, arg: list[Any], depth: int) -> Any:
        if len(arg) not in (3, 4):
            raise Unresolved("Fn::FindInMap with malformed arguments")
        names = [text(self.value(item, depth)) for item in arg[:3]]
        found: Any = self.mappings.get(names[0], {})
        for key in names[1:]:
            found = found.get(key) if isinstance(found, dict) else None
        if found is None:
            if len(arg) == 4 and isinstance(arg[3], dict) and "DefaultValue" in arg[3]:
                return self.value(arg[3]["DefaultValue"], depth)
            raise Unresolved(f"Fn::FindInMap {'/'.join(names)} not in Mappings")
        return self.value(found, depth)

    def _sub(self, arg: Any, depth: int) -> str:
        variables: dict[str, Any] = {}
        if isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], dict):
            template, variables = arg[0], arg[1]
        elif isinstance(arg, str):
            template = arg
        else:
            raise Unresolved("Fn::Sub with malformed arguments")
        if not isinstance(template, str):
            raise Unresolved("Fn::Sub of a non-string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return text(self.value(variables[name], depth))
            if "." in name and name not in self.pseudo and name not in self.parameters:
                logical_id, _, attribute = name.partition(".")
                return text(self.resource_attribute(logical_id, attribute))
            return text(self.ref(name))

        return _SUB.sub(replace, template)


def _scalar(*values: Any) -> bool:
    return all(isinstance(v, str | int | float | bool) for v in values)
