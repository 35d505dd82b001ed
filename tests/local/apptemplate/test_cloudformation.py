"""SAM/CloudFormation templates: routes to functions, Globals, tables, authorizer, JSON form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wsgate.exceptions import ConfigurationError
from wsgate.local.apptemplate import load_template_app
from wsgate.local.template import load_template

SAM = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Timeout: 10
    Environment:
      Variables: {SHARED: from-globals, OVERRIDDEN: globals}
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties:
      {Name: chat, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $connect
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Auth
      Target: !Join [/, [integrations, !Ref ConnectInteg]]
  ConnectInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !Sub "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/\
        functions/${ConnectFn.Arn}/invocations"
  SendRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: send
      Target: !Sub integrations/${SendInteg}
  SendInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      TimeoutInMillis: 12000
      IntegrationUri: !Join
        - ""
        - - "arn:aws:apigateway:"
          - !Ref AWS::Region
          - ":lambda:path/2015-03-31/functions/"
          - !GetAtt SendFn.Arn
          - /invocations
  SendResponse:
    Type: AWS::ApiGatewayV2::RouteResponse
    Properties: {ApiId: !Ref Api, RouteId: !Ref SendRoute, RouteResponseKey: $default}
  RawRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: raw, Target: integrations/RawInteg}
  RawInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: arn:aws:lambda:us-east-1:123456789012:function:plain-lambda
  ElsewhereRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: elsewhere, Target: integrations/ElsewhereInteg}
  ElsewhereInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: arn:aws:lambda:us-east-1:999999999999:function:not-here
  MockRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: mock, Target: integrations/MockInteg}
  MockInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties: {ApiId: !Ref Api, IntegrationType: MOCK}
  Auth:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      AuthorizerType: REQUEST
      AuthorizerUri: !Sub
        - arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn}/invocations
        - {Fn: !GetAtt AuthFn.Arn}
      IdentitySource: [route.request.querystring.token]
  Stage:
    Type: AWS::ApiGatewayV2::Stage
    Properties: {ApiId: !Ref Api, StageName: beta}
  ConnectFn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: connect/, Handler: app.handler, MemorySize: 256}
  SendFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: send/
      Handler: app.handler
      Timeout: 20
      Environment: {Variables: {OVERRIDDEN: own}}
  AuthFn:
    Type: AWS::Serverless::Function
    Properties: {CodeUri: auth/, Handler: auth.handler, FunctionName: the-authorizer}
  RawFn:
    Type: AWS::Lambda::Function
    Properties:
      {FunctionName: plain-lambda, Handler: index.handler, Runtime: nodejs20.x, Code: raw/}
  Sessions:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
        - {AttributeName: pk, AttributeType: S}
        - {AttributeName: sk, AttributeType: S}
        - {AttributeName: gpk, AttributeType: S}
        - {AttributeName: lsk, AttributeType: N}
      KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: sk, KeyType: RANGE}]
      ProvisionedThroughput: {ReadCapacityUnits: 2, WriteCapacityUnits: 3}
      GlobalSecondaryIndexes:
        - IndexName: by-g
          KeySchema: [{AttributeName: gpk, KeyType: HASH}]
          Projection: {ProjectionType: KEYS_ONLY}
      LocalSecondaryIndexes:
        - IndexName: by-l
          KeySchema: [{AttributeName: pk, KeyType: HASH}, {AttributeName: lsk, KeyType: RANGE}]
          Projection: {ProjectionType: ALL}
      StreamSpecification: {StreamViewType: NEW_AND_OLD_IMAGES}
      TimeToLiveSpecification: {AttributeName: expires, Enabled: true}
  Simple:
    Type: AWS::Serverless::SimpleTable
    Properties: {PrimaryKey: {Name: connectionId, Type: String}}
  Role:
    Type: AWS::IAM::Role
    Properties: {AssumeRolePolicyDocument: {}}
"""


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(SAM)
    return path


def test_routes_resolve_to_their_functions_through_every_uri_form(template: Path) -> None:
    app = load_template_app(template)
    routes = app.routes
    assert routes["$connect"].function == "ConnectFn"  # !Sub with ${X.Arn}
    assert routes["send"].function == "SendFn"  # !Join with !GetAtt
    assert routes["raw"].function == "RawFn"  # a literal function ARN
    assert routes["elsewhere"].function is None
    assert routes["mock"].function is None
    assert routes["send"].two_way and not routes["$connect"].two_way
    assert routes["send"].timeout == 12.0 and routes["$connect"].timeout is None
    assert app.stage == "beta" and app.declared_stage == "beta"
    assert load_template_app(template, stage="other").stage == "other"
    joined = " | ".join(app.unsupported)
    assert "function outside the template" in joined and "not-here" in joined
    assert "MOCK integration MockInteg" in joined
    assert "AWS::IAM::Role" not in joined  # deliberately ignored, not a warning


