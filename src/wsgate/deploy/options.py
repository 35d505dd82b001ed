"""What the template generator reads from an app, and the choices the app does not make."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from wsgate.exceptions import ConfigurationError

__all__ = ["AppDescription", "TemplateOptions"]

_STAGE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


class AppDescription(Protocol):
    """What the generator reads from an app (a ``WebSocketApp`` has all of it).

    An optional ``authorizer_config`` with ``identity_source_expressions`` adds the
    ``$connect`` authorizer; an optional ``name`` names the API.
    """

    @property
    def route_keys(self) -> Sequence[str]: ...

    @property
    def two_way_route_keys(self) -> Sequence[str]: ...

    @property
    def route_selection_expression(self) -> str: ...


@dataclass(frozen=True, slots=True)
class TemplateOptions:
    """Choices the app does not make.

    Attributes:
        stage: The API stage name (``prod``).
        table_name: A fixed table name; ``None`` lets CloudFormation name it.
        memory: Function memory in MB (128-10240).
        timeout: Function timeout in seconds (1-900); API Gateway waits at most 29 s.
        code_uri: The function's code folder, relative to the template.
        handler: The Lambda handler, ``module.attribute`` (``app.app``).
        runtime: The Lambda Python runtime.
        architecture: ``arm64`` or ``x86_64``.
        api_name: The API's name; default: the app's ``name``, else the stack name.
        metrics_namespace: The EMF namespace the function writes to.
        fanout: Add the hand-off to worker functions (``wsgate.fanout``): a FIFO queue, its
            dead-letter queue, the worker function and its event source mapping.
        fanout_handler: The worker's Lambda handler (``wsgate.fanout.worker``, or your
            module's ``handler = wsgate.fanout.worker``).
        fanout_concurrency: Most worker functions running at once (2-1000).
    """

    stage: str = "prod"
    table_name: str | None = None
    memory: int = 256
    timeout: int = 30
    code_uri: str = "."
    handler: str = "app.app"
    runtime: str = "python3.12"
    architecture: str = "arm64"
    api_name: str | None = None
    metrics_namespace: str = "wsgate"
    fanout: bool = False
    fanout_handler: str = "wsgate.fanout.worker"
    fanout_concurrency: int = 10

    def check(self) -> None:
        """Raise :class:`ConfigurationError` for a value AWS would refuse."""
        if not _STAGE.match(self.stage):
            raise ConfigurationError(f"stage name {self.stage!r}: use 1-128 of A-Z a-z 0-9 _ -")
        if self.table_name is not None and not _TABLE.match(self.table_name):
            raise ConfigurationError(f"table name {self.table_name!r}: 3-255 of A-Z a-z 0-9 _ . -")
        if not 128 <= self.memory <= 10240:
            raise ConfigurationError(f"memory {self.memory} MB: must be 128-10240")
        if not 1 <= self.timeout <= 900:
            raise ConfigurationError(f"timeout {self.timeout} s: must be 1-900")
        if self.architecture not in ("arm64", "x86_64"):
            raise ConfigurationError(f"architecture {self.architecture!r}: arm64 or x86_64")
        if not 2 <= self.fanout_concurrency <= 1000:
            raise ConfigurationError(
                f"fan-out concurrency {self.fanout_concurrency}: must be 2-1000"
            )
        if "." not in self.fanout_handler:
            raise ConfigurationError(f"fan-out handler {self.fanout_handler!r}: module.attribute")
        if "." not in self.handler:
            raise ConfigurationError(f"handler {self.handler!r}: expected module.attribute")
