"""A complete SAM template for a ``WebSocketApp``: API, routes, function, table, IAM, alarms.

:func:`build_template` reads what the app declares — ``route_keys``, ``two_way_route_keys``,
``route_selection_expression`` and ``authorizer_config`` — and returns the template as a dict;
:func:`render_template` writes it as YAML. ``wsgate template APP`` does both.

The API is made of raw ``AWS::ApiGatewayV2::*`` resources rather than SAM's
``AWS::Serverless::WebSocketApi`` (``docs/deploy.md`` says why: any route key, two-way route
responses, any SAM version); the functions are ``AWS::Serverless::Function`` so ``sam build``
packages the code. Permissions are least privilege: each route's invoke permission names that
route's ARN, the function may call ``execute-api:ManageConnections`` only on this API's stage
``@connections`` ARNs and DynamoDB only on this table and its indexes.
"""

from __future__ import annotations

from typing import Any

from wsgate.deploy.emit import to_yaml
from wsgate.deploy.monitoring import alarms
from wsgate.deploy.options import AppDescription, TemplateOptions
from wsgate.deploy.resources import (
    DYNAMODB_ACTIONS,
    authorizer_resources,
    function_resource,
    integration_resource,
    policies,
    ref,
    route_resources,
    stage_resources,
    sub,
)
from wsgate.deploy.table import TableDefinition, table_definition
from wsgate.exceptions import ConfigurationError

__all__ = [
    "DYNAMODB_ACTIONS",
    "AppDescription",
    "TemplateOptions",
    "build_template",
    "render_template",
]


def _route_keys(app: AppDescription, has_authorizer: bool) -> list[str]:
    keys = list(dict.fromkeys(app.route_keys))
    if not keys:
        raise ConfigurationError("the app declares no routes: nothing to deploy")
    if has_authorizer and "$connect" not in keys:
        keys.insert(0, "$connect")  # the authorizer can only sit on $connect
    return keys


def _identity_sources(app: Any) -> list[str] | None:
    config = getattr(app, "authorizer_config", None)
    if config is None:
        return None
    sources = list(getattr(config, "identity_source_expressions", ()))
    if not sources:
        raise ConfigurationError("the app's authorizer declares no identity sources")
    return sources


def _outputs(stage: str) -> dict[str, Any]:
    endpoint = "${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + stage
    return {
        "WebSocketURL": {"Description": "Clients connect here", "Value": sub(f"wss://{endpoint}")},
        "ManagementEndpoint": {
            "Description": "The @connections API (WSGATE_ENDPOINT)",
            "Value": sub(f"https://{endpoint}"),
        },
        "ConnectionTableName": {
            "Description": "The connection registry (WSGATE_TABLE)",
            "Value": ref("ConnectionTable"),
        },
        "WebSocketApiId": {"Value": ref("WebSocketApi")},
        "FunctionArn": {"Value": {"Fn::GetAtt": ["WebSocketFunction", "Arn"]}},
    }


def build_template(
    app: AppDescription,
    options: TemplateOptions | None = None,
    *,
    table: TableDefinition | None = None,
) -> dict[str, Any]:
    """The SAM template (as a dict) that deploys ``app``.

    Call it from code (e.g. to post-process the template) or use :func:`render_template`.

    Args:
        app: A ``WebSocketApp`` (or anything with its ``route_keys``, ``two_way_route_keys``,
            ``route_selection_expression`` and optional ``authorizer_config``).
        options: Stage, table name, memory, timeout, code location and handler.
        table: The connection table; default: the DynamoDB registry's own definition.

    Raises:
        ConfigurationError: no routes, a bad option, or an authorizer without identity sources.
    """
    options = options or TemplateOptions()
    options.check()
    table = table or table_definition()
    stage = options.stage
    sources = _identity_sources(app)
    keys = _route_keys(app, sources is not None)
    api_name = options.api_name or getattr(app, "name", None)

    table_properties = dict(table.properties)
    if options.table_name:
        table_properties = {"TableName": options.table_name, **table_properties}
    environment = {
        "WSGATE_TABLE": ref("ConnectionTable"),
        "WSGATE_ENDPOINT": sub(
            "https://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + stage
        ),
        "WSGATE_METRICS_NAMESPACE": options.metrics_namespace,
    }
    resources: dict[str, Any] = {
        "ConnectionTable": {"Type": "AWS::DynamoDB::Table", "Properties": table_properties},
        "WebSocketApi": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": api_name if api_name else sub("${AWS::StackName}-websocket"),
                "ProtocolType": "WEBSOCKET",
                "RouteSelectionExpression": app.route_selection_expression,
            },
        },
        "WebSocketFunction": function_resource(
            options,
            "wsgate WebSocket handler: every route of the API",
            Environment={"Variables": environment},
            Policies=policies(stage, table),
        ),
        "WebSocketIntegration": integration_resource(options),
    }
    functions = ["WebSocketFunction"]
    if sources is not None:
        resources.update(authorizer_resources(options, sources))
        functions.append("AuthorizerFunction")
    routes = route_resources(
        keys, set(app.two_way_route_keys), stage, authorized=sources is not None
    )
    resources.update(routes)
    resources.update(stage_resources(routes, app.route_selection_expression, stage))
    resources.update(alarms(functions, stage))
    if options.fanout or getattr(app, "fanout", False):
        from wsgate.deploy.fanout import add_fanout_resources

        add_fanout_resources(resources, options, table, environment)
    if getattr(app, "delivery", None) is not None:  # wsgate.delivery.enable(app, ...)
        from wsgate.delivery.deploy import add_delivery_resources

        add_delivery_resources(resources, handler=options.handler)
    if getattr(app, "presence", None) is not None:  # wsgate.presence.enable(app, ...)
        from wsgate.presence.deploy import add_presence_resources

        add_presence_resources(resources, handler=options.handler)

    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Description": f"wsgate WebSocket API ({len(keys)} routes, stage {stage})",
        "Parameters": {
            "AlarmTopicArn": {
                "Type": "String",
                "Default": "",
                "Description": "SNS topic ARN notified by the alarms (empty: no notification)",
            }
        },
        "Conditions": {"HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [ref("AlarmTopicArn"), ""]}]}},
        "Resources": resources,
        "Outputs": _outputs(stage),
    }


def render_template(
    app: AppDescription,
    options: TemplateOptions | None = None,
    *,
    source: str = "",
) -> str:
    """The template for ``app`` as YAML text, with a header naming its source.

    Raises:
        ConfigurationError: as :func:`build_template`.
    """
    header = "Generated by `wsgate template" + (f" {source}" if source else "") + "`: do not edit."
    header += "\nDeploy: sam build && sam deploy --guided   (see docs/deploy.md)"
    return to_yaml(build_template(app, options), header=header)
