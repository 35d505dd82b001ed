"""Every intrinsic function, condition and pseudo parameter, through a whole template."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from wsgate.local.apptemplate import load_template_app

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Env: {Type: String, Default: dev}
  Names: {Type: CommaDelimitedList, Default: "alpha,beta,gamma"}
  Size: {Type: Number, Default: 7}
Mappings:
  Regions:
    us-east-1: {Suffix: east}
    eu-west-1: {Suffix: west}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition NotProd, !Equals [!Ref "AWS::Region", us-east-1]]
  Either: !Or [!Condition IsProd, !Equals [a, b]]
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: t, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.op}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "conn-${Env}"
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
      BillingMode: PAY_PER_REQUEST
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: jobs, VisibilityTimeout: 40}
  ProdOnly:
    Type: AWS::SQS::Queue
    Condition: IsProd
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          REF_PARAM: !Ref Env
          REF_TABLE: !Ref Table
          REF_FUNCTION: !Ref Fn
          REF_API: !Ref Api
          REF_QUEUE: !Ref Queue
          REGION: !Ref AWS::Region
          ACCOUNT: !Ref AWS::AccountId
          STACK: !Ref AWS::StackName
          PARTITION: !Ref AWS::Partition
          SUFFIX: !Ref AWS::URLSuffix
          SUB_SHORT: !Sub "${AWS::Region}/${Table}/${Table.Arn}/${!Literal}"
          SUB_LONG: !Sub ["${A}-${B}", {A: !Ref Env, B: !Select [1, !Ref Names]}]
          TABLE_ARN: !GetAtt Table.Arn
          STREAM_ARN: !GetAtt [Table, StreamArn]
          QUEUE_URL: !GetAtt Queue.QueueUrl
          QUEUE_NAME: !GetAtt Queue.QueueName
          QUEUE_ARN: !GetAtt Queue.Arn
          FN_ARN: !GetAtt Fn.Arn
          ENDPOINT: !GetAtt Api.ApiEndpoint
          API_ID: !GetAtt Api.ApiId
          JOINED: !Join ["-", [a, !Ref Env, !Ref Size]]
          SELECTED: !Select [2, !Split [",", "x,y,z"]]
          IF_TRUE: !If [NotProd, picked, other]
          IF_FALSE: !If [IsProd, picked, other]
          IF_AND: !If [Both, and-true, and-false]
          IF_OR: !If [Either, or-true, or-false]
          MAPPED: !FindInMap [Regions, !Ref "AWS::Region", Suffix]
          B64: !Base64 hello
          LONG_FORM: {"Fn::Join": ["", ["x", {"Ref": "Env"}]]}
          AZ: !Select [0, !GetAZs ""]
          JSON: !ToJsonString {a: 1}
          COUNT: !Length [1, 2, 3]
          FLAG: true
          OPTIONAL: !If [IsProd, only-in-prod, !Ref AWS::NoValue]
          NUMBER: 42
"""


def _load(tmp_path: Path, **kwargs: object) -> dict[str, str]:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    app = load_template_app(tmp_path / "template.yaml", api_id="abc123", **kwargs)  # type: ignore[arg-type]
    return dict(app.functions["Fn"].environment)


def test_every_intrinsic_resolves(tmp_path: Path) -> None:
    env = _load(tmp_path)
    assert env["REF_PARAM"] == "dev"
    assert env["REF_TABLE"] == "conn-dev"
    assert env["REF_FUNCTION"] == "Fn"
    assert env["REF_API"] == "abc123"
    assert env["REF_QUEUE"] == "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"
    assert (env["REGION"], env["ACCOUNT"]) == ("us-east-1", "123456789012")
    assert env["STACK"] == tmp_path.name
    assert (env["PARTITION"], env["SUFFIX"]) == ("aws", "amazonaws.com")
    table_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/conn-dev"
    assert env["SUB_SHORT"] == f"us-east-1/conn-dev/{table_arn}/${{Literal}}"
    assert env["SUB_LONG"] == "dev-beta"
    assert env["TABLE_ARN"] == table_arn
    assert env["STREAM_ARN"].startswith(table_arn + "/stream/")
    assert env["QUEUE_URL"] == env["REF_QUEUE"]
    assert env["QUEUE_NAME"] == "jobs"
    assert env["QUEUE_ARN"] == "arn:aws:sqs:us-east-1:123456789012:jobs"
    assert env["FN_ARN"] == "arn:aws:lambda:us-east-1:123456789012:function:Fn"
    assert env["ENDPOINT"] == "wss://abc123.execute-api.us-east-1.amazonaws.com"
    assert env["API_ID"] == "abc123"
    assert env["JOINED"] == "a-dev-7"
    assert env["SELECTED"] == "z"
    assert (env["IF_TRUE"], env["IF_FALSE"]) == ("picked", "other")
    assert (env["IF_AND"], env["IF_OR"]) == ("and-true", "or-false")
    assert env["MAPPED"] == "east"
    assert base64.b64decode(env["B64"]) == b"hello"
    assert env["LONG_FORM"] == "xdev"
    assert env["AZ"] == "us-east-1a"
    assert json.loads(env["JSON"]) == {"a": 1}
    assert env["COUNT"] == "3"
    assert (env["FLAG"], env["NUMBER"]) == ("true", "42")
    assert "OPTIONAL" not in env  # AWS::NoValue removes the key


