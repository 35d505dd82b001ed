"""Lambda functions of a template: ``AWS::Serverless::Function`` (with ``Globals``) and
``AWS::Lambda::Function``, as :class:`FunctionSpec` (AWS SAM Developer Guide,
"AWS::Serverless::Function" and "Globals section of the AWS SAM template")."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wsgate.local.apptemplate.intrinsics import NO_VALUE, Unresolved, text
from wsgate.local.apptemplate.model import FunctionSpec
from wsgate.local.apptemplate.names import function_arn, guess_runtime
from wsgate.local.apptemplate.stack import Stack

__all__ = ["merge_globals", "read_functions", "resolve_environment"]

DEFAULT_TIMEOUT = 3.0
DEFAULT_MEMORY = 128


def merge_globals(globals_: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's rule: maps merge (the function's keys win), anything else the function's wins."""
    merged = dict(globals_)
    for key, value in own.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict):
            merged[key] = merge_globals(base, value)
        else:
            merged[key] = value
    return merged


def resolve_environment(stack: Stack, variables: Any, where: str) -> dict[str, str]:
    """Each variable resolved on its own, so one unknown value loses only itself."""
    result: dict[str, str] = {}
    if not isinstance(variables, dict):
        return result
    for name, raw in variables.items():
        try:
            value = stack.value(raw)
            if value is NO_VALUE:
                continue  # Fn::If [..., !Ref AWS::NoValue]: the variable is left out
            result[str(name)] = text(value)
        except Unresolved as exc:
            stack.note(f"{where} variable {name}: {exc.phrase}")
            result[str(name)] = ""
    return result


def _code_root(stack: Stack, lid: str, props: Mapping[str, Any]) -> Path:
    base = stack.source.parent
    kind = stack.resources[lid]["Type"]
    code = props.get("CodeUri") if kind == "AWS::Serverless::Function" else props.get("Code")
    if kind == "AWS::Serverless::Function" and "InlineCode" in props:
        stack.note(f"function {lid}: InlineCode")
    if kind == "AWS::Lambda::Function" and isinstance(code, dict) and "ZipFile" in code:
        stack.note(f"function {lid}: inline Code.ZipFile")
    if str(props.get("PackageType", "Zip")) == "Image":
        stack.note(f"function {lid}: PackageType Image")
    if code is None:
        return base.resolve()
    resolved = stack.resolve(code, f"function {lid} code")
    if isinstance(resolved, str) and not resolved.startswith("s3://"):
        return (base / resolved).resolve()
    stack.note(f"function {lid}: code in S3 ({resolved})")
    return base.resolve()


def _number(stack: Stack, raw: Any, where: str, default: float) -> float:
    value = stack.resolve(raw, where)
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        stack.note(f"{where}: not a number ({value!r})")
        return default


def read_functions(stack: Stack, globals_section: Any) -> dict[str, FunctionSpec]:
    """Every function of the stack, by logical id."""
    globals_ = globals_section if isinstance(globals_section, dict) else {}
    function_globals = (
        globals_.get("Function") if isinstance(globals_.get("Function"), dict) else {}
    )
    assert isinstance(function_globals, dict)
    functions: dict[str, FunctionSpec] = {}
    for lid, own in stack.of_type("AWS::Serverless::Function", "AWS::Lambda::Function"):
        serverless = stack.resources[lid]["Type"] == "AWS::Serverless::Function"
        props = merge_globals(function_globals, own) if serverless else own
        root = _code_root(stack, lid, props)
        handler = stack.resolve_text(props.get("Handler"), f"function {lid} Handler", "") or ""
        if not handler and str(props.get("PackageType", "Zip")) != "Image":
            stack.note(f"function {lid}: no Handler")
        runtime = stack.resolve_text(props.get("Runtime"), f"function {lid} Runtime")
        runtime = runtime or guess_runtime(root, handler)
        if props.get("Layers"):
            stack.note(f"function {lid}: Layers (not loaded)")
        environment = props.get("Environment")
        variables = environment.get("Variables") if isinstance(environment, dict) else None
        name = stack.name_of(lid)
        functions[lid] = FunctionSpec(
            logical_id=lid,
            name=name,
            runtime=runtime,
            handler=handler,
            code_root=root,
            environment=resolve_environment(stack, variables, f"function {lid}"),
            timeout=_number(
                stack, props.get("Timeout"), f"function {lid} Timeout", DEFAULT_TIMEOUT
            ),
            memory_mb=int(
                _number(
                    stack, props.get("MemorySize"), f"function {lid} MemorySize", DEFAULT_MEMORY
                )
            ),
            arn=function_arn(stack.region, stack.account_id, name),
        )
    return functions
