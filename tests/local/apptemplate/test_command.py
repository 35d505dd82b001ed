"""``wsgate serve --template`` argument handling and its startup line (no server started)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wsgate.cli import main
from wsgate.exceptions import ConfigurationError
from wsgate.local.apptemplate import load_template_app, parse_overrides
from wsgate.local.apptemplate.runner import startup_line


def test_serve_needs_an_app_or_a_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 2
    assert "needs APP, or --template" in capsys.readouterr().err


def test_a_template_without_a_websocket_api_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Q: {Type: AWS::SQS::Queue}\n")
    assert main(["serve", "--template", str(path), "--port", "0"]) == 2
    assert "no WebSocket API" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("Resources: [\n")
    assert main(["serve", "--template", str(broken), "--port", "0"]) == 2
    assert "cannot read template" in capsys.readouterr().err


def test_one_startup_line_names_everything_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        """
Resources:
  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET}}
  Bucket: {Type: AWS::S3::Bucket}
  Topic: {Type: AWS::SNS::Topic}
  Fn:
    Type: AWS::Lambda::Function
    Properties: {Handler: a.b, Runtime: python3.12, Code: {ZipFile: "x = 1"}}
"""
    )
    line = startup_line(load_template_app(path))
    assert line is not None and "\n" not in line
    assert line.startswith("not emulated from the template: ")
    for phrase in ("AWS::S3::Bucket", "AWS::SNS::Topic", "inline Code.ZipFile"):
        assert phrase in line
    clean = tmp_path / "clean.yaml"
    clean.write_text(
        "Resources:\n  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET}}\n"
    )
    assert startup_line(load_template_app(clean)) is None


def test_parameter_overrides_forms() -> None:
    assert parse_overrides(["A=1", "B=x=y", "ParameterKey=C,ParameterValue=3"]) == {
        "A": "1",
        "B": "x=y",
        "C": "3",
    }
    with pytest.raises(ConfigurationError, match="KEY=VALUE"):
        parse_overrides(["novalue"])


def test_prepare_names_a_function_whose_code_is_missing(tmp_path: Path) -> None:
    from wsgate.local.apptemplate.runner import TemplateRunner
    from wsgate.local.lambda_runtime import FunctionHost

    (tmp_path / "here").mkdir()
    path = tmp_path / "template.yaml"
    path.write_text(
        """
Resources:
  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET}}
  Here:
    Type: AWS::Lambda::Function
    Properties: {Code: here/, Handler: a.b, Runtime: python3.12}
  Gone:
    Type: AWS::Lambda::Function
    Properties: {Code: gone/, Handler: a.b, Runtime: python3.12}
"""
    )
    runner = TemplateRunner(load_template_app(path), tls=False)
    runner.host = FunctionHost(runner.app.functions)
    try:
        problems = runner.prepare()
    finally:
        runner.close()
    assert len(problems) == 1 and "Gone" in problems[0] and "not a folder" in problems[0]
