"""A checker for CloudWatch Embedded Metric Format documents, written from the published spec.

https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html

The structure is checked with a JSON Schema; the cross-references the schema cannot express
(every metric and dimension named in ``_aws`` is a member at the top level, with the right
type) are checked in code.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

import jsonschema

UNITS = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
]

SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "minimum": 0},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 255},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {
                                            "type": "string",
                                            "minLength": 1,
                                            "maxLength": 1024,
                                        },
                                        "Unit": {"enum": UNITS},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}


def validate(document: dict[str, Any]) -> None:
    """Raise AssertionError (or jsonschema.ValidationError) if ``document`` is not valid EMF."""
    jsonschema.validate(document, SCHEMA)
    # A plausible millisecond timestamp (after 2020), not seconds.
    assert document["_aws"]["Timestamp"] > 1_577_836_800_000, "Timestamp must be epoch ms"
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                value = document.get(name)
                assert isinstance(value, str), f"dimension {name!r} is not a top-level string"
                assert 1 <= len(value) <= 1024, f"dimension {name!r} value length"
        names = [metric["Name"] for metric in directive["Metrics"]]
        assert len(names) == len(set(names)), "a metric is defined twice in one directive"
        for name in names:
            assert name in document, f"metric {name!r} has no top-level member"
            value = document[name]
            if isinstance(value, list):
                assert 1 <= len(value) <= 100, f"metric {name!r} has {len(value)} values"
                assert all(_is_number(v) for v in value), f"metric {name!r}: non-numbers"
            else:
                assert _is_number(value), f"metric {name!r} is not a number"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_lines(text: str) -> list[dict[str, Any]]:
    """Every EMF document in ``text`` (lines that are JSON objects with ``_aws``), validated."""
    documents = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            validate(document)
            documents.append(document)
    return documents


def totals(documents: Iterable[dict[str, Any]], **dimensions: str) -> Counter[str]:
    """Sum each metric over the documents whose dimensions include ``dimensions``."""
    counts: Counter[str] = Counter()
    for document in documents:
        if any(document.get(key) != value for key, value in dimensions.items()):
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                counts[metric["Name"]] += sum(value) if isinstance(value, list) else value
    return counts
