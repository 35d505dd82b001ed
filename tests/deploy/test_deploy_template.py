"""The generated SAM template: lint-clean, transformable offline, least privilege, complete."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import rich_app
from sam_check import lint, load, transform

from wsgate import WebSocketApp
from wsgate.deploy import (
    DYNAMODB_ACTIONS,
    TemplateOptions,
    build_template,
    render_template,
    table_definition,
)
from wsgate.deploy.emit import to_yaml
from wsgate.exceptions import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")


@pytest.fixture(scope="module")
def rich_text() -> str:
    return render_template(rich_app.app, TemplateOptions(stage="live", table_name="rich-conns"))


@pytest.fixture(scope="module")
def rich(rich_text: str) -> dict[str, Any]:
    return load(rich_text)


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def sub_text(value: Any) -> str:
    """The text of an ``Fn::Sub`` / ``Ref`` / ``Fn::GetAtt`` value, for pattern checks."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"unexpected value {value!r}")


def test_rich_template_is_lint_clean(rich_text: str) -> None:
    assert lint(rich_text) == []


def test_lint_would_catch_a_broken_template(rich_text: str) -> None:
    broken = rich_text.replace('"AWS::ApiGatewayV2::Route"', '"AWS::ApiGatewayV2::Rout"', 1)
    assert lint(broken) != []


def test_rich_template_transforms_offline(rich: dict[str, Any]) -> None:
    output = transform(rich)
    kinds = {resource["Type"] for resource in output["Resources"].values()}
    assert "AWS::Serverless::Function" not in kinds
    assert {"AWS::Lambda::Function", "AWS::IAM::Role", "AWS::ApiGatewayV2::Route"} <= kinds


def test_routes_selection_and_two_way(rich: dict[str, Any]) -> None:
    api = rich["Resources"]["WebSocketApi"]["Properties"]
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.type"
    assert api["Name"] == "rich-api"
    routes = {
        r["Properties"]["RouteKey"]: r
        for r in resources_of(rich, "AWS::ApiGatewayV2::Route").values()
    }
    assert sorted(routes) == sorted(rich_app.app.route_keys)
    two_way = {
        key for key, r in routes.items() if r["Properties"].get("RouteResponseSelectionExpression")
    }
    assert two_way == set(rich_app.app.two_way_route_keys) == {"echo", "room.join"}
    responses = resources_of(rich, "AWS::ApiGatewayV2::RouteResponse")
    route_ids = {
        name: r["Properties"]["RouteKey"]
        for name, r in rich["Resources"].items()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }
    assert {route_ids[r["Properties"]["RouteId"]["Ref"]] for r in responses.values()} == two_way
    assert all(r["Properties"]["RouteResponseKey"] == "$default" for r in responses.values())
    for route in routes.values():
        assert route["Properties"]["Target"] == {
            "Fn::Join": ["/", ["integrations", {"Ref": "WebSocketIntegration"}]]
        }
    deployments = resources_of(rich, "AWS::ApiGatewayV2::Deployment")
    (deployment,) = deployments.values()
    route_names = set(route_ids) | set(responses)
    assert set(deployment["DependsOn"]) == route_names
    stage = rich["Resources"]["Stage"]["Properties"]
    assert stage["StageName"] == "live"
    assert stage["DeploymentId"] == {"Ref": next(iter(deployments))}


