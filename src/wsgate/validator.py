"""A small validator for dataclass and ``TypedDict`` message bodies (standard library only).

:func:`compile_type` turns a type into a checker once, when the route is registered; the
checker then walks a parsed JSON document and returns the typed value (dataclass instances,
tuples, sets, enum members) or records errors. Supported: ``str``, ``int``, ``float`` (an
integer is accepted), ``bool``, ``None``, ``Any``, ``Optional``/``Union``/``X | Y``,
``list``/``Sequence``, ``tuple`` (fixed or ``tuple[X, ...]``), ``set``/``frozenset``,
``dict``/``Mapping`` with ``str`` keys, ``Literal``, ``Enum`` subclasses, nested dataclasses
and TypedDicts (``Required``/``NotRequired`` honoured), recursive types. JSON types are not
coerced (``"1"`` is not an ``int``).

Limits hold for every input: nesting deeper than :data:`MAX_DEPTH` is one error, and
validation stops after :data:`MAX_ERRORS` errors, so a huge wrong body costs little.

Extra fields are ignored unless the class says ``__wsgate_extra__ = "forbid"`` (or is
decorated with :func:`wsgate.bodies.forbid_extra`).
"""

from __future__ import annotations

import collections.abc as cabc
import enum
import types
import typing
from collections.abc import Callable
from typing import Any

__all__ = ["MAX_DEPTH", "MAX_ERRORS", "Checker", "Errors", "compile_type", "format_path"]

MAX_DEPTH = 32
"""Deepest nesting of arrays and objects a body may have below the top level."""
MAX_ERRORS = 50
"""Validation stops after this many errors."""

Path = tuple[Any, ...]
"""A path is built only as far as needed: ``()`` for the top, else ``(parent, step)``."""
Checker = Callable[[Any, Path, "Errors", int], Any]

BAD: Any = object()  # what a checker returns for an invalid value


class _Stop(Exception):
    """Raised when :data:`MAX_ERRORS` is reached: the walk ends at once."""


class Errors:
    """Collects ``(path, message)`` pairs; stops the walk when there are too many."""

    __slots__ = ("items", "total")

    def __init__(self) -> None:
        self.items: list[tuple[Path, str]] = []
        self.total = 0

    def add(self, path: Path, message: str) -> None:
        self.total += 1
        self.items.append((path, message))
        if self.total >= MAX_ERRORS:
            raise _Stop


def flatten(path: Path) -> tuple[str | int, ...]:
    """``(((), "items"), 2)`` → ``("items", 2)``."""
    steps: list[str | int] = []
    while path:
        path, step = path
        steps.append(step)
    return tuple(reversed(steps))


def format_path(path: Path) -> str:
    """``("items", 2, "name")`` (or its linked form) → ``"items[2].name"``."""
    if len(path) == 2 and isinstance(path[0], tuple):
        path = flatten(path)
    out: list[str] = []
    for step in path:
        if isinstance(step, int):
            out.append(f"[{step}]")
        else:
            out.append(f".{step}" if out else step)
    return "".join(out)


def run(checker: Checker, value: Any) -> tuple[Any, Errors]:
    """Apply ``checker`` to ``value``: the typed value (or ``BAD``) and the errors found."""
    errors = Errors()
    try:
        result = checker(value, (), errors, 0)
    except _Stop:
        result = BAD
    except RecursionError:
        errors.items.append(((), "nested too deeply"))
        errors.total += 1
        result = BAD
    return result, errors


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a value of another type"


def _simple(test: Callable[[Any], bool], what: str) -> Checker:
    def check(value: Any, path: Path, errors: Errors, depth: int) -> Any:
        if test(value):
            return value
        errors.add(path, f"expected {what}, got {_kind(value)}")
        return BAD

    return check


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _float(value: Any, path: Path, errors: Errors, depth: int) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    errors.add(path, f"expected a number, got {_kind(value)}")
    return BAD


def _any(value: Any, path: Path, errors: Errors, depth: int) -> Any:
    return value


def _str(value: Any, path: Path, errors: Errors, depth: int) -> Any:
    if type(value) is str or isinstance(value, str):
        return value
    errors.add(path, f"expected a string, got {_kind(value)}")
    return BAD


def _int(value: Any, path: Path, errors: Errors, depth: int) -> Any:
    if type(value) is int or _is_int(value):
        return value
    errors.add(path, f"expected an integer, got {_kind(value)}")
    return BAD


_SCALARS: dict[Any, Checker] = {
    str: _str,
    int: _int,
    bool: _simple(lambda v: isinstance(v, bool), "true or false"),
    type(None): _simple(lambda v: v is None, "null"),
    float: _float,
    Any: _any,
    object: _any,
}
_SEQUENCES = {list, cabc.Sequence, cabc.MutableSequence, cabc.Iterable, cabc.Collection}
_SETS = {set, frozenset, cabc.Set, cabc.MutableSet}
_MAPPINGS = {dict, cabc.Mapping, cabc.MutableMapping}


