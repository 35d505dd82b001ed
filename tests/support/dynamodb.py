"""Counting the DynamoDB requests a boto3 client sends, for tests that pin request counts."""

from __future__ import annotations

from typing import Any


class RequestLog:
    """Records the DynamoDB operation of every request a client sends (botocore event hook)."""

    def __init__(self, client: Any) -> None:
        self.operations: list[str] = []
        client.meta.events.register("before-call.dynamodb.*", self._record)

    def _record(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)

    def take(self) -> list[str]:
        """The operations since the last ``take``."""
        taken, self.operations = self.operations, []
        return taken