def test_authorizer_on_connect(rich: dict[str, Any]) -> None:
    (authorizer,) = resources_of(rich, "AWS::ApiGatewayV2::Authorizer").values()
    props = authorizer["Properties"]
    assert props["AuthorizerType"] == "REQUEST"
    assert props["IdentitySource"] == [
        "route.request.header.Authorization",
        "route.request.querystring.token",
    ]
    assert "${AuthorizerFunction.Arn}" in sub_text(props["AuthorizerUri"])
    routes = resources_of(rich, "AWS::ApiGatewayV2::Route")
    for route in routes.values():
        p = route["Properties"]
        if p["RouteKey"] == "$connect":
            assert p["AuthorizationType"] == "CUSTOM"
            assert p["AuthorizerId"] == {"Ref": "ConnectAuthorizer"}
        else:
            assert p["AuthorizationType"] == "NONE"
    permission = rich["Resources"]["AuthorizerPermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "AuthorizerFunction"}
    assert sub_text(permission["SourceArn"]).endswith(
        ":${WebSocketApi}/authorizers/${ConnectAuthorizer}"
    )
    # The authorizer function gets no data access at all.
    assert "Policies" not in rich["Resources"]["AuthorizerFunction"]["Properties"]


def test_invoke_permissions_are_scoped_to_each_route(rich: dict[str, Any]) -> None:
    permissions = resources_of(rich, "AWS::Lambda::Permission")
    arns = {
        sub_text(p["Properties"]["SourceArn"])
        for name, p in permissions.items()
        if p["Properties"]["FunctionName"] == {"Ref": "WebSocketFunction"}
    }
    prefix = (
        "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebSocketApi}/live/"
    )
    expected = {prefix + key.replace("${", "${!") for key in rich_app.app.route_keys}
    assert arns == expected
    for permission in permissions.values():
        assert permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
        assert "*" not in sub_text(permission["Properties"]["SourceArn"])


def _statements(transformed: dict[str, Any]) -> list[dict[str, Any]]:
    statements = []
    for resource in transformed["Resources"].values():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            statement = policy["PolicyDocument"]["Statement"]
            statements.extend(statement if isinstance(statement, list) else [statement])
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _check_scoped(template: dict[str, Any], stage: str) -> set[str]:
    """Assert every execute-api/DynamoDB grant names this stage / this template's tables."""
    tables = set(resources_of(template, "AWS::DynamoDB::Table"))
    transformed = transform(template)
    statements = _statements(transformed)
    assert statements, "the function role must carry the inline policy"
    seen = set()
    for statement in statements:
        actions = _as_list(statement["Action"])
        resources = [sub_text(r) for r in _as_list(statement["Resource"])]
        assert statement["Effect"] == "Allow"
        for action in actions:
            assert "*" not in action, action
            service = action.split(":")[0]
            seen.add(service)
            for resource in resources:
                assert resource != "*"
                if service == "execute-api":
                    assert action == "execute-api:ManageConnections"
                    match = re.fullmatch(
                        r"arn:\$\{AWS::Partition\}:execute-api:\$\{AWS::Region\}:"
                        rf"\$\{{AWS::AccountId\}}:\$\{{WebSocketApi\}}/{stage}/(POST|GET|DELETE)"
                        r"/@connections/\*",
                        resource,
                    )
                    # The only wildcard is the connection id itself.
                    assert match, resource
                elif service == "dynamodb":
                    assert "*" not in resource, resource
                    match = re.fullmatch(r"\$\{(\w+)\.Arn\}(/index/[A-Za-z0-9_.-]+)?", resource)
                    assert match and match.group(1) in tables, resource
    return seen


def test_every_iam_resource_is_scoped(rich: dict[str, Any]) -> None:
    assert _check_scoped(rich, "live") == {"execute-api", "dynamodb"}


@pytest.mark.parametrize("sid", ["ManageConnectionsOfThisStage", "ConnectionTable"])
def test_the_scope_check_catches_a_wildcard(rich: dict[str, Any], sid: str) -> None:
    widened = json.loads(json.dumps(rich))
    policy = widened["Resources"]["WebSocketFunction"]["Properties"]["Policies"][0]
    (statement,) = [s for s in policy["Statement"] if s["Sid"] == sid]
    statement["Resource"].append("*")
    with pytest.raises(AssertionError):
        _check_scoped(widened, "live")


def test_every_iam_resource_of_the_chat_template_is_scoped() -> None:
    chat = load((ROOT / "examples" / "chat" / "template.yaml").read_text())
    assert _check_scoped(chat, "prod") == {"execute-api", "dynamodb"}


_OPERATIONS = (
    "get_item|put_item|update_item|delete_item|query|scan|batch_write_item|batch_get_item|"
    "transact_write_items|transact_get_items|describe_table"
)


def test_dynamodb_actions_cover_what_the_data_code_calls() -> None:
    src = ROOT / "src" / "wsgate"
    sources = sorted(src.glob("registry/dynamodb*.py")) + sorted(src.glob("delivery/store_dyn*.py"))
    assert sources
    text = "\n".join(path.read_text() for path in sources)
    calls = set(re.findall(rf'"({_OPERATIONS})"', text))
    calls |= set(re.findall(rf"\bclient\.({_OPERATIONS})\b", text))
    assert calls, "found no DynamoDB call in the registry"
    needed = {"dynamodb:" + "".join(w.title() for w in call.split("_")) for call in calls}
    assert needed <= set(DYNAMODB_ACTIONS), needed - set(DYNAMODB_ACTIONS)


def test_table_is_the_registry_table(rich: dict[str, Any]) -> None:
    props = rich["Resources"]["ConnectionTable"]["Properties"]
    definition = table_definition()
    assert props["TableName"] == "rich-conns"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    for key in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes"):
        assert props[key] == definition.properties[key]
    assert props["KeySchema"][0] == {"AttributeName": "connectionId", "KeyType": "HASH"}


def test_function_environment_and_options(rich: dict[str, Any]) -> None:
    function = rich["Resources"]["WebSocketFunction"]["Properties"]
    assert function["MemorySize"] == 256 and function["Timeout"] == 30
    env = function["Environment"]["Variables"]
    assert env["WSGATE_TABLE"] == {"Ref": "ConnectionTable"}
    assert sub_text(env["WSGATE_ENDPOINT"]) == (
        "https://${WebSocketApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/live"
    )
    assert function["LoggingConfig"] == {"LogFormat": "JSON"}
    outputs = rich["Outputs"]
    assert sub_text(outputs["WebSocketURL"]["Value"]).startswith("wss://${WebSocketApi}")
    assert sub_text(outputs["ManagementEndpoint"]["Value"]).endswith("/live")
    assert outputs["ConnectionTableName"]["Value"] == {"Ref": "ConnectionTable"}


def test_alarms_on_errors_and_throttles(rich: dict[str, Any]) -> None:
    alarms = resources_of(rich, "AWS::CloudWatch::Alarm")
    metrics = {
        (a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms.values()
    }
    assert {
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/ApiGateway", "IntegrationError"),
        ("AWS/ApiGateway", "ExecutionError"),
        ("AWS/DynamoDB", "ReadThrottleEvents"),
        ("AWS/DynamoDB", "WriteThrottleEvents"),
    } <= metrics
    functions = {
        a["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for a in alarms.values()
        if a["Properties"]["Namespace"] == "AWS/Lambda"
    }
    assert functions == {"WebSocketFunction", "AuthorizerFunction"}


def test_options_reach_the_template() -> None:
    options = TemplateOptions(stage="dev", memory=1024, timeout=12, architecture="x86_64")
    template = build_template(rich_app.app, options)
    function = template["Resources"]["WebSocketFunction"]["Properties"]
    assert (function["MemorySize"], function["Timeout"]) == (1024, 12)
    assert function["Architectures"] == ["x86_64"]
    assert template["Resources"]["WebSocketIntegration"]["Properties"]["TimeoutInMillis"] == 12000
    assert "TableName" not in template["Resources"]["ConnectionTable"]["Properties"]
    assert template["Resources"]["Stage"]["Properties"]["StageName"] == "dev"


@pytest.mark.parametrize(
    "options",
    [
        TemplateOptions(stage="bad stage"),
        TemplateOptions(table_name="x"),
        TemplateOptions(memory=64),
        TemplateOptions(timeout=0),
        TemplateOptions(handler="nodot"),
    ],
)
def test_bad_options_are_refused(options: TemplateOptions) -> None:
    with pytest.raises(ConfigurationError):
        build_template(rich_app.app, options)


def test_an_app_without_routes_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="no routes"):
        build_template(WebSocketApp())


def test_minimal_app_without_authorizer() -> None:
    app = WebSocketApp()

    @app.default
    def echo(event: Any) -> None:
        return None

    template = build_template(app)
    assert not resources_of(template, "AWS::ApiGatewayV2::Authorizer")
    assert "AuthorizerFunction" not in template["Resources"]
    routes = resources_of(template, "AWS::ApiGatewayV2::Route")
    assert [r["Properties"]["RouteKey"] for r in routes.values()] == ["$default"]
    assert lint(to_yaml(template)) == []


def test_deployment_changes_with_the_routes() -> None:
    def deployment_of(app: WebSocketApp) -> str:
        (name,) = resources_of(build_template(app), "AWS::ApiGatewayV2::Deployment")
        return name

    app = WebSocketApp()

    @app.route("a")
    def a(event: Any) -> None:
        return None

    first = deployment_of(app)
    assert deployment_of(app) == first

    @app.route("b")
    def b(event: Any) -> None:
        return None

    assert deployment_of(app) != first


def test_yaml_round_trips(rich_text: str, rich: dict[str, Any]) -> None:
    assert rich == json.loads(
        json.dumps(
            build_template(rich_app.app, TemplateOptions(stage="live", table_name="rich-conns"))
        )
    )
    tricky = {
        "a": ["yes", "no", "0123", "$connect", "@connections", "x: y", "#c", "", "é"],
        "on": {},
        "n": [],
        "deep": [[1, 2], {"k": None, "t": True}],
        "f": 1.5,
    }
    assert load(to_yaml(tricky)) == tricky


@pytest.mark.dynamodb
def test_registry_works_on_the_table_the_template_creates(
    rich: dict[str, Any], moto_server: Any
) -> None:
    import boto3

    from wsgate.registry.dynamodb import DynamoDBRegistry

    props = dict(rich["Resources"]["ConnectionTable"]["Properties"])
    ttl = props.pop("TimeToLiveSpecification")
    props["TableName"] = "template-table-check"
    client = boto3.client("dynamodb", **moto_server.boto_kwargs)
    client.create_table(**props)
    client.update_time_to_live(TableName=props["TableName"], TimeToLiveSpecification=ttl)
    try:
        registry = DynamoDBRegistry(props["TableName"], client=client)
        registry.store("AAAAAAAAAAAAAAA=", user_id="ada")
        registry.store("BBBBBBBBBBBBBBB=", user_id="ada")
        assert registry.join("AAAAAAAAAAAAAAA=", "lobby")
        assert {c.connection_id for c in registry.by_user("ada")} == {
            "AAAAAAAAAAAAAAA=",
            "BBBBBBBBBBBBBBB=",
        }
        assert [c.connection_id for c in registry.room_members("lobby")] == ["AAAAAAAAAAAAAAA="]
        assert registry.delete_many(["AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB="]) == 2
        described = client.describe_time_to_live(TableName=props["TableName"])
        assert described["TimeToLiveDescription"]["AttributeName"] == "expiresAt"
    finally:
        client.delete_table(TableName=props["TableName"])


def test_chat_template_is_committed_current_and_lint_clean(tmp_path: Path) -> None:
    import subprocess
    import sys

    committed = (ROOT / "examples" / "chat" / "template.yaml").read_text()
    out = tmp_path / "template.yaml"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "wsgate.cli",
            "template",
            "examples/chat/app.py",
            "-o",
            str(out),
            "--code-uri",
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "WSGATE_REGISTRY": f"sqlite:///{tmp_path / 'r.db'}"},
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text() == committed, (
        "regenerate: wsgate template examples/chat/app.py -o examples/chat/template.yaml"
    )
    assert lint(committed) == []
    template = load(committed)
    function = template["Resources"]["WebSocketFunction"]["Properties"]
    assert function["Handler"] == "app.app"
    assert function["CodeUri"] == "."
    transform(template)


def test_cli_reports_a_bad_app(tmp_path: Path) -> None:
    from wsgate.cli import main

    missing = tmp_path / "nope.py"
    assert main(["template", str(missing)]) == 2
    plain = tmp_path / "plain.py"
    plain.write_text("def handler(event, context):\n    return {'statusCode': 200}\n")
    out = tmp_path / "t.yaml"
    assert main(["template", str(plain), "-o", str(out), "--stage", "dev"]) == 0
    template = load(out.read_text())
    routes = resources_of(template, "AWS::ApiGatewayV2::Route")
    assert sorted(r["Properties"]["RouteKey"] for r in routes.values()) == [
        "$connect",
        "$default",
        "$disconnect",
    ]
    assert template["Resources"]["WebSocketFunction"]["Properties"]["Handler"] == "plain.handler"


def test_the_emulator_reads_the_generated_template(rich_text: str, tmp_path: Path) -> None:
    """`wsgate serve --template` sees the same routes, two-way routes, expression and stage."""
    from wsgate.local.template import load_template

    path = tmp_path / "template.yaml"
    path.write_text(rich_text)
    routes = load_template(path)
    assert routes.route_keys == frozenset(rich_app.app.route_keys)
    assert routes.two_way_route_keys == frozenset(rich_app.app.two_way_route_keys)
    assert routes.route_selection_expression == rich_app.app.route_selection_expression
    assert routes.stage in (None, "live")
