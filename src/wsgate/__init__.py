"""wsgate: real-time WebSocket apps on AWS API Gateway + Lambda + DynamoDB.

Importing this package loads only the sans-I/O core: no boto3, no asyncio.
"""

from __future__ import annotations

from wsgate.context import LambdaContext, current_context, current_event
from wsgate.events import (
    Authorizer,
    ConnectEvent,
    DisconnectEvent,
    Headers,
    Identity,
    MessageEvent,
    QueryParams,
    WebSocketEvent,
    parse_event,
)
from wsgate.exceptions import (
    ConnectRejected,
    DuplicateRouteError,
    EventError,
    InvalidBodyError,
    InvalidRouteError,
    RouteError,
    WsgateError,
)
from wsgate.responses import Response, accept, reject
from wsgate.router import Router, WebSocketApp
from wsgate.selection import evaluate, select_route

__version__ = "0.1.0.dev0"

__all__ = [
    "Authorizer",
    "ConnectEvent",
    "ConnectRejected",
    "DisconnectEvent",
    "DuplicateRouteError",
    "EventError",
    "Headers",
    "Identity",
    "InvalidBodyError",
    "InvalidRouteError",
    "LambdaContext",
    "MessageEvent",
    "QueryParams",
    "Response",
    "RouteError",
    "Router",
    "WebSocketApp",
    "WebSocketEvent",
    "WsgateError",
    "__version__",
    "accept",
    "current_context",
    "current_event",
    "evaluate",
    "parse_event",
    "reject",
    "select_route",
]
