"""The template's $connect authorizer runs in its function; --reload restarts changed code."""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from support import wait_until

from .conftest import Served

pytestmark = pytest.mark.timeout(300)

TEMPLATE = """\
Resources:
  Api:
    Type: AWS::ApiGatewayV2::Api
    Properties: {Name: guarded, ProtocolType: WEBSOCKET, RouteSelectionExpression: $request.body.op}
  ConnectRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: $connect
      AuthorizationType: CUSTOM
      AuthorizerId: !Ref Gate
      Target: !Join [/, [integrations, !Ref ConnectInteg]]
  ConnectInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: URI(ConnectFn)
  WhoRoute:
    Type: AWS::ApiGatewayV2::Route
    Properties:
      ApiId: !Ref Api
      RouteKey: who
      RouteResponseSelectionExpression: $default
      Target: !Join [/, [integrations, !Ref WhoInteg]]
  WhoInteg:
    Type: AWS::ApiGatewayV2::Integration
    Properties:
      ApiId: !Ref Api
      IntegrationType: AWS_PROXY
      IntegrationUri: URI(WhoFn)
  Gate:
    Type: AWS::ApiGatewayV2::Authorizer
    Properties:
      ApiId: !Ref Api
      Name: gate
      AuthorizerType: REQUEST
      AuthorizerUri: URI(GateFn)
      IdentitySource: [route.request.querystring.token]
  GateFn:
    Type: AWS::Lambda::Function
    Properties: {Code: gate/, Handler: gate.handler, Runtime: python3.12}
  ConnectFn:
    Type: AWS::Lambda::Function
    Properties: {Code: connect/, Handler: app.handler, Runtime: python3.12}
  WhoFn:
    Type: AWS::Lambda::Function
    Properties: {Code: who/, Handler: app.handler, Runtime: python3.12}
"""

TEMPLATE = re.sub(
    r"URI\((\w+)\)",
    r"!Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/"
    r"functions/${\1.Arn}/invocations",
    TEMPLATE,
)

GATE = textwrap.dedent(
    """
    def handler(event, context):
        token = event["queryStringParameters"]["token"]
        if token != "open-sesame":
            raise Exception("Unauthorized")
        return {
            "principalId": "ali",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Action": "execute-api:Invoke",
                        "Effect": "Allow",
                        "Resource": event["methodArn"],
                    }
                ],
            },
            "context": {"role": "baba"},
        }
    """
)

CONNECT = "def handler(event, context):\n    return {'statusCode': 200}\n"

WHO = textwrap.dedent(
    """
    import json

    def handler(event, context):
        print("who asked:", event["requestContext"]["authorizer"]["principalId"])
        answer = dict(event["requestContext"]["authorizer"], version=1)
        return {"statusCode": 200, "body": json.dumps(answer)}
    """
)


@pytest.fixture
def template(tmp_path: Path) -> Path:
    for folder, name, code in (
        ("gate", "gate.py", GATE),
        ("connect", "app.py", CONNECT),
        ("who", "app.py", WHO),
    ):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / name).write_text(code)
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return path


def _refused_then_asked(served: Served, refused_queries: tuple[str, ...], query: str) -> Any:
    """Each of ``refused_queries`` gets 401; ``query`` opens, and the ``who`` route's answer."""
    for refused_query in refused_queries:
        with pytest.raises(InvalidStatus) as refused:
            connect(served.ws_url + refused_query)
        assert refused.value.response.status_code == 401
    with connect(served.ws_url + query) as ws:
        ws.send(json.dumps({"op": "who"}))
        return json.loads(ws.recv(60))


def test_the_templates_authorizer_guards_connect(
    serve: Callable[..., Served], template: Path
) -> None:
    served = serve(template)
    answer = _refused_then_asked(served, ("", "?token=wrong"), "?token=open-sesame")
    assert answer["principalId"] == "ali" and answer["role"] == "baba"
    # The function's output reaches the log sink under the function's name.
    wait_until(lambda: ("WhoFn", "who asked: ali") in served.logs, 30, "WhoFn's log line")


def _key_gate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A local authorizer (``--authorizer``): lets in ``?key=local`` as "dev"."""
    if event["queryStringParameters"].get("key") != "local":
        raise Exception("Unauthorized")
    return {
        "principalId": "dev",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
        "context": {"role": "local"},
    }


def test_an_authorizer_given_on_the_command_line_replaces_the_templates(
    serve: Callable[..., Served], template: Path
) -> None:
    from wsgate.local.authorizer import LocalAuthorizer

    local = LocalAuthorizer(_key_gate, ["route.request.querystring.key"])
    served = serve(template, authorizer=local)
    # The template's token no longer opens.
    answer = _refused_then_asked(served, ("?token=open-sesame", "?key=wrong"), "?key=local")
    assert answer["principalId"] == "dev" and answer["role"] == "local"


def test_a_bad_authorizer_on_the_command_line_stops_before_anything_starts(
    template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsgate.cli import main

    code = main(
        ["serve", "--template", str(template), "--authorizer", "no_such_module:gate", "--port", "0"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--authorizer no_such_module:gate" in err and "no_such_module" in err


def test_reload_restarts_a_function_whose_code_changed(
    serve: Callable[..., Served], template: Path
) -> None:
    served = serve(template, reload=True)
    with connect(served.ws_url + "?token=open-sesame") as ws:
        ws.send(json.dumps({"op": "who"}))
        assert json.loads(ws.recv(60))["version"] == 1
        code = template.parent / "who" / "app.py"
        code.write_text(code.read_text().replace("version=1", "version=2"))

        def version() -> int:
            ws.send(json.dumps({"op": "who"}))
            return int(json.loads(ws.recv(60))["version"])

        wait_until(lambda: version() == 2, 60, "the changed code to run")
