"""``load_template_app``: a SAM/CloudFormation template or a serverless.yml, read into a model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from wsgate.exceptions import ConfigurationError
from wsgate.local.apptemplate.cloudformation import read_stack_app
from wsgate.local.apptemplate.model import TemplateApp
from wsgate.local.apptemplate.names import default_api_id
from wsgate.local.apptemplate.reader import read_document
from wsgate.local.apptemplate.serverless import is_serverless, read_serverless_app
from wsgate.local.apptemplate.stack import Stack

__all__ = ["load_template_app", "parse_overrides"]


def parse_overrides(items: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """``["K=V", "K2=V2"]`` (also ``ParameterKey=K,ParameterValue=V``) as a mapping.

    Raises:
        ConfigurationError: An item has no ``=``.
    """
    result: dict[str, str] = {}
    for item in items or ():
        if item.startswith("ParameterKey="):
            key_part, _, value_part = item.partition(",")
            key = key_part.removeprefix("ParameterKey=")
            value = value_part.removeprefix("ParameterValue=")
        else:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ConfigurationError(f"parameter override {item!r} is not KEY=VALUE")
        result[key] = value
    return result


def load_template_app(
    path: str | Path,
    *,
    parameter_overrides: Mapping[str, str] | None = None,
    api_id: str | None = None,
    region: str | None = None,
    account_id: str = "123456789012",
    stage: str | None = None,
    stack_name: str | None = None,
) -> TemplateApp:
    """Read the app a template declares.

    Args:
        path: A SAM/CloudFormation template (YAML or JSON) or a ``serverless.yml``.
        parameter_overrides: Template parameters (serverless.yml: ``${param:X}``/``${opt:X}``).
        api_id: What ``Ref`` of the API gives (default: stable, derived from the path).
        region: ``AWS::Region`` (default ``us-east-1``; serverless.yml: ``provider.region``).
        account_id: ``AWS::AccountId``.
        stage: Overrides the template's stage.
        stack_name: ``AWS::StackName`` (default: the template's folder name).

    Raises:
        ConfigurationError: The file cannot be read or is neither kind of template.
            Constructs that are merely not understood never raise: they are listed in
            :attr:`TemplateApp.unsupported`.
    """
    source = Path(path).resolve()
    data = read_document(source)
    overrides = dict(parameter_overrides or {})
    the_api_id = api_id or default_api_id(source)
    if is_serverless(data):
        return read_serverless_app(
            source,
            data,
            parameter_overrides=overrides,
            api_id=the_api_id,
            region=region,
            account_id=account_id,
            stage=stage,
        )
    if not isinstance(data.get("Resources"), dict):
        raise ConfigurationError(
            f"{source}: neither a CloudFormation/SAM template (no Resources) nor a serverless.yml"
        )
    stack = Stack(
        data,
        source=source,
        stack_name=stack_name or source.parent.name or "local",
        region=region or "us-east-1",
        account_id=account_id,
        api_id=the_api_id,
        parameter_overrides=overrides,
    )
    return read_stack_app(stack, data, stage)
