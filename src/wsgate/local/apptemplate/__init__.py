"""Read the app a SAM/CloudFormation template or a serverless.yml declares.

:func:`load_template_app` returns a :class:`TemplateApp`: the WebSocket API's routes resolved
to their functions, the functions with their environment, the tables and queues to create
locally, the ``$connect`` authorizer, and one phrase per construct not understood.
"""

from __future__ import annotations

from wsgate.local.apptemplate.loader import load_template_app, parse_overrides
from wsgate.local.apptemplate.model import (
    AuthorizerSpec,
    FunctionSpec,
    QueueSpec,
    RouteSpec,
    TableSpec,
    TemplateApp,
)

__all__ = [
    "AuthorizerSpec",
    "FunctionSpec",
    "QueueSpec",
    "RouteSpec",
    "TableSpec",
    "TemplateApp",
    "load_template_app",
    "parse_overrides",
]
