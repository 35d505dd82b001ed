"""Resources of one CloudFormation/SAM template and what ``Ref``/``Fn::GetAtt`` of each give.

A :class:`Stack` knows every resource's type and properties, decides resource conditions and
names resources as a local deployment would; :meth:`Stack.resolve` evaluates properties and
records what cannot be evaluated in :attr:`Stack.unsupported`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wsgate.local.apptemplate.intrinsics import NO_VALUE, Resolver, Unresolved, text
from wsgate.local.apptemplate.names import function_arn

__all__ = ["FUNCTION_TYPES", "TABLE_TYPES", "Stack"]

FUNCTION_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})
TABLE_TYPES = frozenset({"AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"})
API_TYPES = frozenset({"AWS::ApiGatewayV2::Api", "AWS::Serverless::WebSocketApi"})
_NAME_PROPERTY = {
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Serverless::SimpleTable": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::IAM::Role": "RoleName",
    "AWS::SNS::Topic": "TopicName",
}


class Stack(Resolver):
    """One template's resources, parameters and conditions, resolved for a local run."""

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        source: Path,
        stack_name: str,
        region: str,
        account_id: str,
        api_id: str,
        parameter_overrides: Mapping[str, str],
    ) -> None:
        self.source = source
        self.region = region
        self.account_id = account_id
        self.api_id = api_id
        self.stack_name = stack_name
        self.unsupported: list[str] = []
        self.stage_name: str | None = None
        pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::StackName": stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{region}:{account_id}:stack/{stack_name}/local"
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
            "AWS::NotificationARNs": [],
        }
        super().__init__(
            parameters=self._parameters(data.get("Parameters"), parameter_overrides),
            pseudo=pseudo,
            mappings=data.get("Mappings") if isinstance(data.get("Mappings"), dict) else None,
            conditions=data.get("Conditions") if isinstance(data.get("Conditions"), dict) else None,
        )
        raw = data.get("Resources")
        self.resources: dict[str, dict[str, Any]] = {}
        for logical_id, resource in (raw if isinstance(raw, dict) else {}).items():
            if isinstance(resource, dict) and isinstance(resource.get("Type"), str):
                if self._included(str(logical_id), resource):
                    self.resources[str(logical_id)] = resource
            else:
                self.note(f"resource {logical_id} without a Type")
        self._names: dict[str, str] = {}
        self._naming: set[str] = set()

    # -- bookkeeping --------------------------------------------------------------------------
    def note(self, phrase: str) -> None:
        """Record one unsupported construct (once)."""
        if phrase not in self.unsupported:
            self.unsupported.append(phrase)

    def resolve(self, data: Any, where: str, default: Any = None) -> Any:
        """``data`` evaluated; on failure the phrase is recorded against ``where``."""
        try:
            return self.value(data)
        except Unresolved as exc:
            self.note(f"{where}: {exc.phrase}")
            return default

    def resolve_text(self, data: Any, where: str, default: str | None = None) -> str | None:
        """``data`` evaluated to a string (``default`` when absent, ``AWS::NoValue`` or not a
        scalar; the last is recorded)."""
        value = self.resolve(data, where, NO_VALUE) if data is not None else NO_VALUE
        if value is NO_VALUE or value is None:
            return default
        try:
            return text(value)
        except Unresolved as exc:
            self.note(f"{where}: {exc.phrase}")
            return default

    def _parameters(self, declared: Any, overrides: Mapping[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        declared = declared if isinstance(declared, dict) else {}
        for name, spec in declared.items():
            spec = spec if isinstance(spec, dict) else {}
            kind = str(spec.get("Type", "String"))
            if name in overrides:
                value: Any = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                self.note(f"parameter {name} has no Default (pass --parameter-overrides {name}=…)")
                continue
            if kind.startswith("AWS::SSM::Parameter::Value") and name not in overrides:
                self.note(f"parameter {name} reads SSM ({value})")
            if kind == "CommaDelimitedList" or kind.startswith("List<"):
                value = [part.strip() for part in text(value).split(",")] if value != "" else []
            elif isinstance(value, int | float | bool):
                value = text(value)
            values[str(name)] = value
        for name in overrides:
            if name not in declared:
                self.note(f"override {name} names no parameter")
        return values

    def _included(self, logical_id: str, resource: Mapping[str, Any]) -> bool:
        condition = resource.get("Condition")
        if condition is None:
            return True
        try:
            return self.condition(str(condition))
        except Unresolved as exc:
            self.note(f"{logical_id}: {exc.phrase}")
            return True

    def of_type(self, *types: str) -> list[tuple[str, dict[str, Any]]]:
        """``(logical id, properties)`` of every resource of the given types, in order."""
        found = []
        for logical_id, resource in self.resources.items():
            if resource["Type"] in types:
                props = resource.get("Properties")
                found.append((logical_id, props if isinstance(props, dict) else {}))
        return found

    # -- names ----------------------------------------------------------------------------------
    def name_of(self, logical_id: str) -> str:
        """The physical name: the name property if set, else ``{stack}-{logical id}``."""
        if logical_id in self._names:
            return self._names[logical_id]
        if logical_id in self._naming:
            raise Unresolved(f"the name of {logical_id} refers to itself")
        self._naming.add(logical_id)
        try:
            name = self._name(logical_id)
        finally:
            self._naming.discard(logical_id)
        self._names[logical_id] = name
        return name

    def _name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        kind = resource["Type"]
        props = resource.get("Properties") or {}
        name = self.resolve_text(props.get(_NAME_PROPERTY.get(kind, "")), f"{logical_id} name", "")
        if not name:
            if kind in FUNCTION_TYPES:
                name = logical_id
            else:
                name = f"{self.stack_name}-{logical_id}"
                if kind == "AWS::SQS::Queue" and str(props.get("FifoQueue")).lower() == "true":
                    name += ".fifo"
        return name

    def _kind(self, logical_id: str) -> str:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise Unresolved(f"reference to unknown resource {logical_id}")
        return str(resource["Type"])

    # -- Ref / GetAtt ---------------------------------------------------------------------------
    def resource_ref(self, logical_id: str) -> Any:
        kind = self._kind(logical_id)
        if kind in API_TYPES:
            return self.api_id
        if kind == "AWS::ApiGatewayV2::Stage":
            props = self.resources[logical_id].get("Properties") or {}
            return self.resolve_text(props.get("StageName"), logical_id, logical_id)
        if kind == "AWS::SQS::Queue":
            return self._queue_url(logical_id)
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{self.region}:{self.account_id}:{self.name_of(logical_id)}"
        if kind in _NAME_PROPERTY:
            return self.name_of(logical_id)
        return logical_id

    def _queue_url(self, logical_id: str) -> str:
        name = self.name_of(logical_id)
        return f"https://sqs.{self.region}.amazonaws.com/{self.account_id}/{name}"

    def resource_attribute(self, logical_id: str, attribute: str) -> Any:
        if logical_id.endswith("Role") and logical_id not in self.resources:
            owner = logical_id[: -len("Role")]
            owner_kind = self.resources.get(owner, {}).get("Type")
            if owner_kind == "AWS::Serverless::Function" and attribute == "Arn":
                # SAM's implicit execution role
                return f"arn:aws:iam::{self.account_id}:role/{logical_id}"
        kind = self._kind(logical_id)
        region, account = self.region, self.account_id
        if kind in FUNCTION_TYPES and attribute == "Arn":
            return function_arn(region, account, self.name_of(logical_id))
        if kind in TABLE_TYPES and attribute in ("Arn", "StreamArn"):
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{self.name_of(logical_id)}"
            return arn if attribute == "Arn" else f"{arn}/stream/1970-01-01T00:00:00.000"
        if kind == "AWS::SQS::Queue":
            if attribute == "Arn":
                return f"arn:aws:sqs:{region}:{account}:{self.name_of(logical_id)}"
            if attribute == "QueueUrl":
                return self._queue_url(logical_id)
            if attribute == "QueueName":
                return self.name_of(logical_id)
        if kind in API_TYPES:
            if attribute == "ApiEndpoint":
                return f"wss://{self.api_id}.execute-api.{region}.amazonaws.com"
            if attribute == "ApiId":
                return self.api_id
        if kind == "AWS::IAM::Role" and attribute == "Arn":
            return f"arn:aws:iam::{account}:role/{self.name_of(logical_id)}"
        if kind == "AWS::SNS::Topic" and attribute in ("TopicArn", "TopicName"):
            arn = self.resource_ref(logical_id)
            return arn if attribute == "TopicArn" else self.name_of(logical_id)
        if kind.startswith("AWS::ApiGatewayV2::") and attribute.endswith("Id"):
            return logical_id
        raise Unresolved(f"Fn::GetAtt {logical_id}.{attribute}")
