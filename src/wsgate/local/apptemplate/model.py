"""The model of an app read from its template: functions, routes, tables, queues, authorizer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "AuthorizerSpec",
    "FunctionSpec",
    "QueueSpec",
    "RouteSpec",
    "TableSpec",
    "TemplateApp",
]


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as the template declares it.

    Attributes:
        logical_id: The template's logical id (serverless.yml: the function's key).
        name: ``FunctionName`` if given, else the logical id (serverless.yml:
            ``{service}-{stage}-{key}`` unless ``name`` is set).
        runtime: ``python3.12``, ``nodejs20.x`` ...
        handler: ``app.lambda_handler``, ``src/index.handler`` ...
        code_root: Absolute folder the handler is found in (``CodeUri``, the service folder).
        environment: The template's variables, intrinsics resolved, ``Globals`` merged.
        timeout: Seconds before Lambda stops the invocation.
        memory_mb: ``MemorySize``.
        arn: ``arn:aws:lambda:{region}:{account}:function:{name}``.
    """

    logical_id: str
    name: str
    runtime: str
    handler: str
    code_root: Path
    environment: Mapping[str, str]
    timeout: float = 3.0
    memory_mb: int = 128
    arn: str = ""


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table, ready for ``dynamodb.create_table(**create_table_kwargs)``.

    Attributes:
        ttl_attribute: ``TimeToLiveSpecification.AttributeName`` when TTL is enabled.
    """

    logical_id: str
    name: str
    create_table_kwargs: Mapping[str, Any]
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class QueueSpec:
    """An SQS queue: its name and ``create_queue`` attributes (all strings)."""

    logical_id: str
    name: str
    attributes: Mapping[str, str]


@dataclass(frozen=True)
class RouteSpec:
    """One route of the WebSocket API.

    Attributes:
        route_key: ``$connect``, ``sendmessage`` ...
        function: Logical id of the integration's function; ``None`` when it is not a Lambda
            function of this template (MOCK, HTTP, a function elsewhere).
        two_way: A route response exists, so the function's ``body`` goes back to the client.
        timeout: The integration's ``TimeoutInMillis`` in seconds, when set.
    """

    route_key: str
    function: str | None
    two_way: bool = False
    timeout: float | None = None


@dataclass(frozen=True)
class AuthorizerSpec:
    """The ``$connect`` REQUEST authorizer: its function and identity sources as written."""

    function: str
    identity_sources: tuple[str, ...]


@dataclass(frozen=True)
class TemplateApp:
    """Everything a local run needs from a SAM/CloudFormation template or a serverless.yml.

    Attributes:
        source: The template file.
        api_id: What ``Ref`` of the API resolves to locally.
        region: ``AWS::Region``.
        account_id: ``AWS::AccountId``.
        stage: The stage the template deploys (or the override).
        route_selection_expression: The API's expression.
        routes: Route key to route.
        functions: Logical id to function (every function of the template).
        tables: Logical id to table.
        queues: Logical id to queue.
        authorizer: The ``$connect`` authorizer, if the template has one.
        unsupported: One short phrase per construct not understood (never fatal).
        notes: What was read but deliberately left out (an ``http`` event, a second API).
        declared_stage: The stage the template itself names (``None``: it names none).
        has_api: The template declares a WebSocket API.
    """

    source: Path
    api_id: str
    region: str
    account_id: str
    stage: str
    route_selection_expression: str
    routes: Mapping[str, RouteSpec]
    functions: Mapping[str, FunctionSpec]
    tables: Mapping[str, TableSpec]
    queues: Mapping[str, QueueSpec]
    authorizer: AuthorizerSpec | None
    unsupported: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    declared_stage: str | None = None
    has_api: bool = True

    @property
    def route_keys(self) -> frozenset[str]:
        """Every route key of the API."""
        return frozenset(self.routes)

    @property
    def two_way_route_keys(self) -> frozenset[str]:
        """Routes whose response body goes back to the client."""
        return frozenset(key for key, route in self.routes.items() if route.two_way)

    @property
    def hostname(self) -> str:
        """The API's AWS hostname, ``{api_id}.execute-api.{region}.amazonaws.com``."""
        return f"{self.api_id}.execute-api.{self.region}.amazonaws.com"
