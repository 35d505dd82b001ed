"""Read routes, the selection expression and two-way routes from a SAM/CloudFormation template.

Used by ``wsgate serve --template`` when the app is a plain Lambda handler function, which cannot
say which routes it serves. Understands ``AWS::ApiGatewayV2::Api``/``Route``/``RouteResponse``/
``Integration`` and SAM's ``AWS::Serverless::WebSocketApi``. Intrinsic functions (``!Ref``,
``!Sub``, ``!GetAtt`` ...) are read as plain data; only literal values are used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsgate.exceptions import ConfigurationError

__all__ = ["TemplateRoutes", "load_template"]


@dataclass(frozen=True)
class TemplateRoutes:
    """What the emulator needs from a template.

    Attributes:
        route_keys: Every route key the API defines.
        two_way_route_keys: Routes whose response body goes back to the client.
        route_selection_expression: The API's expression.
        timeouts: Integration timeout in seconds per route key, where the template sets one.
        stage: The stage name the template deploys, if any.
    """

    route_keys: frozenset[str]
    two_way_route_keys: frozenset[str]
    route_selection_expression: str
    timeouts: dict[str, float] = field(default_factory=dict)
    stage: str | None = None


def _read(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        data = json.loads(text)
    else:
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - PyYAML is in the `local` extra
            raise ConfigurationError("reading YAML templates needs PyYAML") from exc

        class _Loader(yaml.SafeLoader):
            pass

        def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
            if isinstance(node, yaml.ScalarNode):
                return {suffix: loader.construct_scalar(node)}
            if isinstance(node, yaml.SequenceNode):
                return {suffix: loader.construct_sequence(node, deep=True)}
            assert isinstance(node, yaml.MappingNode)
            return {suffix: loader.construct_mapping(node, deep=True)}

        _Loader.add_multi_constructor("!", _tag)
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    if not isinstance(data, dict) or not isinstance(data.get("Resources"), dict):
        raise ConfigurationError(f"{path}: not a CloudFormation/SAM template (no Resources)")
    return data


def _ref(value: Any) -> str | None:
    """The logical id a ``!Ref``/``Ref``/``!GetAtt X.ApiId`` points at."""
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        att = value.get("GetAtt", value.get("Fn::GetAtt"))
        if isinstance(att, str):
            return att.split(".")[0]
        if isinstance(att, list) and att and isinstance(att[0], str):
            return att[0]
    return None


def _integration_id(target: Any) -> str | None:
    """The integration logical id in ``Target: !Join ['/', [integrations, !Ref X]]``."""
    if isinstance(target, dict):
        join = target.get("Join", target.get("Fn::Join"))
        if isinstance(join, list) and len(join) == 2 and isinstance(join[1], list):
            for part in join[1]:
                ref = _ref(part)
                if ref:
                    return ref
        sub = target.get("Sub", target.get("Fn::Sub"))
        if isinstance(sub, str) and "${" in sub:
            return sub.split("${", 1)[1].split("}", 1)[0]
    return None


def load_template(path: str | Path) -> TemplateRoutes:
    """Read a template's WebSocket API.

    Raises:
        ConfigurationError: The file is unreadable, not a template, or defines no WebSocket API.
    """
    file = Path(path)
    try:
        data = _read(file)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"cannot read template {file}: {exc}") from exc
    resources: dict[str, Any] = data["Resources"]
    expression: str | None = None
    keys: set[str] = set()
    two_way: set[str] = set()
    timeouts: dict[str, float] = {}
    stage: str | None = None
    route_ids: dict[str, str] = {}
    integrations: dict[str, float] = {}
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        kind = resource.get("Type")
        props = resource.get("Properties") or {}
        if kind == "AWS::ApiGatewayV2::Api" and props.get("ProtocolType") == "WEBSOCKET":
            expression = props.get("RouteSelectionExpression", expression)
        elif kind == "AWS::ApiGatewayV2::Integration":
            millis = props.get("TimeoutInMillis")
            if isinstance(millis, int | float):
                integrations[logical_id] = millis / 1000
        elif kind == "AWS::ApiGatewayV2::Stage" and isinstance(props.get("StageName"), str):
            stage = props["StageName"]
        elif kind == "AWS::Serverless::WebSocketApi":
            expression = props.get("RouteSelectionExpression", expression)
            if isinstance(props.get("StageName"), str):
                stage = props["StageName"]
            for key, route in (props.get("Routes") or {}).items():
                keys.add(str(key))
                if isinstance(route, dict):
                    if route.get("RouteResponseSelectionExpression") == "$default":
                        two_way.add(str(key))
                    millis = route.get("IntegrationTimeout")
                    if isinstance(millis, int | float):
                        timeouts[str(key)] = millis / 1000
    for logical_id, resource in resources.items():
        if not isinstance(resource, dict):
            continue
        props = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::ApiGatewayV2::Route" and "RouteKey" in props:
            key = str(props["RouteKey"])
            keys.add(key)
            route_ids[logical_id] = key
            if props.get("RouteResponseSelectionExpression") == "$default":
                two_way.add(key)
            integ = _integration_id(props.get("Target"))
            if integ in integrations:
                timeouts[key] = integrations[integ]
    for resource in resources.values():
        if (
            isinstance(resource, dict)
            and resource.get("Type") == "AWS::ApiGatewayV2::RouteResponse"
        ):
            props = resource.get("Properties") or {}
            route = _ref(props.get("RouteId"))
            if props.get("RouteResponseKey") == "$default" and route in route_ids:
                two_way.add(route_ids[route])
    if expression is None:
        raise ConfigurationError(f"{file}: no WebSocket API (ProtocolType WEBSOCKET) found")
    return TemplateRoutes(frozenset(keys), frozenset(two_way), str(expression), timeouts, stage)
