"""CloudWatch alarms of the generated template: errors and throttles, function to table."""

from __future__ import annotations

from typing import Any

__all__ = ["alarm", "alarms"]


def _ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def alarm(description: str, namespace: str, metric: str, dimensions: list[Any]) -> dict[str, Any]:
    """One alarm: the metric's 5-minute sum reached 1; notifies ``AlarmTopicArn`` when set."""
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric,
            "Dimensions": dimensions,
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": {
                "Fn::If": ["HasAlarmTopic", [_ref("AlarmTopicArn")], _ref("AWS::NoValue")]
            },
        },
    }


def alarms(functions: list[str], stage: str) -> dict[str, Any]:
    """Alarms on each function's errors and throttles, the stage's integration and execution
    errors, and the connection table's read and write throttles."""
    resources: dict[str, Any] = {}
    for function in functions:
        dimension = [{"Name": "FunctionName", "Value": _ref(function)}]
        resources[f"{function}ErrorsAlarm"] = alarm(
            f"{function} raised errors", "AWS/Lambda", "Errors", dimension
        )
        resources[f"{function}ThrottlesAlarm"] = alarm(
            f"{function} invocations were throttled", "AWS/Lambda", "Throttles", dimension
        )
    api_dimensions: list[Any] = [
        {"Name": "ApiId", "Value": _ref("WebSocketApi")},
        {"Name": "Stage", "Value": stage},
    ]
    resources["ApiIntegrationErrorsAlarm"] = alarm(
        "API Gateway could not invoke the function or it failed",
        "AWS/ApiGateway",
        "IntegrationError",
        api_dimensions,
    )
    resources["ApiExecutionErrorsAlarm"] = alarm(
        "API Gateway execution errors (includes throttled requests)",
        "AWS/ApiGateway",
        "ExecutionError",
        api_dimensions,
    )
    table_dimension = [{"Name": "TableName", "Value": _ref("ConnectionTable")}]
    for kind in ("Read", "Write"):
        resources[f"ConnectionTable{kind}ThrottlesAlarm"] = alarm(
            f"connection table {kind.lower()}s were throttled",
            "AWS/DynamoDB",
            f"{kind}ThrottleEvents",
            table_dimension,
        )
    return resources
