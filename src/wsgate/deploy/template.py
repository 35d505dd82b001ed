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

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wsgate.deploy.emit import to_yaml
from wsgate.deploy.table import TableDefinition, table_definition
from wsgate.exceptions import ConfigurationError

__all__ = [
    "DYNAMODB_ACTIONS",
    "AppDescription",
    "TemplateOptions",
    "build_template",
    "render_template",
]

#: What the DynamoDB registry calls (tests/deploy checks this against the registry's code).
DYNAMODB_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
_MANAGE_VERBS = ("POST", "GET", "DELETE")
_STAGE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_PREDEFINED_IDS = {"$connect": "Connect", "$disconnect": "Disconnect", "$default": "Default"}


class AppDescription(Protocol):
    """What the generator reads from an app (a ``WebSocketApp`` has all of it)."""

    @property
    def route_keys(self) -> Sequence[str]: ...

    @property
    def two_way_route_keys(self) -> Sequence[str]: ...

    @property
    def route_selection_expression(self) -> str: ...


@dataclass(frozen=True, slots=True)
class TemplateOptions:
    """Choices the app does not make.

    Attributes:
        stage: The API stage name (``prod``).
        table_name: A fixed table name; ``None`` lets CloudFormation name it.
        memory: Function memory in MB (128-10240).
        timeout: Function timeout in seconds (1-900); API Gateway waits at most 29 s.
        code_uri: The function's code folder, relative to the template.
        handler: The Lambda handler, ``module.attribute`` (``app.app``).
        runtime: The Lambda Python runtime.
        architecture: ``arm64`` or ``x86_64``.
        api_name: The API's name; default: the app's ``name``, else the stack name.
        metrics_namespace: The EMF namespace the function writes to.
    """

    stage: str = "prod"
    table_name: str | None = None
    memory: int = 256
    timeout: int = 30
    code_uri: str = "."
    handler: str = "app.app"
    runtime: str = "python3.12"
    architecture: str = "arm64"
    api_name: str | None = None
    metrics_namespace: str = "wsgate"

    def check(self) -> None:
        """Raise :class:`ConfigurationError` for a value AWS would refuse."""
        if not _STAGE.match(self.stage):
            raise ConfigurationError(f"stage name {self.stage!r}: use 1-128 of A-Z a-z 0-9 _ -")
        if self.table_name is not None and not _TABLE.match(self.table_name):
            raise ConfigurationError(f"table name {self.table_name!r}: 3-255 of A-Z a-z 0-9 _ . -")
        if not 128 <= self.memory <= 10240:
            raise ConfigurationError(f"memory {self.memory} MB: must be 128-10240")
        if not 1 <= self.timeout <= 900:
            raise ConfigurationError(f"timeout {self.timeout} s: must be 1-900")
        if self.architecture not in ("arm64", "x86_64"):
            raise ConfigurationError(f"architecture {self.architecture!r}: arm64 or x86_64")
        if "." not in self.handler:
            raise ConfigurationError(f"handler {self.handler!r}: expected module.attribute")


def _sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def _ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def _logical_id(route_key: str) -> str:
    """A CloudFormation id for a route key: readable, unique (a hash when characters drop)."""
    if route_key in _PREDEFINED_IDS:
        return _PREDEFINED_IDS[route_key]
    words = re.split(r"[^A-Za-z0-9]+", route_key)
    name = "".join(word[:1].upper() + word[1:] for word in words if word)[:180]
    if name != route_key[:1].upper() + route_key[1:]:
        name += hashlib.sha256(route_key.encode()).hexdigest()[:8]
    return "Custom" + name


def _sub_literal(text: str) -> str:
    """``text`` inside an ``Fn::Sub`` string, where ``${`` must be written ``${!``."""
    return text.replace("${", "${!")


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


def _alarm(
    description: str,
    namespace: str,
    metric: str,
    dimensions: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimensions,
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": {
                "Fn::If": ["HasAlarmTopic", [_ref("AlarmTopicArn")], _ref("AWS::NoValue")]
            },
        },
    }


