"""wsgate: real-time WebSocket apps on AWS API Gateway + Lambda + DynamoDB.

Importing this package loads only the sans-I/O core (on first use of a name): no boto3,
no asyncio.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported by ``import wsgate``
if TYPE_CHECKING:
    from typing import Any

    from wsgate.context import LambdaContext, current_context, current_event
    from wsgate.events import (
        Authorizer,
        CallerIdentity,
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

# Loaded on first access (PEP 562), so ``import wsgate.sender`` or ``wsgate.exceptions``
# does not pay for the router and the event types it does not use.
_LAZY = {
    "LambdaContext": "wsgate.context",
    "current_context": "wsgate.context",
    "current_event": "wsgate.context",
    "Authorizer": "wsgate.events",
    "ConnectEvent": "wsgate.events",
    "DisconnectEvent": "wsgate.events",
    "Headers": "wsgate.events",
    "CallerIdentity": "wsgate.events",
    "Identity": "wsgate.events",
    "MessageEvent": "wsgate.events",
    "QueryParams": "wsgate.events",
    "WebSocketEvent": "wsgate.events",
    "parse_event": "wsgate.events",
    "ConnectRejected": "wsgate.exceptions",
    "DuplicateRouteError": "wsgate.exceptions",
    "EventError": "wsgate.exceptions",
    "InvalidBodyError": "wsgate.exceptions",
    "InvalidRouteError": "wsgate.exceptions",
    "RouteError": "wsgate.exceptions",
    "WsgateError": "wsgate.exceptions",
    "Response": "wsgate.responses",
    "accept": "wsgate.responses",
    "reject": "wsgate.responses",
    "Router": "wsgate.router",
    "WebSocketApp": "wsgate.router",
    "evaluate": "wsgate.selection",
    "select_route": "wsgate.selection",
}

__version__ = "0.1.0.dev0"

__all__ = [
    "Authorizer",
    "CallerIdentity",
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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'wsgate' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value  # later accesses skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
