"""The curated top-level API of `wsgate` is pinned."""

from __future__ import annotations

import wsgate

EXPECTED = {
    "Authorizer",
    "ConnectEvent",
    "ConnectRejected",
    "DisconnectEvent",
    "DuplicateRouteError",
    "EventError",
    "Headers",
    "CallerIdentity",
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
}


def test_all_is_pinned() -> None:
    assert set(wsgate.__all__) == EXPECTED
    assert len(wsgate.__all__) == len(EXPECTED)


def test_every_name_in_all_exists() -> None:
    for name in wsgate.__all__:
        assert getattr(wsgate, name) is not None, name


def test_exports_are_the_defining_objects() -> None:
    from wsgate import events, exceptions, router, selection

    assert wsgate.WebSocketApp is router.WebSocketApp
    assert wsgate.parse_event is events.parse_event
    assert wsgate.select_route is selection.select_route
    assert wsgate.WsgateError is exceptions.WsgateError
    assert issubclass(wsgate.WebSocketApp, wsgate.Router)


def test_router_all_is_pinned() -> None:
    from wsgate import router, routes

    assert router.__all__ == ["CallNext", "Middleware", "Route", "Router", "WebSocketApp"]
    for name in router.__all__:
        assert getattr(router, name) is not None, name
    assert router.Router is routes.Router and router.Route is routes.Route
