"""Each function runs as Lambda runs it: its own environment, its own Timeout, new instances."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.sync.client import connect

from support import wait_until

from .conftest import Served

pytestmark = pytest.mark.timeout(300)

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Shade: {Type: String, Default: light}
Globals:
  Function:
    Runtime: python3.12
    Environment: {Variables: {SHARED: everyone}}
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: iso, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.op}
  RedRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: red
      RouteResponseSelectionExpression: $default
      Target: !Sub integrations/${RedInteg}
  RedInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt RedFn.Arn
  BlueRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: blue
      RouteResponseSelectionExpression: $default
      Target: !Sub integrations/${BlueInteg}
  BlueInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt BlueFn.Arn
  SlowRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: slow
      RouteResponseSelectionExpression: $default
      Target: !Sub integrations/${SlowInteg}
  SlowInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: !GetAtt SlowFn.Arn
  HurryRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: hurry
      RouteResponseSelectionExpression: $default
      Target: !Sub integrations/${HurryInteg}
  HurryInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      TimeoutInMillis: 1000
      IntegrationUri: !GetAtt PatientFn.Arn
  PatientFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Handler: app.handler
      Timeout: 20
  RedFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: red/
      Handler: app.handler
      Environment: {Variables: {COLOR: red, SHADE: !Ref Shade}}
  BlueFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: blue/
      Handler: app.handler
      Environment: {Variables: {COLOR: blue}}
  SlowFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: slow/
      Handler: app.handler
      Timeout: 1
"""

# Both functions are the same module name ("app"), as in most real apps: each needs its own
# import root. They report their view of the environment.
REPORT = textwrap.dedent(
    """
    import json, os

    def handler(event, context):
        keys = ("COLOR", "SHADE", "SHARED", "AWS_LAMBDA_FUNCTION_NAME", "LEAK")
        return {"statusCode": 200, "body": json.dumps({k: os.environ.get(k) for k in keys})}
    """
)

SLOW = textwrap.dedent(
    """
    import json, os, time

    def handler(event, context):
        if json.loads(event["body"]).get("sleep"):
            time.sleep(5)
        return {"statusCode": 200, "body": str(os.getpid())}
    """
)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    for name, code in (("red", REPORT), ("blue", REPORT), ("slow", SLOW)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(code)
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return path


def test_functions_see_only_their_own_environment(
    serve: Callable[..., Served], template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAK", "the emulator's own environment")
    served = serve(template, parameter_overrides={"Shade": "dark"})
    with connect(served.ws_url) as ws:
        ws.send(json.dumps({"op": "red"}))
        red = json.loads(ws.recv(60))
        ws.send(json.dumps({"op": "blue"}))
        blue = json.loads(ws.recv(60))
    assert red == {
        "COLOR": "red",
        "SHADE": "dark",
        "SHARED": "everyone",
        "AWS_LAMBDA_FUNCTION_NAME": "RedFn",
        "LEAK": None,
    }
    assert blue == {
        "COLOR": "blue",
        "SHADE": None,
        "SHARED": "everyone",
        "AWS_LAMBDA_FUNCTION_NAME": "BlueFn",
        "LEAK": None,
    }


def test_a_function_past_its_timeout_fails_and_the_next_call_gets_a_new_instance(
    serve: Callable[..., Served], template: Path
) -> None:
    served = serve(template)
    with connect(served.ws_url) as ws:
        ws.send(json.dumps({"op": "slow"}))
        first_pid = ws.recv(60)
        ws.send(json.dumps({"op": "slow"}))
        assert ws.recv(60) == first_pid  # warm: the same instance
        ws.send(json.dumps({"op": "slow", "sleep": True}))
        frame = json.loads(ws.recv(60))
        # Lambda ends the call at the function's Timeout (1 s) with an error; API Gateway
        # answers a failed invocation with this frame (its own 29 s timeout was not reached).
        assert frame["message"] == "Internal server error"
        assert set(frame) == {"message", "connectionId", "requestId"}
        ws.send(json.dumps({"op": "slow"}))
        assert ws.recv(60) != first_pid  # the timed-out instance was replaced


def test_the_routes_integration_timeout_gives_endpoint_request_timed_out(
    serve: Callable[..., Served], template: Path
) -> None:
    served = serve(template)
    assert served.app.routes["hurry"].timeout == 1.0
    with connect(served.ws_url) as ws:

        def answered() -> bool:  # a cold start on a loaded machine may itself take over 1 s
            ws.send(json.dumps({"op": "hurry"}))
            return ws.recv(60).isdigit()

        wait_until(answered, 60, "a warm instance answering within 1 s")
        ws.send(json.dumps({"op": "hurry", "sleep": True}))  # 5 s: past the route's 1 s
        frame = json.loads(ws.recv(60))
        assert frame["message"] == "Endpoint request timed out"
