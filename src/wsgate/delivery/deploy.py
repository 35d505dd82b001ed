"""What a SAM template needs for delivery: the delivery table, its IAM, and the sweep schedule.

:func:`add_delivery_resources` is called by :func:`wsgate.deploy.template.build_template` for an
app that :func:`wsgate.delivery.enable` was applied to. The table's definition is taken from
:meth:`DynamoDBDeliveryStore.create_table` itself (run against a client that only records), so
the template and the code cannot disagree.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["SWEEP_SCHEDULE", "add_delivery_resources", "delivery_table_properties"]

SWEEP_SCHEDULE = "rate(1 minute)"
"""How often the deployed sweep redelivers unacked messages (EventBridge's finest rate)."""


class _Recorder:
    def __init__(self) -> None:
        self.calls: dict[str, dict[str, Any]] = {}

    def __getattr__(self, operation: str) -> Any:
        if operation.startswith("_"):
            raise AttributeError(operation)

        def record(**kwargs: Any) -> dict[str, Any]:
            self.calls[operation] = kwargs
            return {}

        return record


def delivery_table_properties() -> dict[str, Any]:
    """``AWS::DynamoDB::Table`` properties of the delivery table (without ``TableName``)."""
    from wsgate.delivery.store_dynamodb import DynamoDBDeliveryStore

    recorder = _Recorder()
    DynamoDBDeliveryStore("template", client=recorder).create_table(wait=False)  # type: ignore[arg-type]
    properties = {k: v for k, v in recorder.calls["create_table"].items() if k != "TableName"}
    ttl = recorder.calls["update_time_to_live"]["TimeToLiveSpecification"]
    properties["TimeToLiveSpecification"] = ttl
    return properties


def add_delivery_resources(resources: dict[str, Any], *, handler: str) -> None:
    """Add the delivery table and sweep function to a template's ``resources``, in place.

    The ``WebSocketFunction`` gets ``WSGATE_DELIVERY_STORE`` and access to the table; a
    ``DeliverySweepFunction`` with the same code, environment and permissions runs
    ``<module>.sweep`` (expose ``sweep = delivery.scheduled_handler`` in the handler's module)
    on an EventBridge schedule, because Lambda has no timers.

    Args:
        resources: The template's ``Resources`` (must hold ``WebSocketFunction``).
        handler: The app's Lambda handler, ``module.attribute``.
    """
    index_names = [g["IndexName"] for g in delivery_table_properties()["GlobalSecondaryIndexes"]]
    resources["DeliveryTable"] = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": delivery_table_properties(),
    }
    function = resources["WebSocketFunction"]["Properties"]
    function["Environment"]["Variables"]["WSGATE_DELIVERY_STORE"] = {
        "Fn::Sub": "dynamodb://${DeliveryTable}"
    }
    statements = function["Policies"][0]["Statement"]
    table_access = next(s for s in statements if s.get("Sid") == "ConnectionTable")
    statements.append(
        {
            "Sid": "DeliveryTable",
            "Effect": "Allow",
            "Action": list(table_access["Action"]),
            "Resource": [
                {"Fn::GetAtt": ["DeliveryTable", "Arn"]},
                *({"Fn::Sub": "${DeliveryTable.Arn}/index/" + name} for name in index_names),
            ],
        }
    )
    sweep = copy.deepcopy(resources["WebSocketFunction"])
    sweep_properties = sweep["Properties"]
    sweep_properties["Description"] = "wsgate delivery sweep: redeliver unacked messages"
    sweep_properties["Handler"] = handler.rsplit(".", 1)[0] + ".sweep"
    sweep_properties["Events"] = {
        "Sweep": {"Type": "Schedule", "Properties": {"Schedule": SWEEP_SCHEDULE}}
    }
    resources["DeliverySweepFunction"] = sweep