def test_functions_take_globals_code_roots_and_arns(template: Path) -> None:
    app = load_template_app(template, region="eu-west-1")
    connect, send, auth = (app.functions[k] for k in ("ConnectFn", "SendFn", "AuthFn"))
    assert connect.runtime == "python3.12" and connect.timeout == 10.0
    assert connect.memory_mb == 256 and send.memory_mb == 128
    assert send.timeout == 20.0
    assert connect.code_root == template.parent / "connect"
    assert dict(send.environment) == {"SHARED": "from-globals", "OVERRIDDEN": "own"}
    assert dict(connect.environment) == {"SHARED": "from-globals", "OVERRIDDEN": "globals"}
    assert auth.name == "the-authorizer"
    assert auth.arn == "arn:aws:lambda:eu-west-1:123456789012:function:the-authorizer"
    raw = app.functions["RawFn"]
    assert (raw.runtime, raw.code_root, raw.timeout) == ("nodejs20.x", template.parent / "raw", 3.0)
    assert raw.environment == {}


def test_authorizer_from_the_connect_route(template: Path) -> None:
    app = load_template_app(template)
    assert app.authorizer is not None
    assert app.authorizer.function == "AuthFn"
    assert app.authorizer.identity_sources == ("route.request.querystring.token",)


def test_tables_become_create_table_arguments(template: Path) -> None:
    app = load_template_app(template)
    sessions = app.tables["Sessions"]
    kwargs = sessions.create_table_kwargs
    assert sessions.name == kwargs["TableName"] == f"{template.parent.name}-Sessions"
    assert kwargs["BillingMode"] == "PROVISIONED"
    assert kwargs["ProvisionedThroughput"] == {"ReadCapacityUnits": 2, "WriteCapacityUnits": 3}
    (gsi,) = kwargs["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "by-g" and gsi["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert gsi["ProvisionedThroughput"] == {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    (lsi,) = kwargs["LocalSecondaryIndexes"]
    assert lsi["IndexName"] == "by-l" and "ProvisionedThroughput" not in lsi
    assert kwargs["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert sessions.ttl_attribute == "expires"
    simple = app.tables["Simple"].create_table_kwargs
    assert simple["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    assert simple["AttributeDefinitions"] == [
        {"AttributeName": "connectionId", "AttributeType": "S"}
    ]
    assert simple["BillingMode"] == "PAY_PER_REQUEST"


def test_tables_are_accepted_by_a_real_dynamodb(template: Path, moto_server: Any) -> None:
    import boto3

    client = boto3.client("dynamodb", **moto_server.boto_kwargs)
    for table in load_template_app(template).tables.values():
        client.create_table(**table.create_table_kwargs)
        described = client.describe_table(TableName=table.name)["Table"]
        assert described["KeySchema"] == table.create_table_kwargs["KeySchema"]


def test_a_json_template_reads_the_same(template: Path, tmp_path: Path) -> None:
    import yaml

    from wsgate.local.apptemplate.reader import read_document

    data = read_document(template)
    as_json = tmp_path / "template.json"
    as_json.write_text(json.dumps(data))
    assert yaml  # the YAML form went through PyYAML with the short-form tags
    from_yaml, from_json = load_template_app(template), load_template_app(as_json)
    assert from_json.routes == from_yaml.routes
    assert from_json.functions == from_yaml.functions
    assert from_json.tables == from_yaml.tables


def test_the_routes_only_reader_keeps_working(template: Path, tmp_path: Path) -> None:
    routes = load_template(template)
    assert routes.route_keys == {"$connect", "send", "raw", "elsewhere", "mock"}
    assert routes.two_way_route_keys == {"send"}
    assert routes.timeouts == {"send": 12.0} and routes.stage == "beta"
    bare = tmp_path / "none.yaml"
    bare.write_text("Resources:\n  T: {Type: AWS::SQS::Queue}\n")
    with pytest.raises(ConfigurationError, match="no WebSocket API"):
        load_template(bare)


def test_bad_files_get_clear_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources: [unclosed\n")
    with pytest.raises(ConfigurationError, match="cannot read template"):
        load_template_app(broken)
    other = tmp_path / "other.yaml"
    other.write_text("just: data\n")
    with pytest.raises(ConfigurationError, match="neither"):
        load_template_app(other)
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_template_app(tmp_path / "missing.yaml")