def _function(options: TemplateOptions, description: str, **extra: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "Description": description,
        "CodeUri": options.code_uri,
        "Handler": options.handler,
        "Runtime": options.runtime,
        "Architectures": [options.architecture],
        "MemorySize": options.memory,
        "Timeout": options.timeout,
        "LoggingConfig": {"LogFormat": "JSON"},
    }
    properties.update(extra)
    return {"Type": "AWS::Serverless::Function", "Properties": properties}


def _policies(stage: str, table: TableDefinition) -> list[dict[str, Any]]:
    api_arn = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}"
    table_arns: list[Any] = [{"Fn::GetAtt": ["ConnectionTable", "Arn"]}]
    table_arns += [_sub("${ConnectionTable.Arn}/index/" + name) for name in table.index_names]
    return [
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ManageConnectionsOfThisStage",
                    "Effect": "Allow",
                    "Action": ["execute-api:ManageConnections"],
                    "Resource": [
                        _sub(f"{api_arn}/{stage}/{verb}/@connections/*") for verb in _MANAGE_VERBS
                    ],
                },
                {
                    "Sid": "ConnectionTable",
                    "Effect": "Allow",
                    "Action": list(DYNAMODB_ACTIONS),
                    "Resource": table_arns,
                },
            ],
        }
    ]


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
    two_way = set(app.two_way_route_keys)
    api_name = options.api_name or getattr(app, "name", None)
    resources: dict[str, Any] = {}

    table_properties = dict(table.properties)
    if options.table_name:
        table_properties = {"TableName": options.table_name, **table_properties}
    resources["ConnectionTable"] = {"Type": "AWS::DynamoDB::Table", "Properties": table_properties}

    resources["WebSocketApi"] = {
        "Type": "AWS::ApiGatewayV2::Api",
        "Properties": {
            "Name": api_name if api_name else _sub("${AWS::StackName}-websocket"),
            "ProtocolType": "WEBSOCKET",
            "RouteSelectionExpression": app.route_selection_expression,
        },
    }
    environment = {
        "WSGATE_TABLE": _ref("ConnectionTable"),
        "WSGATE_ENDPOINT": _sub(
            "https://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + stage
        ),
        "WSGATE_METRICS_NAMESPACE": options.metrics_namespace,
    }
    resources["WebSocketFunction"] = _function(
        options,
        "wsgate WebSocket handler: every route of the API",
        Environment={"Variables": environment},
        Policies=_policies(stage, table),
    )
    resources["WebSocketIntegration"] = {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": _ref("WebSocketApi"),
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": _sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
                "/functions/${WebSocketFunction.Arn}/invocations"
            ),
            "TimeoutInMillis": min(29000, options.timeout * 1000),
        },
    }

    if sources is not None:
        resources["AuthorizerFunction"] = _function(
            options,
            "wsgate $connect authorizer (same code, no data access)",
            Environment={"Variables": {"WSGATE_METRICS_NAMESPACE": options.metrics_namespace}},
        )
        resources["ConnectAuthorizer"] = {
            "Type": "AWS::ApiGatewayV2::Authorizer",
            "Properties": {
                "ApiId": _ref("WebSocketApi"),
                "Name": _sub("${AWS::StackName}-connect-authorizer"),
                "AuthorizerType": "REQUEST",
                "AuthorizerUri": _sub(
                    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
                    "/functions/${AuthorizerFunction.Arn}/invocations"
                ),
                "IdentitySource": sources,
            },
        }
        resources["AuthorizerPermission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": _ref("AuthorizerFunction"),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": _sub(
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}"
                    ":${WebSocketApi}/authorizers/${ConnectAuthorizer}"
                ),
            },
        }

    route_ids: list[str] = []
    for key in keys:
        name = _logical_id(key)
        route: dict[str, Any] = {
            "ApiId": _ref("WebSocketApi"),
            "RouteKey": key,
            "OperationName": name,
            "Target": {"Fn::Join": ["/", ["integrations", _ref("WebSocketIntegration")]]},
            "AuthorizationType": "NONE",
        }
        if key == "$connect" and sources is not None:
            route["AuthorizationType"] = "CUSTOM"
            route["AuthorizerId"] = _ref("ConnectAuthorizer")
        if key in two_way:
            route["RouteResponseSelectionExpression"] = "$default"
        resources[f"{name}Route"] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": route}
        route_ids.append(f"{name}Route")
        if key in two_way:
            resources[f"{name}RouteResponse"] = {
                "Type": "AWS::ApiGatewayV2::RouteResponse",
                "Properties": {
                    "ApiId": _ref("WebSocketApi"),
                    "RouteId": _ref(f"{name}Route"),
                    "RouteResponseKey": "$default",
                },
            }
            route_ids.append(f"{name}RouteResponse")
        resources[f"{name}Permission"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": _ref("WebSocketFunction"),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": _sub(
                    "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}"
                    f":${{WebSocketApi}}/{stage}/{_sub_literal(key)}"
                ),
            },
        }

    # A new Deployment whenever the routes change: CloudFormation only redeploys a stage when
    # the Deployment resource itself is replaced, so its id carries a digest of the routes.
    digest = hashlib.sha256(
        json.dumps(
            {k: v for k, v in resources.items() if k.endswith(("Route", "RouteResponse"))},
            sort_keys=True,
        ).encode()
        + app.route_selection_expression.encode()
    ).hexdigest()[:10]
    deployment_id = f"Deployment{digest}"
    resources[deployment_id] = {
        "Type": "AWS::ApiGatewayV2::Deployment",
        "DependsOn": route_ids,
        "Properties": {"ApiId": _ref("WebSocketApi")},
    }
    resources["Stage"] = {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {
            "ApiId": _ref("WebSocketApi"),
            "StageName": stage,
            "DeploymentId": _ref(deployment_id),
            "DefaultRouteSettings": {"DataTraceEnabled": False, "DetailedMetricsEnabled": False},
        },
    }

    functions = ["WebSocketFunction"] + (["AuthorizerFunction"] if sources is not None else [])
    for function in functions:
        dimension = [{"Name": "FunctionName", "Value": _ref(function)}]
        resources[f"{function}ErrorsAlarm"] = _alarm(
            f"{function} raised errors", "AWS/Lambda", "Errors", dimension
        )
        resources[f"{function}ThrottlesAlarm"] = _alarm(
            f"{function} invocations were throttled", "AWS/Lambda", "Throttles", dimension
        )
    api_dimensions: list[dict[str, Any]] = [
        {"Name": "ApiId", "Value": _ref("WebSocketApi")},
        {"Name": "Stage", "Value": stage},
    ]
    resources["ApiIntegrationErrorsAlarm"] = _alarm(
        "API Gateway could not invoke the function or it failed",
        "AWS/ApiGateway",
        "IntegrationError",
        api_dimensions,
    )
    resources["ApiExecutionErrorsAlarm"] = _alarm(
        "API Gateway execution errors (includes throttled requests)",
        "AWS/ApiGateway",
        "ExecutionError",
        api_dimensions,
    )
    table_dimension = [{"Name": "TableName", "Value": _ref("ConnectionTable")}]
    for kind in ("Read", "Write"):
        resources[f"ConnectionTable{kind}ThrottlesAlarm"] = _alarm(
            f"connection table {kind.lower()}s were throttled",
            "AWS/DynamoDB",
            f"{kind}ThrottleEvents",
            table_dimension,
        )

    endpoint = "${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + stage
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
        "Conditions": {"HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [_ref("AlarmTopicArn"), ""]}]}},
        "Resources": resources,
        "Outputs": {
            "WebSocketURL": {
                "Description": "Clients connect here",
                "Value": _sub(f"wss://{endpoint}"),
            },
            "ManagementEndpoint": {
                "Description": "The @connections API (WSGATE_ENDPOINT)",
                "Value": _sub(f"https://{endpoint}"),
            },
            "ConnectionTableName": {
                "Description": "The connection registry (WSGATE_TABLE)",
                "Value": _ref("ConnectionTable"),
            },
            "WebSocketApiId": {"Value": _ref("WebSocketApi")},
            "FunctionArn": {"Value": {"Fn::GetAtt": ["WebSocketFunction", "Arn"]}},
        },
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
