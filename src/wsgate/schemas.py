"""JSON Schema for body types, as AsyncAPI documents carry it (draft 07, refs into components).

:class:`SchemaSet` collects the named schemas of every model it is asked about (Pydantic
models through their own ``json_schema``; dataclasses and TypedDicts from their type hints,
following the same rules as :mod:`wsgate.validator`) under ``#/components/schemas/<Name>``.
Pydantic writes draft 2020-12; the few keywords draft 07 spells differently are rewritten
(``prefixItems``, ``$defs``, object ``discriminator``).
"""

from __future__ import annotations

import collections.abc as cabc
import enum
import re
import types
import typing
from typing import Any

__all__ = ["REF_PREFIX", "SchemaSet"]

REF_PREFIX = "#/components/schemas/"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_SCALARS: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}


class SchemaSet:
    """Named schemas (``definitions``) and the schema of any supported type."""

    def __init__(self) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}
        self._names: dict[Any, str] = {}

    def name_of(self, model: Any) -> str:
        """The component name of ``model`` (its class name, made unique and safe)."""
        name = self._names.get(model)
        if name is None:
            base = _SAFE.sub("_", getattr(model, "__name__", "Model")) or "Model"
            name, n = base, 1
            while name in self.definitions or name in self._names.values():
                n += 1
                name = f"{base}_{n}"
            self._names[model] = name
        return name

    def object_schema(self, model: Any) -> dict[str, Any]:
        """The (inline) object schema of a model, its nested models as refs."""
        self.schema(model)
        return dict(self.definitions[self.name_of(model)])

    def schema(self, tp: Any) -> dict[str, Any]:
        """The schema of ``tp``: a ``$ref`` for models, inline for everything else (``{}``
        for a type with no JSON meaning, e.g. ``Any``)."""
        if tp is None:
            tp = type(None)
        if tp in _SCALARS:
            return dict(_SCALARS[tp])
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Annotated:
            return self.schema(args[0])
        if origin is typing.Literal:
            return {"const": args[0]} if len(args) == 1 else {"enum": list(args)}
        if origin is typing.Union or origin is types.UnionType:
            return {"anyOf": [self.schema(a) for a in args]}
        if origin in (list, cabc.Sequence, cabc.MutableSequence) or tp is list:
            return {"type": "array", "items": self.schema(args[0]) if args else {}}
        if origin in (set, frozenset, cabc.Set, cabc.MutableSet) or tp in (set, frozenset):
            items = self.schema(args[0]) if args else {}
            return {"type": "array", "items": items, "uniqueItems": True}
        if origin is tuple or tp is tuple:
            if not args or (len(args) == 2 and args[1] is Ellipsis):
                return {"type": "array", "items": self.schema(args[0]) if args else {}}
            fixed = [self.schema(a) for a in args]
            return {"type": "array", "items": fixed, "minItems": len(args), "maxItems": len(args)}
        if origin in (dict, cabc.Mapping, cabc.MutableMapping) or tp is dict:
            values = self.schema(args[1]) if len(args) == 2 else {}
            return {"type": "object", "additionalProperties": values}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return {"enum": [m.value for m in tp]}
        if isinstance(tp, type):
            if hasattr(tp, "__pydantic_validator__") or hasattr(tp, "model_json_schema"):
                return self._pydantic(tp)
            if hasattr(tp, "__dataclass_fields__") or typing.is_typeddict(tp):
                return self._plain(tp)
        return {}

    def _ref(self, model: Any) -> dict[str, Any]:
        return {"$ref": REF_PREFIX + self.name_of(model)}

    def _plain(self, model: type) -> dict[str, Any]:
        name = self.name_of(model)
        if name in self.definitions:
            return self._ref(model)
        self.definitions[name] = {}  # placeholder: recursive models refer to themselves
        hints = typing.get_type_hints(model)
        if typing.is_typeddict(model):
            from wsgate.validator import _required_keys

            names = list(hints)
            required = [n for n in names if n in _required_keys(model, names)]
        else:
            import dataclasses

            fields = [f for f in dataclasses.fields(model) if f.init]
            names = [f.name for f in fields]
            missing = dataclasses.MISSING
            required = [
                f.name for f in fields if f.default is missing and f.default_factory is missing
            ]
        schema: dict[str, Any] = {
            "title": model.__name__,
            "type": "object",
            "properties": {n: self.schema(hints[n]) for n in names},
        }
        if required:
            schema["required"] = required
        if getattr(model, "__wsgate_extra__", "ignore") == "forbid":
            schema["additionalProperties"] = False
        doc = (model.__doc__ or "").strip()
        if doc and not doc.startswith(model.__name__ + "("):  # not the dataclass default
            schema["description"] = doc
        self.definitions[name] = schema
        return self._ref(model)

    def _pydantic(self, model: type) -> dict[str, Any]:
        name = self.name_of(model)
        if name in self.definitions:
            return self._ref(model)
        import pydantic

        raw = pydantic.TypeAdapter(model).json_schema(ref_template=REF_PREFIX + "{model}")
        definitions = raw.pop("$defs", {})
        for key, value in definitions.items():
            self.definitions.setdefault(key, _draft7(value))
            self._names.setdefault(("pydantic", key), key)
        self.definitions[name] = _draft7(raw)
        return self._ref(model)


def _draft7(schema: Any) -> Any:
    """Rewrite the draft 2020-12 keywords Pydantic emits into their draft 07 spelling."""
    if isinstance(schema, list):
        return [_draft7(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _draft7(value) for key, value in schema.items()}
    if "prefixItems" in out:
        out["items"] = out.pop("prefixItems")
    discriminator = out.get("discriminator")
    if isinstance(discriminator, dict):
        out["discriminator"] = discriminator.get("propertyName", "")
    return out
