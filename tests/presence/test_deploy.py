"""The SAM template of an app with presence: its routes and a scheduled sweep."""

from __future__ import annotations

from typing import Any

from wsgate.delivery import Delivery, MemoryDeliveryStore
from wsgate.delivery import enable as enable_delivery
from wsgate.deploy.template import build_template
from wsgate.presence import Presence, enable
from wsgate.router import WebSocketApp


def _app(*, delivery: bool, presence: bool) -> WebSocketApp:
    app = WebSocketApp()

    @app.route("say")
    def say(event: object) -> None: ...

    if delivery:
        enable_delivery(app, Delivery(MemoryDeliveryStore(), registry=object(), sender=object()))
    if presence:
        enable(app, Presence(registry=object(), sender=object()))
    return app


def _routes(resources: dict[str, Any]) -> set[str]:
    return {
        r["Properties"]["RouteKey"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }


def test_an_app_with_presence_gets_its_routes_and_a_sweep_schedule() -> None:
    resources = build_template(_app(delivery=False, presence=True))["Resources"]
    assert {"presence.enter", "presence.leave", "presence.update", "presence.heartbeat"} <= (
        _routes(resources)
    )
    sweep = resources["PresenceSweepFunction"]["Properties"]
    assert sweep["Handler"] == "app.sweep"
    assert sweep["Events"]["Sweep"]["Properties"]["Schedule"] == "rate(1 minute)"
    function = resources["WebSocketFunction"]["Properties"]
    assert sweep["Environment"] == function["Environment"]
    assert sweep["Policies"] == function["Policies"]  # the registry table: all it needs


def test_with_delivery_one_sweep_function_runs_both() -> None:
    resources = build_template(_app(delivery=True, presence=True))["Resources"]
    assert "PresenceSweepFunction" not in resources
    sweep = resources["DeliverySweepFunction"]["Properties"]
    assert sweep["Handler"] == "app.sweep"
    assert "presence" in sweep["Description"]


def test_an_app_without_presence_gets_none_of_it() -> None:
    resources = build_template(_app(delivery=True, presence=False))["Resources"]
    assert "PresenceSweepFunction" not in resources
    assert not {r for r in _routes(resources) if r.startswith("presence.")}
    assert "presence" not in resources["DeliverySweepFunction"]["Properties"]["Description"]
