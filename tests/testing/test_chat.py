"""The chat example's behaviour, one test body run in process and over a real socket.

Every test here runs twice through the ``chat`` fixture: against the in-process
``WebSocketTestClient`` and against ``wsgate serve examples/chat/app.py`` on a free port (the
``websockets`` client, boto3 for the management API).
"""

from __future__ import annotations

from typing import Any

import pytest

from wsgate.exceptions import ConnectionGoneError, SessionClosed
from wsgate.testing import wait_for


def joined(session: Any, room: str, users: list[str], user: str) -> None:
    """Read the two messages a join produces for the joiner: members, then the notice."""
    assert session.receive_json() == {"type": "members", "room": room, "users": users}
    assert session.receive_json() == {"type": "joined", "room": room, "user": user}


def chat_message(session: Any) -> dict[str, Any]:
    """Read one room message and acknowledge it, as the chat page's client does.

    Room messages go out with acknowledged delivery (``wsgate.delivery``): an unacked one is
    redelivered after a few seconds, which a slow test run would otherwise see.
    """
    message: dict[str, Any] = session.receive_json()
    assert message["type"] == "message", message
    tracking = message["wsgate"]
    session.send_json({"action": "wsgate.ack", "acks": {tracking["stream"]: tracking["seq"]}})
    return message


def test_join_message_leave(chat: Any) -> None:
    with chat.connect("/?name=ann") as ann, chat.connect("/?name=bob") as bob:
        ann.send_json({"action": "join", "room": "lobby"})
        joined(ann, "lobby", ["ann"], "ann")
        bob.send_json({"action": "join", "room": "lobby"})
        joined(bob, "lobby", ["ann", "bob"], "bob")
        assert ann.receive_json() == {"type": "joined", "room": "lobby", "user": "bob"}

        ann.send_json({"action": "sendMessage", "room": "lobby", "text": "hi bob"})
        for session in (ann, bob):
            message = chat_message(session)
            assert (message["room"], message["user"], message["text"]) == ("lobby", "ann", "hi bob")

        bob.send_json({"action": "leave", "room": "lobby"})
        assert bob.receive_json() == {"type": "left", "room": "lobby", "user": "you"}
        assert ann.receive_json() == {"type": "left", "room": "lobby", "user": "bob"}

        ann.send_json({"action": "sendMessage", "room": "lobby", "text": "anyone?"})
        assert chat_message(ann)["text"] == "anyone?"
        bob.send_json({"action": "whoami"})  # bob left: his next message is this answer
        assert bob.receive_json() == {
            "type": "me",
            "connectionId": bob.connection_id,
            "user": "bob",
        }


def test_closing_a_member_tells_the_room_and_cleans_the_registry(chat: Any) -> None:
    with chat.connect("/?name=ann") as ann:
        ann.send_json({"action": "join", "room": "ops"})
        joined(ann, "ops", ["ann"], "ann")
        bob = chat.connect("/?name=bob")
        bob.send_json({"action": "join", "room": "ops"})
        joined(bob, "ops", ["ann", "bob"], "bob")
        assert ann.receive_json()["user"] == "bob"
        assert chat.registry.count() == 2

        bob.close(1001)
        assert ann.receive_json() == {"type": "left", "room": "ops", "user": "bob"}
        assert [c.connection_id for c in chat.registry.room_members("ops")] == [ann.connection_id]
        with pytest.raises(SessionClosed) as closed:
            bob.send_json({"action": "whoami"})
        assert closed.value.code == 1001
    wait_for(lambda: chat.registry.count() == 0)


def test_two_way_route_answers_and_default_route_explains(chat: Any) -> None:
    with chat.connect("/?name=cy") as cy:
        cy.send_json({"action": "whoami"})
        assert cy.receive_json() == {"type": "me", "connectionId": cy.connection_id, "user": "cy"}
        cy.send_json({"action": "dance"})
        assert "unknown action" in cy.receive_json()["error"]
        cy.send_text("not json at all")
        assert "unknown action" in cy.receive_json()["error"]
        cy.send_json({"action": "sendMessage", "room": "lobby", "text": "x"})
        assert cy.receive_json() == {"type": "error", "error": "join lobby first"}
        cy.send_json({"action": "join", "room": "no spaces"})
        assert "room must be" in cy.receive_json()["error"]


def test_set_name_and_server_push(chat: Any) -> None:
    with chat.connect("/") as anon:
        anon.send_json({"action": "setName", "name": "dee"})
        assert anon.receive_json() == {"type": "name", "name": "dee"}
        assert chat.registry.get(anon.connection_id).user_id == "dee"
        chat.send(anon.connection_id, {"type": "notice", "text": "maintenance at noon"})
        assert anon.receive_json() == {"type": "notice", "text": "maintenance at noon"}
        gone = anon.connection_id
    wait_for(lambda: chat.registry.get(gone) is None)
    with pytest.raises(ConnectionGoneError):
        chat.send(gone, "anyone there?")


def test_server_side_disconnect_runs_disconnect(chat: Any) -> None:
    with chat.connect("/?name=eve") as eve, chat.connect("/?name=fay") as fay:
        for session, users in ((eve, ["eve"]), (fay, ["eve", "fay"])):
            session.send_json({"action": "join", "room": "r1"})
            joined(session, "r1", users, users[-1])
        assert eve.receive_json()["user"] == "fay"
        chat.disconnect(fay.connection_id)
        with pytest.raises(SessionClosed) as closed:
            fay.receive_text()
        assert closed.value.code == 1000
        assert eve.receive_json() == {"type": "left", "room": "r1", "user": "fay"}


@pytest.mark.dynamodb
@pytest.mark.parametrize("wsgate_registry", ["dynalite", "moto"], indirect=True)
def test_chat_on_dynamodb_registries(wsgate_client: Any, wsgate_registry: Any) -> None:
    from wsgate.delivery import store_for_registry

    # The chat app's acknowledged delivery keeps its state in a table beside the registry's.
    store_for_registry(wsgate_registry).create_table()
    with wsgate_client.connect("/?name=ann") as ann, wsgate_client.connect("/?name=bob") as bob:
        for session, users in ((ann, ["ann"]), (bob, ["ann", "bob"])):
            session.send_json({"action": "join", "room": "dyn"})
            joined(session, "dyn", users, users[-1])
        assert ann.receive_json()["user"] == "bob"
        bob.send_json({"action": "sendMessage", "room": "dyn", "text": "stored in DynamoDB"})
        assert chat_message(ann)["text"] == chat_message(bob)["text"] == "stored in DynamoDB"
        assert {c.user_id for c in wsgate_registry.room_members("dyn")} == {"ann", "bob"}
    assert wsgate_registry.count() == 0
