"""The SAM template of an app with delivery: table, IAM, environment, sweep schedule."""

from __future__ import annotations

from wsgate.delivery import Delivery, MemoryDeliveryStore, enable
from wsgate.deploy.template import build_template
from wsgate.router import WebSocketApp


def _app(with_delivery: bool) -> WebSocketApp:
    app = WebSocketApp()

    @app.route("say")
    def say(event: object) -> None: ...

    if with_delivery:
        enable(app, Delivery(MemoryDeliveryStore(), registry=object(), sender=object()))
    return app


def test_an_app_with_delivery_gets_its_table_schedule_and_permissions() -> None:
    template = build_template(_app(True))
    resources = template["Resources"]
    table = resources["DeliveryTable"]["Properties"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert [g["IndexName"] for g in table["GlobalSecondaryIndexes"]] == ["byDue"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    function = resources["WebSocketFunction"]["Properties"]
    assert function["Environment"]["Variables"]["WSGATE_DELIVERY_STORE"] == {
        "Fn::Sub": "dynamodb://${DeliveryTable}"
    }
    (grant,) = [s for s in function["Policies"][0]["Statement"] if s["Sid"] == "DeliveryTable"]
    assert {"Fn::GetAtt": ["DeliveryTable", "Arn"]} in grant["Resource"]
    assert {"Fn::Sub": "${DeliveryTable.Arn}/index/byDue"} in grant["Resource"]
    sweep = resources["DeliverySweepFunction"]["Properties"]
    assert sweep["Handler"] == "app.sweep"
    assert sweep["Events"]["Sweep"]["Properties"]["Schedule"] == "rate(1 minute)"
    assert sweep["Environment"] == function["Environment"]
    assert {"wsgate.ack", "wsgate.resume"} <= {
        r["Properties"]["RouteKey"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::Route"
    }


def test_an_app_without_delivery_gets_none_of_it() -> None:
    resources = build_template(_app(False))["Resources"]
    assert "DeliveryTable" not in resources and "DeliverySweepFunction" not in resources
    variables = resources["WebSocketFunction"]["Properties"]["Environment"]["Variables"]
    assert "WSGATE_DELIVERY_STORE" not in variables


def test_the_template_grants_every_dynamodb_call_the_store_makes() -> None:
    import re
    from pathlib import Path

    from wsgate.delivery import store_dynamodb
    from wsgate.deploy.resources import DYNAMODB_ACTIONS

    source = Path(store_dynamodb.__file__).read_text()
    setup = {"create_table", "get_waiter", "update_time_to_live"}
    calls = set(re.findall(r"self\.client\.(\w+)", source)) - setup
    assert calls >= {"update_item", "put_item", "query", "batch_write_item"}
    for call in calls:
        action = "dynamodb:" + "".join(part.title() for part in call.split("_"))
        assert action in DYNAMODB_ACTIONS, action
