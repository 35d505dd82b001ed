"""The pytest plugin, seen from a user's project: fixtures work with no configuration.

Each test writes a small project (an app and its tests) and runs pytest on it in a fresh
process, so the plugin is found the way a user's pytest finds it: through the ``pytest11``
entry point of the installed package.
"""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

CHAT_APP = """
from wsgate import WebSocketApp, reject
from wsgate.gateway import (
    ws_broadcast_to_room, ws_delete_connection, ws_get_connection, ws_join_room,
    ws_store_connection,
)

app = WebSocketApp()


@app.connect
def connect(event):
    name = event.query_params.get("name")
    if not name:
        return reject(401)
    ws_store_connection(event.connection_id, user_id=name)


@app.disconnect
def disconnect(event):
    ws_delete_connection(event.connection_id)


@app.route("join")
def join(event):
    ws_join_room(event.connection_id, event.json["room"])


@app.route("say")
def say(event):
    me = ws_get_connection(event.connection_id)
    ws_broadcast_to_room(event.json["room"], {"from": me["userId"], "text": event.json["text"]})
"""

TEST_CHAT = """
import pytest
from wsgate.exceptions import ConnectRejected


def test_chat(wsgate_client):
    with wsgate_client.connect("/?name=ann") as ann, wsgate_client.connect("/?name=bob") as bob:
        ann.send_json({"action": "join", "room": "r"})
        bob.send_json({"action": "join", "room": "r"})
        ann.send_json({"action": "say", "room": "r", "text": "hi"})
        assert bob.receive_json() == {"from": "ann", "text": "hi"}
        assert ann.receive_json() == {"from": "ann", "text": "hi"}
    assert wsgate_client.registry.count() == 0


def test_nameless_is_refused(wsgate_client):
    with pytest.raises(ConnectRejected) as refused:
        wsgate_client.connect("/")
    assert refused.value.status_code == 401
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error", *args)


def test_users_chat_test_works_with_no_configuration(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=CHAT_APP, test_chat=TEST_CHAT)
    result = run(pytester)
    result.assert_outcomes(passed=2)


@pytest.mark.slow
def test_app_named_by_ini_option_or_environment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.mkpydir("service")
    (pytester.path / "service" / "handlers.py").write_text(
        CHAT_APP.replace("app = WebSocketApp()", "api = WebSocketApp()").replace("@app.", "@api.")
    )
    pytester.makepyfile(test_chat=TEST_CHAT)
    pytester.makeini("[pytest]\nwsgate_app = service/handlers.py:api\n")
    run(pytester).assert_outcomes(passed=2)

    pytester.makeini("[pytest]\n")
    monkeypatch.setenv("WSGATE_APP", "service.handlers:api")
    run(pytester).assert_outcomes(passed=2)


def test_missing_app_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chat=TEST_CHAT)
    result = run(pytester)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*wsgate: no app to test*override the `wsgate_app` fixture*"])


@pytest.mark.slow
def test_fixtures_for_registries_emulator_and_contract(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=CHAT_APP)
    pytester.makeconftest(
        """
        import pytest
        from app import app


        @pytest.fixture
        def wsgate_app():
            return app
        """
    )
    pytester.makepyfile(
        test_more=textwrap.dedent(
            """
            import pytest
            from wsgate.registry import MemoryRegistry
            from wsgate.testing import wait_for
            from wsgate.testing.contract import RegistryContract


            @pytest.mark.parametrize("wsgate_registry", ["memory", "sqlite"], indirect=True)
            def test_each_backend(wsgate_client, wsgate_registry):
                with wsgate_client.connect("/?name=cy") as cy:
                    assert wsgate_registry.get(cy.connection_id).user_id == "cy"
                assert wsgate_registry.count() == 0


            def test_against_wsgate_serve(wsgate_emulator):
                registry = wsgate_emulator.registry
                with wsgate_emulator.connect("/?name=di") as di:
                    di.send_json({"action": "join", "room": "x"})
                    # Over a real API, messages of one connection are handled concurrently:
                    # wait for the join before speaking.
                    wait_for(lambda: registry.rooms_of(di.connection_id) == {"x"})
                    di.send_json({"action": "say", "room": "x", "text": "over tcp"})
                    assert di.receive_json() == {"from": "di", "text": "over tcp"}
                    assert wsgate_emulator.registry.get(di.connection_id).user_id == "di"


            class TestMyBackend(RegistryContract):
                @pytest.fixture
                def registry(self):
                    with MemoryRegistry() as registry:
                        yield registry
            """
        )
    )
    result = run(pytester, "-v", "-k", "each_backend or wsgate_serve or test_rooms")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines_random(
        [
            "*test_each_backend?memory? PASSED*",
            "*test_each_backend?sqlite? PASSED*",
            "*test_against_wsgate_serve PASSED*",
            "*TestMyBackend::test_rooms PASSED*",
        ]
    )


@pytest.mark.slow
def test_a_plain_lambda_handler_is_an_app_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        app="""
        from wsgate.gateway import ws_send_message


        def lambda_handler(event, context):
            ctx = event["requestContext"]
            if ctx["eventType"] == "MESSAGE":
                ws_send_message(ctx["connectionId"], "echo: " + event["body"])
            return {"statusCode": 200}
        """,
        test_echo="""
        def test_echo(wsgate_client, wsgate_app):
            assert wsgate_app.__name__ == "lambda_handler"
            with wsgate_client.connect("/") as ws:
                ws.send_text("hello")
                assert ws.receive_text() == "echo: hello"
        """,
    )
    run(pytester).assert_outcomes(passed=1)
