"""serverless.yml: websocket events, provider settings, variables, resources."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsgate.local.apptemplate import load_template_app

SERVERLESS = """\
service: chat
frameworkVersion: "3"
custom:
  tableName: ${self:service}-${sls:stage}-connections
  sizes: {dev: 128, prod: 512}
provider:
  name: aws
  runtime: python3.11
  region: ${opt:region, 'eu-central-1'}
  stage: ${opt:stage, 'dev'}
  timeout: 9
  websocketsApiRouteSelectionExpression: $request.body.type
  environment:
    TABLE: ${self:custom.tableName}
    HOME_DIR: ${env:WSGATE_TEST_HOME, '/nowhere'}
    REGION: ${aws:region}
    ACCOUNT: ${aws:accountId}
    STAGE: ${sls:stage}
    TABLE_ARN: !GetAtt ConnectionsTable.Arn
    TABLE_REF: {Ref: ConnectionsTable}
    PARAM: ${param:color, 'blue'}
    FROM_FILE: ${file(./extra.yml):greeting}
functions:
  connect:
    handler: handler.connect
    memorySize: ${self:custom.sizes.${sls:stage}}
    events:
      - websocket: $connect
  disconnect:
    handler: handler.disconnect
    events:
      - websocket:
          route: $disconnect
  echo:
    handler: src/echo.main
    runtime: nodejs20.x
    timeout: 2
    environment:
      STAGE: own-${sls:stage}
    events:
      - websocket:
          route: echo
          routeResponseSelectionExpression: $default
      - http:
          path: echo
          method: get
      - schedule: rate(1 minute)
  auth:
    handler: handler.auth
  guarded:
    name: custom-guarded-name
    handler: handler.guarded
    events:
      - websocket:
          route: $default
resources:
  Resources:
    ConnectionsTable:
      Type: AWS::DynamoDB::Table
      Properties:
        TableName: ${self:custom.tableName}
        BillingMode: PAY_PER_REQUEST
        AttributeDefinitions: [{AttributeName: connectionId, AttributeType: S}]
        KeySchema: [{AttributeName: connectionId, KeyType: HASH}]
    Jobs:
      Type: AWS::SQS::Queue
      Properties:
        QueueName: ${self:service}-jobs
        Tags:
          - {Key: fn, Value: !GetAtt ConnectLambdaFunction.Arn}
"""


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("WSGATE_TEST_HOME", raising=False)
    (tmp_path / "extra.yml").write_text("greeting: hello from a file\n")
    path = tmp_path / "serverless.yml"
    path.write_text(SERVERLESS)
    return path


def test_websocket_events_become_routes(service: Path) -> None:
    app = load_template_app(service)
    assert app.route_keys == {"$connect", "$disconnect", "echo", "$default"}
    assert app.routes["$connect"].function == "connect"
    assert app.routes["$disconnect"].function == "disconnect"
    assert app.routes["echo"].function == "echo" and app.routes["echo"].two_way
    assert app.routes["$default"].function == "guarded"
    assert app.route_selection_expression == "$request.body.type"
    assert (app.stage, app.region) == ("dev", "eu-central-1")
    assert any("http event skipped" in note for note in app.notes)
    assert any("schedule event skipped" in note for note in app.notes)
    assert app.unsupported == ()


def test_functions_and_the_variable_syntax(service: Path) -> None:
    app = load_template_app(service)
    connect, echo = app.functions["connect"], app.functions["echo"]
    assert connect.name == "chat-dev-connect"
    assert app.functions["guarded"].name == "custom-guarded-name"
    assert connect.handler == "handler.connect" and connect.runtime == "python3.11"
    assert connect.code_root == service.parent
    assert (connect.timeout, connect.memory_mb) == (9.0, 128)
    assert (echo.runtime, echo.timeout, echo.handler) == ("nodejs20.x", 2.0, "src/echo.main")
    env = connect.environment
    assert env["TABLE"] == "chat-dev-connections"
    assert env["HOME_DIR"] == "/nowhere"
    assert (env["REGION"], env["ACCOUNT"], env["STAGE"]) == ("eu-central-1", "123456789012", "dev")
    assert (
        env["TABLE_ARN"] == "arn:aws:dynamodb:eu-central-1:123456789012:table/chat-dev-connections"
    )
    assert env["TABLE_REF"] == "chat-dev-connections"
    assert env["PARAM"] == "blue"
    assert env["FROM_FILE"] == "hello from a file"
    assert echo.environment["STAGE"] == "own-dev"  # the function's own wins
    assert echo.environment["TABLE"] == "chat-dev-connections"  # the provider's still there


def test_stage_region_env_and_params_from_the_run(
    service: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WSGATE_TEST_HOME", "/home/x")
    app = load_template_app(
        service, stage="prod", region="us-west-2", parameter_overrides={"color": "red"}
    )
    env = app.functions["connect"].environment
    assert app.stage == "prod" and app.region == "us-west-2"
    assert env["TABLE"] == "chat-prod-connections" and env["STAGE"] == "prod"
    assert env["HOME_DIR"] == "/home/x" and env["PARAM"] == "red"
    assert app.functions["connect"].memory_mb == 512  # nested ${self:custom.sizes.${sls:stage}}
    assert app.tables["ConnectionsTable"].name == "chat-prod-connections"


def test_resources_give_tables_and_queues(service: Path) -> None:
    app = load_template_app(service)
    table = app.tables["ConnectionsTable"].create_table_kwargs
    assert table["TableName"] == "chat-dev-connections"
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert app.queues["Jobs"].name == "chat-jobs"


def test_authorizer_and_unsupported_sources(tmp_path: Path) -> None:
    path = tmp_path / "serverless.yml"
    path.write_text(
        """
service: guarded
provider: {name: aws, runtime: python3.12}
functions:
  auth: {handler: h.auth}
  connect:
    handler: h.connect
    environment:
      SECRET: ${ssm:/my/secret}
      WITH_FALLBACK: ${ssm:/other, 'fallback'}
    events:
      - websocket:
          route: $connect
          authorizer:
            name: auth
            identitySource: [route.request.querystring.token]
"""
    )
    app = load_template_app(path)
    assert app.authorizer is not None
    assert app.authorizer.function == "auth"
    assert app.authorizer.identity_sources == ("route.request.querystring.token",)
    env = app.functions["connect"].environment
    assert env["WITH_FALLBACK"] == "fallback" and env["SECRET"] == ""
    assert any("ssm" in phrase for phrase in app.unsupported)
    assert app.stage == "dev"  # the Framework's default stage


def test_authorizer_by_string_uses_the_default_identity_source(tmp_path: Path) -> None:
    path = tmp_path / "serverless.yml"
    path.write_text(
        """
service: s
provider: {name: aws}
functions:
  auth: {handler: h.auth}
  connect:
    handler: h.connect
    events: [{websocket: {route: $connect, authorizer: auth}}]
  broken:
    handler: h.x
    events: [{websocket: {route: x, authorizer: nobody}}, {websocket: {}}]
"""
    )
    (tmp_path / "h.py").write_text("")
    app = load_template_app(path)
    assert app.authorizer is not None
    assert app.authorizer.identity_sources == ("route.request.header.Auth",)
    assert app.functions["auth"].runtime == "python3.12"  # guessed from h.py
    assert any("websocket event without a route" in p for p in app.unsupported)
