"""The connection table's CloudFormation definition, taken from the DynamoDB registry itself.

The registry (:class:`wsgate.registry.dynamodb.DynamoDBRegistry`) is the single source of truth
for the table's keys, indexes and TTL attribute: its ``create_table`` is what local servers and
tests use. To describe exactly that table in a template, :func:`table_definition` runs
``create_table`` against a recording client that performs no request, and turns the recorded
``CreateTable`` and ``UpdateTimeToLive`` parameters into ``AWS::DynamoDB::Table`` properties
(the property names are the API's). Any change to the registry's table shows up in the next
generated template, with no second copy of the schema to keep in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TableDefinition", "table_definition"]


class _RecordingClient:
    """Answers every DynamoDB call with an empty result and remembers the parameters."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        if operation.startswith("_"):
            raise AttributeError(operation)

        def record(**kwargs: Any) -> dict[str, Any]:
            self.calls.append((operation, kwargs))
            return {}

        return record

    def close(self) -> None:
        """Nothing to close."""


@dataclass(frozen=True, slots=True)
class TableDefinition:
    """The table as CloudFormation properties, plus what IAM needs to know about it.

    Attributes:
        properties: ``AWS::DynamoDB::Table`` properties (without ``TableName``).
        index_names: The global secondary indexes, for index-scoped IAM resources.
        ttl_attribute: The TTL attribute name, or ``None`` when TTL is not enabled.
    """

    properties: dict[str, Any]
    index_names: tuple[str, ...] = field(default=())
    ttl_attribute: str | None = None


def table_definition(layout: Any = None) -> TableDefinition:
    """Describe the registry's connection table (with ``layout``'s attribute/index names).

    Args:
        layout: A :class:`wsgate.registry.dynamodb.TableLayout`; the default layout if omitted.

    Raises:
        ConfigurationError: the registry did not describe a table (an incompatible version).
    """
    from wsgate.exceptions import ConfigurationError
    from wsgate.registry.dynamodb import DynamoDBRegistry

    client = _RecordingClient()
    kwargs: dict[str, Any] = {"client": client}
    if layout is not None:
        kwargs["layout"] = layout
    registry = DynamoDBRegistry("wsgate-template", **kwargs)
    registry.create_table(wait=False, ttl=True)
    calls = dict(client.calls)
    create = calls.get("create_table")
    if not create:
        raise ConfigurationError("the DynamoDB registry did not describe its table")
    properties = {k: v for k, v in create.items() if k != "TableName"}
    ttl_call = calls.get("update_time_to_live", {}).get("TimeToLiveSpecification")
    ttl_attribute = None
    if ttl_call and ttl_call.get("Enabled"):
        ttl_attribute = str(ttl_call["AttributeName"])
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl_attribute, "Enabled": True}
    indexes = tuple(
        str(index["IndexName"])
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes")
        for index in properties.get(key, ())
    )
    return TableDefinition(properties, indexes, ttl_attribute)
