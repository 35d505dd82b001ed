"""Offline checks of a SAM template: cfn-lint, and aws-sam-translator's transform."""

from __future__ import annotations

import copy
from typing import Any

import yaml


def lint(text: str) -> list[str]:
    """cfn-lint's findings for a template (empty when clean); it runs the SAM transform too."""
    from cfnlint.api import ManualArgs, lint

    matches = lint(text, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    return [str(match) for match in matches]


class _NoManagedPolicies:
    """The translator's managed-policy loader, offline: the template names no managed policy."""

    def load(self) -> dict[str, str]:
        return {}


def transform(template: dict[str, Any]) -> dict[str, Any]:
    """The CloudFormation that aws-sam-translator makes of ``template``, offline.

    Local ``CodeUri`` folders are replaced by an S3 URI first, as ``sam package`` does.
    """
    from samtranslator.translator.transform import transform as sam_transform

    packaged = copy.deepcopy(template)
    for resource in packaged["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://wsgate-artifacts/code.zip"
    result: dict[str, Any] = sam_transform(packaged, {}, _NoManagedPolicies())
    return result


def load(text: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(text)
    return document