def _describe(tp: Any) -> str:
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", None) or repr(tp).replace("typing.", "")


class _Compiler:
    """Compiles types to checkers, once per class (so recursive types work)."""

    def __init__(self) -> None:
        self.classes: dict[Any, list[Checker]] = {}

    def compile(self, tp: Any) -> Checker:
        if tp is None:
            tp = type(None)
        scalar = _SCALARS.get(tp)
        if scalar is not None:
            return scalar
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Literal:
            return self._literal(args)
        if origin is typing.Union or origin is types.UnionType:
            return self._union(args)
        if tp in _SEQUENCES or origin in _SEQUENCES:
            return self._list(self.compile(args[0]) if args else _any)
        if tp is tuple or origin is tuple:
            return self._tuple(args)
        if tp in _SETS or origin in _SETS:
            return self._set(self.compile(args[0]) if args else _any, origin or tp)
        if tp in _MAPPINGS or origin in _MAPPINGS:
            if args and args[0] is not str:
                raise TypeError(f"{_describe(tp)}: JSON object keys are strings; use dict[str, X]")
            return self._dict(self.compile(args[1]) if args else _any)
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return self._enum(tp)
        if isinstance(tp, type) and (hasattr(tp, "__dataclass_fields__") or _is_typeddict(tp)):
            return self._class(tp)
        raise TypeError(f"unsupported body field type {_describe(tp)}")

    # --- leaves and containers ---------------------------------------------------------------

    @staticmethod
    def _literal(values: tuple[Any, ...]) -> Checker:
        allowed = [(type(v), v) for v in values]
        shown = ", ".join(repr(v) for v in values)

        def check(value: Any, path: Path, errors: Errors, depth: int) -> Any:
            for kind, literal in allowed:
                if type(value) is kind and value == literal:
                    return value
            errors.add(path, f"expected one of {shown}")
            return BAD

        return check

    def _union(self, members: tuple[Any, ...]) -> Checker:
        allow_none = type(None) in members
        rest = [m for m in members if m is not type(None)]
        if len(rest) == 1:
            inner = self.compile(rest[0])

            def optional(value: Any, path: Path, errors: Errors, depth: int) -> Any:
                if value is None and allow_none:
                    return None
                return inner(value, path, errors, depth)

            return optional
        checkers = [self.compile(m) for m in rest]
        shown = " or ".join(_describe(m) for m in members)

        def union(value: Any, path: Path, errors: Errors, depth: int) -> Any:
            if value is None and allow_none:
                return None
            for checker in checkers:
                trial = Errors()
                try:
                    result = checker(value, path, trial, depth)
                except _Stop:
                    continue
                if result is not BAD and not trial.total:
                    return result
            errors.add(path, f"expected {shown}, got {_kind(value)}")
            return BAD

        return union

    @staticmethod
    def _list(item: Checker) -> Checker:
        def check(value: Any, path: Path, errors: Errors, depth: int) -> Any:
            if not isinstance(value, list):
                errors.add(path, f"expected an array, got {_kind(value)}")
                return BAD
            if depth >= MAX_DEPTH:
                errors.add(path, "nested too deeply")
                return BAD
            out = []
            ok = True
            for index, element in enumerate(value):
                result = item(element, (path, index), errors, depth + 1)
                ok = ok and result is not BAD
                out.append(result)
            return out if ok else BAD

        return check

    def _tuple(self, args: tuple[Any, ...]) -> Checker:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            as_list = self._list(self.compile(args[0]) if args else _any)

            def variadic(value: Any, path: Path, errors: Errors, depth: int) -> Any:
                result = as_list(value, path, errors, depth)
                return BAD if result is BAD else tuple(result)

            return variadic
        items = [self.compile(a) for a in args]

        def fixed(value: Any, path: Path, errors: Errors, depth: int) -> Any:
            if not isinstance(value, list):
                errors.add(path, f"expected an array, got {_kind(value)}")
                return BAD
            if len(value) != len(items):
                errors.add(path, f"expected {len(items)} items, got {len(value)}")
                return BAD
            if depth >= MAX_DEPTH:
                errors.add(path, "nested too deeply")
                return BAD
            out = [
                c(v, (path, i), errors, depth + 1)
                for i, (c, v) in enumerate(zip(items, value, strict=True))
            ]
            return BAD if any(r is BAD for r in out) else tuple(out)

        return fixed

    def _set(self, item: Checker, kind: Any) -> Checker:
        as_list = self._list(item)
        make = frozenset if kind in (frozenset, cabc.Set) else set

        def check(value: Any, path: Path, errors: Errors, depth: int) -> Any:
            result = as_list(value, path, errors, depth)
            if result is BAD:
                return BAD
            try:
                return make(result)
            except TypeError:
                errors.add(path, "expected an array of strings or numbers")
                return BAD

        return check

    @staticmethod
    def _dict(item: Checker) -> Checker:
        def check(value: Any, path: Path, errors: Errors, depth: int) -> Any:
            if not isinstance(value, dict):
                errors.add(path, f"expected an object, got {_kind(value)}")
                return BAD
            if depth >= MAX_DEPTH:
                errors.add(path, "nested too deeply")
                return BAD
            out = {}
            ok = True
            for key, element in value.items():
                result = item(element, (path, key), errors, depth + 1)
                ok = ok and result is not BAD
                out[key] = result
            return out if ok else BAD

        return check

    @staticmethod
    def _enum(tp: type[enum.Enum]) -> Checker:
        by_value = {(type(m.value), m.value): m for m in tp}
        shown = ", ".join(repr(m.value) for m in tp)

        def check(value: Any, path: Path, errors: Errors, depth: int) -> Any:
            try:
                return by_value[(type(value), value)]
            except (KeyError, TypeError):
                errors.add(path, f"expected one of {shown}")
                return BAD

        return check

    # --- dataclasses and TypedDicts ------------------------------------------------------------

    def _class(self, cls: type) -> Checker:
        cell = self.classes.get(cls)
        if cell is None:
            cell = self.classes[cls] = []
            cell.append(self._build_class(cls))

        def check(value: Any, path: Path, errors: Errors, depth: int) -> Any:
            return cell[0](value, path, errors, depth)

        return check

    def _build_class(self, cls: type) -> Checker:
        try:
            hints = typing.get_type_hints(cls)
        except Exception as exc:
            raise TypeError(f"cannot resolve the field types of {cls.__qualname__}: {exc}") from exc
        forbid = getattr(cls, "__wsgate_extra__", "ignore") == "forbid"
        typed_dict = _is_typeddict(cls)
        if typed_dict:
            names = list(hints)
            required = _required_keys(cls, names)
        else:
            import dataclasses

            fields = [f for f in dataclasses.fields(cls) if f.init]
            names = [f.name for f in fields]
            missing = dataclasses.MISSING
            required = {
                f.name for f in fields if f.default is missing and f.default_factory is missing
            }
        checkers = {name: self.compile(hints[name]) for name in names}
        known = frozenset(names)
        order = tuple(checkers.items())

        def check(value: Any, path: Path, errors: Errors, depth: int) -> Any:
            if not isinstance(value, dict):
                errors.add(path, f"expected an object, got {_kind(value)}")
                return BAD
            if depth >= MAX_DEPTH:
                errors.add(path, "nested too deeply")
                return BAD
            out: dict[str, Any] = {}
            ok = True
            for name, checker in order:
                if name in value:
                    result = checker(value[name], (path, name), errors, depth + 1)
                    ok = ok and result is not BAD
                    out[name] = result
                elif name in required:
                    errors.add((path, name), "field required")
                    ok = False
            if forbid and len(value) > len(out):
                for key in value:
                    if key not in known:
                        errors.add((path, key), "unexpected field")
                        ok = False
            if not ok:
                return BAD
            if typed_dict:
                return out
            try:
                return cls(**out)
            except ValueError as exc:  # a __post_init__ check of the app's own
                errors.add(path, str(exc) or "invalid value")
                return BAD

        return check


def _required_keys(cls: type, names: list[str]) -> set[str]:
    """A TypedDict's required keys, also when its annotations are strings (Python 3.11 reads
    ``Required``/``NotRequired`` only from evaluated annotations)."""
    declared = set(getattr(cls, "__required_keys__", names))
    extras = typing.get_type_hints(cls, include_extras=True)
    required = set()
    for name in names:
        origin = typing.get_origin(extras[name])
        if origin is typing.Annotated:
            origin = typing.get_origin(typing.get_args(extras[name])[0])
        if origin is typing.Required or (origin is not typing.NotRequired and name in declared):
            required.add(name)
    return required


def _is_typeddict(tp: Any) -> bool:
    return bool(typing.is_typeddict(tp))


def compile_type(tp: Any) -> Checker:
    """Compile ``tp`` (a dataclass, a TypedDict or any supported type) to a checker.

    Raises:
        TypeError: ``tp`` or one of its fields has a type JSON cannot carry (e.g. ``datetime``),
            or its annotations cannot be resolved.
    """
    return _Compiler().compile(tp)