def test_parameter_override_and_region_change_everything_that_depends_on_them(
    tmp_path: Path,
) -> None:
    env = _load(tmp_path, parameter_overrides={"Env": "prod"}, region="eu-west-1")
    assert env["REF_TABLE"] == "conn-prod"
    assert (env["IF_TRUE"], env["IF_FALSE"], env["IF_OR"]) == ("other", "picked", "or-true")
    assert env["IF_AND"] == "and-false"
    assert env["MAPPED"] == "west"
    assert env["OPTIONAL"] == "only-in-prod"
    app = load_template_app(tmp_path / "template.yaml", parameter_overrides={"Env": "prod"})
    assert set(app.queues) == {"Queue", "ProdOnly"}  # the condition now holds
    assert set(load_template_app(tmp_path / "template.yaml").queues) == {"Queue"}


def test_unsupported_constructs_are_named_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        """
Parameters:
  Secret: {Type: String}
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.action}
  Bucket:
    Type: AWS::S3::Bucket
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Handler: index.handler
      Runtime: nodejs20.x
      Code: {S3Bucket: b, S3Key: k}
      Environment:
        Variables:
          IMPORTED: !ImportValue other-stack-output
          SECRET: !Ref Secret
          GOOD: fine
          CIDR: !Cidr [10.0.0.0/16, 2, 8]
          ATTR: !GetAtt Bucket.DomainName
"""
    )
    app = load_template_app(tmp_path / "template.yaml")
    env = app.functions["Fn"].environment
    assert env["GOOD"] == "fine" and env["IMPORTED"] == ""
    text = " | ".join(app.unsupported)
    assert "Fn::ImportValue" in text
    assert "parameter Secret has no Default" in text
    assert "Fn::Cidr" in text
    assert "Fn::GetAtt Bucket.DomainName" in text
    assert "AWS::S3::Bucket (not emulated)" in text
    assert "code in S3" in text
    # Overriding the missing parameter removes that phrase and gives the value.
    app = load_template_app(tmp_path / "template.yaml", parameter_overrides={"Secret": "s3cr3t"})
    assert app.functions["Fn"].environment["SECRET"] == "s3cr3t"
    assert not any("Secret" in phrase for phrase in app.unsupported)


def test_malformed_values_are_named_never_raised(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        """
Conditions:
  Named: !Equals [a, b]
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {ProtocolType: WEBSOCKET, RouteSelectionExpression: [not, a, string]}
  Route:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: {a: map}, Target: [x]}
  Other:
    Type: AWS::ApiGatewayV2::Route
    Properties: {ApiId: !Ref Api, RouteKey: ok, Target: !Select [9, [a]]}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !If [Named, given, !Ref AWS::NoValue]
      KeySchema: [{AttributeName: k, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: k, AttributeType: S}]
      Tags: [{Key: {a: 1}, Value: v}]
  Queue:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: [1, 2]}
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Handler: {a: 1}, Runtime: [x], Timeout: soon, CodeUri: 5}
  Loop:
    Type: AWS::SQS::Queue
    Properties: {QueueName: !Sub "${Loop.QueueName}"}
"""
    )
    app = load_template_app(tmp_path / "template.yaml")
    assert app.has_api and app.route_selection_expression == "$request.body.action"
    assert app.routes["ok"].function is None
    assert app.functions["Fn"].timeout == 3.0 and app.functions["Fn"].handler == ""
    joined = " | ".join(app.unsupported)
    for phrase in ("not a number", "Fn::Select index 9", "table Table", "queue Queue"):
        assert phrase in joined
    (tmp_path / "serverless.yml").write_text(
        """
service: {name: [odd]}
provider: {name: aws, stage: [x], websocketsApiRouteSelectionExpression: {a: 1}}
functions:
  a: {handler: {x: 1}, events: [{websocket: {route: [1]}}, {websocket: $connect}]}
  b: not-a-map
  c: {handler: h.c, events: nope}
  d: {handler: h.d, events: [{websocket: {route: [1]}}, {websocket: $connect}]}
"""
    )
    app = load_template_app(tmp_path / "serverless.yml")
    assert app.stage == "dev" and app.route_selection_expression == "$request.body.action"
    assert app.routes["$connect"].function == "d"
    assert any(phrase.startswith("function a:") for phrase in app.unsupported)
    assert any("websocket event without a route" in phrase for phrase in app.unsupported)
