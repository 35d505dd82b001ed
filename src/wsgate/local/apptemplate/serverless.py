"""A ``serverless.yml`` (Serverless Framework v3) read into a :class:`TemplateApp`.

Read: ``service``, ``provider.stage``/``region``/``runtime``/``timeout``/``memorySize``/
``environment``/``websocketsApiRouteSelectionExpression``, ``functions.*`` with their
``websocket`` events (string and ``{route, routeResponseSelectionExpression, authorizer}``
forms) and ``environment``, and ``resources`` (CloudFormation: tables, queues, conditions).
Other events (``http``, ``schedule``...) are skipped with a note. Source: Serverless Framework
documentation, "AWS - WebSocket events" and "Serverless.yml reference".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wsgate.local.apptemplate.cloudformation import note_other_resources, read_queues, read_tables
from wsgate.local.apptemplate.functions import resolve_environment
from wsgate.local.apptemplate.intrinsics import Unresolved, text
from wsgate.local.apptemplate.model import AuthorizerSpec, FunctionSpec, RouteSpec, TemplateApp
from wsgate.local.apptemplate.names import function_arn, function_name_of, guess_runtime
from wsgate.local.apptemplate.stack import Stack
from wsgate.local.apptemplate.variables import Variables

__all__ = ["is_serverless", "read_serverless_app"]

DEFAULT_TIMEOUT = 6.0  # the Framework's default, not Lambda's
DEFAULT_MEMORY = 1024
DEFAULT_IDENTITY = ("route.request.header.Auth",)


def is_serverless(data: Mapping[str, Any]) -> bool:
    """A serverless.yml has ``service`` and ``provider`` or ``functions`` at the top."""
    return "service" in data and ("provider" in data or "functions" in data)


def normalized(key: str) -> str:
    """The Framework's logical-id form of a key (``send-message`` → ``SendDashmessage``)."""
    name = key[:1].upper() + key[1:]
    return name.replace("-", "Dash").replace("_", "Underscore")


def _resources(raw: Any) -> dict[str, Any]:
    """``resources`` as one CloudFormation fragment (it may be a list of fragments)."""
    merged: dict[str, Any] = {"Resources": {}, "Conditions": {}, "Mappings": {}}
    for fragment in raw if isinstance(raw, list) else [raw]:
        if isinstance(fragment, dict):
            for section in merged:
                if isinstance(fragment.get(section), dict):
                    merged[section].update(fragment[section])
    return merged


def read_serverless_app(
    path: Path,
    raw: Mapping[str, Any],
    *,
    parameter_overrides: Mapping[str, str],
    api_id: str,
    region: str | None,
    account_id: str,
    stage: str | None,
) -> TemplateApp:
    """The WebSocket app a serverless.yml declares."""
    notes: list[str] = []
    unsupported: list[str] = []

    def note(phrase: str) -> None:
        if phrase not in unsupported:
            unsupported.append(phrase)

    provider_raw = raw.get("provider") if isinstance(raw.get("provider"), dict) else {}
    assert isinstance(provider_raw, dict)
    options = {k: v for k, v in parameter_overrides.items()}
    if stage:
        options["stage"] = stage
    if region:
        options["region"] = region
    early = Variables(
        raw, base=path.parent, options=options, sls={}, aws={}, params={}, note=lambda _: None
    )
    the_stage = stage or _scalar(early.resolve(provider_raw.get("stage"))) or "dev"
    the_region = region or _scalar(early.resolve(provider_raw.get("region"))) or "us-east-1"
    variables = Variables(
        raw,
        base=path.parent,
        options={**options, "stage": the_stage, "region": the_region},
        sls={"stage": the_stage, "instanceId": "local"},
        aws={"region": the_region, "accountId": account_id},
        params=parameter_overrides,
        note=note,
    )
    config = variables.resolve(dict(raw))
    given = config.get("service")
    if isinstance(given, dict):  # the Framework v1 form {name: ...}
        given = given.get("name")
    service = _scalar(given) or path.parent.name
    provider = config.get("provider") if isinstance(config.get("provider"), dict) else {}
    functions_raw = config.get("functions") if isinstance(config.get("functions"), dict) else {}
    assert isinstance(provider, dict) and isinstance(functions_raw, dict)
    if str(provider.get("name", "aws")) != "aws":
        note(f"provider {provider.get('name')} (only aws)")

    cfn = _resources(config.get("resources"))
    names = {key: _function_name(service, the_stage, key, fn) for key, fn in functions_raw.items()}
    for key in functions_raw:  # the resources the Framework generates
        cfn["Resources"][f"{normalized(key)}LambdaFunction"] = {
            "Type": "AWS::Lambda::Function",
            "Properties": {"FunctionName": names[key]},
        }
    cfn["Resources"].setdefault(
        "WebsocketsApi", {"Type": "AWS::ApiGatewayV2::Api", "Properties": {}}
    )
    stack = Stack(
        cfn,
        source=path,
        stack_name=f"{service}-{the_stage}",
        region=the_region,
        account_id=account_id,
        api_id=api_id,
        parameter_overrides={},
    )
    stack.unsupported = unsupported  # one list for both kinds of phrase

    routes: dict[str, RouteSpec] = {}
    functions: dict[str, FunctionSpec] = {}
    authorizer_ref: tuple[Any, str] | None = None
    for key, fn in functions_raw.items():
        fn = fn if isinstance(fn, dict) else {}
        try:
            functions[key] = _function(stack, key, fn, provider, names[key], path.parent)
        except (Unresolved, TypeError, ValueError) as exc:
            note(f"function {key}: {exc}")
            continue
        events = fn.get("events")
        for event in events if isinstance(events, list) else []:
            if not isinstance(event, dict) or not event:
                continue
            kind = next(iter(event))
            if kind != "websocket":
                notes.append(f"function {key}: {kind} event skipped (only websocket events)")
                continue
            spec = event["websocket"]
            spec = {"route": spec} if isinstance(spec, str) else spec
            if not isinstance(spec, dict) or not isinstance(spec.get("route"), str | int):
                note(f"function {key}: websocket event without a route")
                continue
            route = text(spec["route"])
            two_way = spec.get("routeResponseSelectionExpression") == "$default"
            routes[route] = RouteSpec(route, key, two_way)
            if route == "$connect" and spec.get("authorizer"):
                authorizer_ref = (spec["authorizer"], key)
    authorizer = _authorizer(authorizer_ref, names, note) if authorizer_ref else None
    tables = read_tables(stack)
    queues = read_queues(stack)
    note_other_resources(stack)
    expression = provider.get("websocketsApiRouteSelectionExpression")
    if not isinstance(expression, str):
        expression = "$request.body.action"
    return TemplateApp(
        source=path,
        api_id=api_id,
        region=the_region,
        account_id=account_id,
        stage=the_stage,
        route_selection_expression=text(expression),
        routes=routes,
        functions=functions,
        tables=tables,
        queues=queues,
        authorizer=authorizer,
        unsupported=tuple(unsupported),
        notes=tuple(notes),
        declared_stage=the_stage,
        has_api=bool(routes),
    )


