"""Resource builders of the generated template: the API and its routes, the functions, IAM.

Each function returns CloudFormation resources as ``{logical_id: resource}`` in the order they
are written. Logical ids are fixed (``WebSocketApi``, ``WebSocketFunction``,
``ConnectionTable``, ...) so the pieces can refer to each other.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from wsgate.deploy.options import TemplateOptions
from wsgate.deploy.table import TableDefinition

__all__ = [
    "DYNAMODB_ACTIONS",
    "authorizer_resources",
    "function_resource",
    "logical_id",
    "policies",
    "route_resources",
    "stage_resources",
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
_PREDEFINED_IDS = {"$connect": "Connect", "$disconnect": "Disconnect", "$default": "Default"}
_API_ARN = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}"
_LAMBDA_URI = (
    "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
    "/functions/${%s.Arn}/invocations"
)


def sub(text: str) -> dict[str, Any]:
    """``Fn::Sub`` of ``text``."""
    return {"Fn::Sub": text}


def ref(name: str) -> dict[str, Any]:
    """``Ref`` to a resource or parameter."""
    return {"Ref": name}


def sub_literal(text: str) -> str:
    """``text`` inside an ``Fn::Sub`` string, where ``${`` must be written ``${!``."""
    return text.replace("${", "${!")


def logical_id(route_key: str) -> str:
    """A CloudFormation id for a route key: readable, unique (a hash when characters drop)."""
    if route_key in _PREDEFINED_IDS:
        return _PREDEFINED_IDS[route_key]
    words = re.split(r"[^A-Za-z0-9]+", route_key)
    name = "".join(word[:1].upper() + word[1:] for word in words if word)[:180]
    if name != route_key[:1].upper() + route_key[1:]:
        name += hashlib.sha256(route_key.encode()).hexdigest()[:8]
    return "Custom" + name


def _permission(function: str, source_arn: str) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": ref(function),
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": sub(source_arn),
        },
    }


def function_resource(
    options: TemplateOptions, description: str, **properties: Any
) -> dict[str, Any]:
    """An ``AWS::Serverless::Function`` running the app's code with JSON logs."""
    result: dict[str, Any] = {
        "Description": description,
        "CodeUri": options.code_uri,
        "Handler": options.handler,
        "Runtime": options.runtime,
        "Architectures": [options.architecture],
        "MemorySize": options.memory,
        "Timeout": options.timeout,
        "LoggingConfig": {"LogFormat": "JSON"},
    }
    result.update(properties)
    return {"Type": "AWS::Serverless::Function", "Properties": result}


def table_arns(table: TableDefinition) -> list[Any]:
    """The connection table's ARN and its indexes' ARNs."""
    arns: list[Any] = [{"Fn::GetAtt": ["ConnectionTable", "Arn"]}]
    return arns + [sub("${ConnectionTable.Arn}/index/" + name) for name in table.index_names]


def manage_connections_statement(stage: str) -> dict[str, Any]:
    """The policy statement allowing ``@connections`` POST/GET/DELETE on this stage only."""
    return {
        "Sid": "ManageConnectionsOfThisStage",
        "Effect": "Allow",
        "Action": ["execute-api:ManageConnections"],
        "Resource": [sub(f"{_API_ARN}/{stage}/{verb}/@connections/*") for verb in _MANAGE_VERBS],
    }


def policies(stage: str, table: TableDefinition) -> list[dict[str, Any]]:
    """The function's inline policy: this stage's ``@connections``, this table and its indexes."""
    return [
        {
            "Version": "2012-10-17",
            "Statement": [
                manage_connections_statement(stage),
                {
                    "Sid": "ConnectionTable",
                    "Effect": "Allow",
                    "Action": list(DYNAMODB_ACTIONS),
                    "Resource": table_arns(table),
                },
            ],
        }
    ]


def authorizer_resources(options: TemplateOptions, sources: list[str]) -> dict[str, Any]:
    """The ``$connect`` REQUEST authorizer, its function (no data access) and its permission."""
    return {
        "AuthorizerFunction": function_resource(
            options,
            "wsgate $connect authorizer (same code, no data access)",
            Environment={"Variables": {"WSGATE_METRICS_NAMESPACE": options.metrics_namespace}},
        ),
        "ConnectAuthorizer": {
            "Type": "AWS::ApiGatewayV2::Authorizer",
            "Properties": {
                "ApiId": ref("WebSocketApi"),
                "Name": sub("${AWS::StackName}-connect-authorizer"),
                "AuthorizerType": "REQUEST",
                "AuthorizerUri": sub(_LAMBDA_URI % "AuthorizerFunction"),
                "IdentitySource": sources,
            },
        },
        "AuthorizerPermission": _permission(
            "AuthorizerFunction", _API_ARN + "/authorizers/${ConnectAuthorizer}"
        ),
    }


def integration_resource(options: TemplateOptions) -> dict[str, Any]:
    """The one ``AWS_PROXY`` integration every route targets."""
    return {
        "Type": "AWS::ApiGatewayV2::Integration",
        "Properties": {
            "ApiId": ref("WebSocketApi"),
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": sub(_LAMBDA_URI % "WebSocketFunction"),
            "TimeoutInMillis": min(29000, options.timeout * 1000),
        },
    }


def route_resources(
    keys: list[str], two_way: set[str], stage: str, *, authorized: bool
) -> dict[str, Any]:
    """A route per key (with a route response when two-way) and its scoped invoke permission."""
    resources: dict[str, Any] = {}
    for key in keys:
        name = logical_id(key)
        route: dict[str, Any] = {
            "ApiId": ref("WebSocketApi"),
            "RouteKey": key,
            "OperationName": name,
            "Target": {"Fn::Join": ["/", ["integrations", ref("WebSocketIntegration")]]},
            "AuthorizationType": "NONE",
        }
        if key == "$connect" and authorized:
            route["AuthorizationType"] = "CUSTOM"
            route["AuthorizerId"] = ref("ConnectAuthorizer")
        if key in two_way:
            route["RouteResponseSelectionExpression"] = "$default"
        resources[f"{name}Route"] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": route}
        if key in two_way:
            resources[f"{name}RouteResponse"] = {
                "Type": "AWS::ApiGatewayV2::RouteResponse",
                "Properties": {
                    "ApiId": ref("WebSocketApi"),
                    "RouteId": ref(f"{name}Route"),
                    "RouteResponseKey": "$default",
                },
            }
        resources[f"{name}Permission"] = _permission(
            "WebSocketFunction", f"{_API_ARN}/{stage}/{sub_literal(key)}"
        )
    return resources


def stage_resources(routes: dict[str, Any], expression: str, stage: str) -> dict[str, Any]:
    """The deployment and the stage.

    CloudFormation redeploys a stage only when its Deployment resource is replaced, so the
    deployment's logical id carries a digest of the routes: any route change redeploys.
    """
    names = [k for k, v in routes.items() if v["Type"].startswith("AWS::ApiGatewayV2::Route")]
    digest = hashlib.sha256(
        json.dumps({k: routes[k] for k in names}, sort_keys=True).encode() + expression.encode()
    ).hexdigest()[:10]
    deployment = f"Deployment{digest}"
    return {
        deployment: {
            "Type": "AWS::ApiGatewayV2::Deployment",
            "DependsOn": names,
            "Properties": {"ApiId": ref("WebSocketApi")},
        },
        "Stage": {
            "Type": "AWS::ApiGatewayV2::Stage",
            "Properties": {
                "ApiId": ref("WebSocketApi"),
                "StageName": stage,
                "DeploymentId": ref(deployment),
                "DefaultRouteSettings": {
                    "DataTraceEnabled": False,
                    "DetailedMetricsEnabled": False,
                },
            },
        },
    }
