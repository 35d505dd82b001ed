"""A SAM/CloudFormation template read into a :class:`TemplateApp`.

The API, its routes, integrations, route responses, stage and authorizer come from
``AWS::ApiGatewayV2::*`` (AWS CloudFormation User Guide, "Amazon API Gateway V2 resource type
reference"); functions from ``AWS::Serverless::Function`` (with ``Globals``) and
``AWS::Lambda::Function``; tables and queues through :mod:`.resources`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from wsgate.local.apptemplate.functions import read_functions
from wsgate.local.apptemplate.intrinsics import Unresolved
from wsgate.local.apptemplate.model import (
    AuthorizerSpec,
    QueueSpec,
    RouteSpec,
    TableSpec,
    TemplateApp,
)
from wsgate.local.apptemplate.names import integration_function
from wsgate.local.apptemplate.resources import queue_spec, simple_table_spec, table_spec
from wsgate.local.apptemplate.stack import Stack

__all__ = ["read_stack_app"]

DEFAULT_EXPRESSION = "$request.body.action"
# Resources a local run has no use for: deploying, permissions, logs. Not worth a warning.
_IGNORED = frozenset(
    {
        "AWS::ApiGatewayV2::Deployment",
        "AWS::ApiGatewayV2::IntegrationResponse",
        "AWS::ApiGatewayV2::ApiMapping",
        "AWS::ApiGatewayV2::DomainName",
        "AWS::ApiGateway::Account",
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::IAM::ManagedPolicy",
        "AWS::Lambda::Permission",
        "AWS::Lambda::Version",
        "AWS::Logs::LogGroup",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
    }
)
_READ = frozenset(
    {
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::RouteResponse",
        "AWS::ApiGatewayV2::Stage",
        "AWS::ApiGatewayV2::Authorizer",
        "AWS::Serverless::WebSocketApi",
        "AWS::Serverless::Function",
        "AWS::Lambda::Function",
        "AWS::DynamoDB::Table",
        "AWS::Serverless::SimpleTable",
        "AWS::SQS::Queue",
    }
)


def read_tables(stack: Stack) -> dict[str, TableSpec]:
    """Every ``AWS::DynamoDB::Table`` and ``AWS::Serverless::SimpleTable`` of the stack."""
    tables: dict[str, TableSpec] = {}
    for logical_id, props in stack.of_type("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"):
        resolved = stack.resolve(props, logical_id, {})
        name = stack.name_of(logical_id)
        kind = stack.resources[logical_id]["Type"]
        build = table_spec if kind == "AWS::DynamoDB::Table" else simple_table_spec
        try:
            tables[logical_id] = build(logical_id, name, resolved)
        except (Unresolved, TypeError, ValueError, KeyError, AttributeError) as exc:
            stack.note(f"table {logical_id}: {exc} (not created)")
    return tables


def read_queues(stack: Stack) -> dict[str, QueueSpec]:
    """Every ``AWS::SQS::Queue`` of the stack."""
    queues: dict[str, QueueSpec] = {}
    for logical_id, props in stack.of_type("AWS::SQS::Queue"):
        resolved = stack.resolve(props, logical_id, {})
        try:
            queues[logical_id] = queue_spec(logical_id, stack.name_of(logical_id), resolved)
        except (Unresolved, TypeError, ValueError) as exc:
            stack.note(f"queue {logical_id}: {exc} (not created)")
    return queues


def note_other_resources(stack: Stack) -> None:
    """Name every resource type that is neither read nor deliberately ignored (once a type)."""
    for resource in stack.resources.values():
        kind = str(resource["Type"])
        if kind not in _READ and kind not in _IGNORED:
            stack.note(f"{kind} (not emulated)")


class _Api:
    """The template's WebSocket API: routes, integrations, stage and authorizer."""

    def __init__(self, stack: Stack, functions_by_name: Mapping[str, str]) -> None:
        self.stack = stack
        self.by_name = dict(functions_by_name)
        self.expression = DEFAULT_EXPRESSION
        self.found = False
        self.routes: dict[str, RouteSpec] = {}
        self.authorizer: AuthorizerSpec | None = None

    def _function(self, uri: Any, where: str) -> str | None:
        resolved = self.stack.resolve_text(uri, where)
        if resolved is None:
            return None
        logical_id = integration_function(resolved, self.by_name)
        if logical_id is None:
            self.stack.note(f"{where}: function outside the template ({resolved})")
        return logical_id

    def read(self) -> None:
        stack = self.stack
        apis = stack.of_type("AWS::ApiGatewayV2::Api")
        websocket = [
            (lid, props)
            for lid, props in apis
            if str(stack.resolve(props.get("ProtocolType"), lid, "")).upper() == "WEBSOCKET"
        ]
        for lid, _props in apis:
            if all(lid != ws for ws, _ in websocket):
                stack.note(f"HTTP API {lid} (only WebSocket APIs are emulated)")
        mine = {lid for lid, _ in websocket[:1]}
        for lid, _props in websocket[1:]:
            stack.note(f"second WebSocket API {lid} (only the first is served)")
        if websocket:
            self.found = True
            lid, props = websocket[0]
            expression = stack.resolve_text(props.get("RouteSelectionExpression"), lid)
            self.expression = expression or DEFAULT_EXPRESSION
        self._read_routes(mine)
        for lid, props in stack.of_type("AWS::ApiGatewayV2::Stage"):
            if self._belongs(props, mine) and stack.stage_name is None:
                stack.stage_name = stack.resolve_text(props.get("StageName"), lid)
        for lid, props in stack.of_type("AWS::Serverless::WebSocketApi"):
            self._read_sam_api(lid, props)

    def _belongs(self, props: Mapping[str, Any], apis: set[str]) -> bool:
        api = props.get("ApiId")
        target = api.get("Ref") if isinstance(api, dict) else None
        return target is None or target in apis or len(apis) <= 1

    def _read_routes(self, apis: set[str]) -> None:
        stack = self.stack
        integrations = dict(stack.of_type("AWS::ApiGatewayV2::Integration"))
        route_ids: dict[str, str] = {}
        for lid, props in stack.of_type("AWS::ApiGatewayV2::Route"):
            if not self._belongs(props, apis):
                continue
            key = stack.resolve_text(props.get("RouteKey"), lid)
            if key is None:
                continue
            route_ids[lid] = key
            function, timeout = self._integration(lid, props, integrations)
            two_way = str(props.get("RouteResponseSelectionExpression")) == "$default"
            self.routes[key] = RouteSpec(key, function, two_way, timeout)
            if key == "$connect":
                self._read_authorizer(lid, props)
        for lid, props in stack.of_type("AWS::ApiGatewayV2::RouteResponse"):
            route = stack.resolve(props.get("RouteId"), lid)
            if route in route_ids and props.get("RouteResponseKey") == "$default":
                old = self.routes[route_ids[route]]
                self.routes[old.route_key] = RouteSpec(
                    old.route_key, old.function, True, old.timeout
                )

    def _integration(
        self, lid: str, props: Mapping[str, Any], integrations: Mapping[str, Any]
    ) -> tuple[str | None, float | None]:
        target = self.stack.resolve_text(props.get("Target"), f"route {lid} Target")
        if target is None:
            return None, None
        integration_id = target.rpartition("/")[2]
        integ = integrations.get(integration_id)
        if integ is None:
            self.stack.note(f"route {lid}: integration {integration_id} not in the template")
            return None, None
        millis = self.stack.resolve_text(integ.get("TimeoutInMillis"), integration_id)
        timeout = _seconds(millis)
        kind = str(integ.get("IntegrationType", "AWS_PROXY")).upper()
        if kind not in ("AWS_PROXY", "AWS") or "IntegrationUri" not in integ:
            self.stack.note(f"{kind} integration {integration_id}")
            return None, timeout
        return self._function(integ["IntegrationUri"], f"integration {integration_id}"), timeout

    def _read_authorizer(self, route_lid: str, props: Mapping[str, Any]) -> None:
        stack = self.stack
        kind = str(props.get("AuthorizationType", "NONE")).upper()
        if kind == "AWS_IAM":
            stack.note("AWS_IAM authorization on $connect (not checked)")
            return
        if kind != "CUSTOM":
            return
        ref = stack.resolve(props.get("AuthorizerId"), f"route {route_lid} AuthorizerId")
        authorizers = dict(stack.of_type("AWS::ApiGatewayV2::Authorizer"))
        auth = authorizers.get(str(ref))
        if auth is None:
            stack.note(f"route {route_lid}: authorizer {ref} not in the template")
            return
        function = self._function(auth.get("AuthorizerUri"), f"authorizer {ref}")
        sources = stack.resolve(auth.get("IdentitySource"), f"authorizer {ref}", [])
        if isinstance(sources, str):
            sources = [s.strip() for s in sources.split(",")]
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            stack.note(f"authorizer {ref}: IdentitySource not understood")
            sources = []
        if function is not None:
            self.authorizer = AuthorizerSpec(function, tuple(sources))

    def _read_sam_api(self, lid: str, props: Mapping[str, Any]) -> None:
        stack = self.stack
        self.found = True
        expression = stack.resolve_text(props.get("RouteSelectionExpression"), lid)
        if expression:
            self.expression = expression
        stage = stack.resolve_text(props.get("StageName"), lid)
        if stage is not None and stack.stage_name is None:
            stack.stage_name = stage
        routes = props.get("Routes")
        for key, route in (routes if isinstance(routes, dict) else {}).items():
            route = route if isinstance(route, dict) else {}
            uri = route.get("FunctionArn", route.get("Function", route.get("FunctionName")))
            function = self._function(uri, f"{lid} route {key}") if uri is not None else None
            millis = stack.resolve_text(route.get("IntegrationTimeout"), f"{lid} route {key}")
            two_way = route.get("RouteResponseSelectionExpression") == "$default"
            timeout = _seconds(millis)
            self.routes[str(key)] = RouteSpec(str(key), function, two_way, timeout)


def _seconds(millis: str | None) -> float | None:
    try:
        return float(millis) / 1000 if millis is not None else None
    except ValueError:
        return None


def read_stack_app(stack: Stack, data: Mapping[str, Any], stage: str | None) -> TemplateApp:
    """The app a parsed template declares (``stage`` overrides the template's)."""
    functions = read_functions(stack, data.get("Globals"))
    api = _Api(stack, {spec.name: lid for lid, spec in functions.items()})
    api.read()
    if not api.found:
        stack.note("no WebSocket API (AWS::ApiGatewayV2::Api with ProtocolType WEBSOCKET)")
    tables = read_tables(stack)
    queues = read_queues(stack)
    note_other_resources(stack)
    return TemplateApp(
        source=stack.source,
        api_id=stack.api_id,
        region=stack.region,
        account_id=stack.account_id,
        stage=stage or stack.stage_name or "Prod",
        route_selection_expression=api.expression,
        routes=api.routes,
        functions=functions,
        tables=tables,
        queues=queues,
        authorizer=api.authorizer,
        unsupported=tuple(stack.unsupported),
        declared_stage=stack.stage_name,
        has_api=api.found,
    )
