"""Reading handler signatures: which parameter takes the body, and what a handler returns.

Used at registration (:func:`wsgate.bodies.bind`) and by the AsyncAPI generator, never per
message. Annotations written as strings (``from __future__ import annotations``) are resolved
in the handler's module; one that cannot be resolved is simply not a model, unless it belongs
to the parameter named ``body``, which is an error (a typo there would silently turn
validation off).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

__all__ = ["body_parameter", "resolve_annotation", "return_annotation", "takes_context"]

_UNRESOLVED: Any = object()


def resolve_annotation(func: Callable[..., Any], annotation: Any) -> Any:
    """``annotation`` evaluated in ``func``'s module when it is a string; else as is."""
    if not isinstance(annotation, str):
        return annotation
    target = inspect.unwrap(func)
    namespace = getattr(target, "__globals__", None)
    if namespace is None:
        namespace = getattr(getattr(target, "__call__", None), "__globals__", {})  # noqa: B004
    try:
        return eval(annotation, dict(namespace))  # what typing.get_type_hints does, per name
    except Exception:
        return _UNRESOLVED


def return_annotation(func: Callable[..., Any]) -> Any:
    """The resolved return annotation of ``func``, or ``None`` when it has none."""
    try:
        annotation = inspect.signature(func).return_annotation
    except (TypeError, ValueError):
        return None
    if annotation is inspect.Signature.empty:
        return None
    value = resolve_annotation(func, annotation)
    return None if value is _UNRESOLVED else value


def body_parameter(
    func: Callable[..., Any], body: Any, is_model: Callable[[Any], bool]
) -> tuple[Any, str, bool] | None:
    """``(model, parameter name, takes_context)`` for ``func``, or ``None`` without a body.

    ``takes_context`` says whether a positional parameter besides the event and the body is
    left for the Lambda context.

    Raises:
        TypeError: see :func:`wsgate.bodies.bind`.
    """
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        if body is None:
            return None
        raise TypeError(f"cannot read the parameters of {func!r} to pass it the body") from None
    name = getattr(func, "__qualname__", repr(func))
    rest = params[1:]
    hints = {p.name: resolve_annotation(func, p.annotation) for p in rest}
    if body is not None:
        if not is_model(body):
            raise TypeError(f"body={body!r} is not a Pydantic model, a dataclass or a TypedDict")
        chosen = [p for p in rest if hints[p.name] is body] or [p for p in rest if p.name == "body"]
        if not chosen:
            raise TypeError(f"{name} has no parameter for the body: add one named 'body'")
        model = body
    else:
        chosen = [p for p in rest if is_model(hints[p.name])]
        if not chosen:
            bad = [p for p in rest if p.name == "body" and hints[p.name] is _UNRESOLVED]
            if bad:
                raise TypeError(
                    f"{name}: cannot resolve the annotation {bad[0].annotation!r} of 'body' "
                    "(define the model at module level, or pass body=...)"
                )
            return None
        if len(chosen) > 1:
            raise TypeError(f"{name}: more than one parameter is annotated with a model")
        model = hints[chosen[0].name]
    param = chosen[0]
    if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
        raise TypeError(f"{name}: the body parameter {param.name!r} must accept a keyword")
    positional = [
        p
        for p in params
        if p is not param and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    required_after = [p for p in positional[2:] if p.default is p.empty]
    if required_after:
        raise TypeError(f"{name}: unexpected required parameter {required_after[0].name!r}")
    takes_context = len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)
    if takes_context and len(positional) >= 2 and params.index(param) < params.index(positional[1]):
        raise TypeError(f"{name}: put the body parameter after the context parameter")
    return model, param.name, takes_context


def takes_context(func: Callable[..., Any], *, exclude: list[str]) -> bool:
    """Whether ``func`` takes a second positional argument, not counting ``exclude``."""
    try:
        params = [p for p in inspect.signature(func).parameters.values() if p.name not in exclude]
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params)