def _scalar(value: Any) -> str:
    """A scalar as text; anything else (a map, a list, nothing) as ``""``."""
    return text(value) if isinstance(value, str | int | float | bool) else ""


def _function_name(service: str, stage: str, key: str, fn: Any) -> str:
    if isinstance(fn, dict) and isinstance(fn.get("name"), str | int):
        return text(fn["name"])
    return f"{service}-{stage}-{key}"


def _function(
    stack: Stack,
    key: str,
    fn: Mapping[str, Any],
    provider: Mapping[str, Any],
    name: str,
    root: Path,
) -> FunctionSpec:
    handler = text(fn.get("handler") or "")
    if not handler:
        stack.note(f"function {key}: no handler")
    if fn.get("image"):
        stack.note(f"function {key}: container image")
    if fn.get("layers") or provider.get("layers"):
        stack.note(f"function {key}: layers (not loaded)")
    env: dict[str, Any] = {}
    for scope in (provider.get("environment"), fn.get("environment")):
        if isinstance(scope, dict):
            env.update(scope)
    runtime = fn.get("runtime") or provider.get("runtime")
    timeout = fn.get("timeout") or provider.get("timeout") or DEFAULT_TIMEOUT
    memory = fn.get("memorySize") or provider.get("memorySize") or DEFAULT_MEMORY
    return FunctionSpec(
        logical_id=key,
        name=name,
        runtime=text(runtime) if runtime else guess_runtime(root, handler),
        handler=handler,
        code_root=root.resolve(),
        environment=resolve_environment(stack, env, f"function {key}"),
        timeout=float(timeout),
        memory_mb=int(memory),
        arn=function_arn(stack.region, stack.account_id, name),
    )


def _authorizer(ref: tuple[Any, str], names: Mapping[str, str], note: Any) -> AuthorizerSpec | None:
    given, route_function = ref
    spec = {"name": given} if isinstance(given, str) else given
    if not isinstance(spec, dict):
        note(f"function {route_function}: authorizer not understood")
        return None
    sources = spec.get("identitySource") or DEFAULT_IDENTITY
    sources = [sources] if isinstance(sources, str) else sources
    target = spec.get("name")
    if target is None and spec.get("arn"):
        by_name = {name: key for key, name in names.items()}
        target = by_name.get(function_name_of(text(spec["arn"])) or "")
    if target not in names:
        note(f"authorizer {spec.get('name') or spec.get('arn')} is not a function of this service")
        return None
    return AuthorizerSpec(str(target), tuple(text(s) for s in sources))
