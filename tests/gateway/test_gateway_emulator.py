"""The seed's patterns end to end: real WebSocket clients, the emulator (``wsgate serve``) in
front of the seed's own handlers, the registry on SQLite and DynamoDB (dynalite).

The app is the seed's Pattern 1, 2 and 3 ``lambda_handler`` functions, run by the emulator as a
plain Lambda function; the rules, patterns and use cases that send are called from the test (as
a scheduled job or another Lambda would), and what they send is read by the clients.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from gateway_seed import run_example
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from support import ThreadedEmulator, wait_until
from wsgate import config
from wsgate.gateway import (
    ws_disconnect_connection,
    ws_get_connection,
    ws_get_connections_by_user,
    ws_join_room,
    ws_store_connection,
    ws_subscribe,
)
from wsgate.local import EmulatorConfig
from wsgate.local.invoke import AppSpec
from wsgate.local.server import Emulator
from wsgate.registry.base import ConnectionRegistry


def seed_handler() -> Callable[[dict[str, Any], Any], Any]:
    """One Lambda function made of the seed's Pattern 1, 2 and 3 handlers, unmodified."""
    on_connect = run_example("pattern1_connect")["lambda_handler"]
    message = run_example("pattern2_message")
    message["process_message"] = lambda body: {"echo": body}
    on_disconnect = run_example("pattern3_disconnect")["lambda_handler"]

    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        for handler in (on_connect, message["lambda_handler"], on_disconnect):
            response = handler(event, context)
            if response is not None:
                return response
        return {"statusCode": 200}

    return lambda_handler


class Clients:
    """Real WebSocket clients of the emulator, each known by the user id it connects with."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.stack = contextlib.ExitStack()

    def connect(self, user_id: str) -> tuple[ClientConnection, str]:
        """Connect as ``user_id``; return the client and the id its ``$connect`` stored."""
        known = {c["connectionId"] for c in ws_get_connections_by_user(user_id)}
        client = self.stack.enter_context(
            connect(
                f"{self.emulator.ws_url}?userId={user_id}",
                user_agent_header="seed-client/1.0",
                open_timeout=10,
            )
        )
        [cid] = wait_until(
            lambda: [
                c["connectionId"]
                for c in ws_get_connections_by_user(user_id)
                if c["connectionId"] not in known
            ],
            message=f"the $connect of {user_id}",
        )
        return client, cid

    def close_all(self) -> None:
        self.stack.close()


@pytest.fixture
def emulator(registry: ConnectionRegistry) -> Iterator[Emulator]:
    emulator = Emulator(
        AppSpec.from_object(seed_handler()),
        EmulatorConfig(port=0, stage="seed", dashboard=False),
        configure_environment=False,  # the test configures wsgate itself, not os.environ
    )
    running = ThreadedEmulator(emulator, name="gateway-emulator")
    config.configure(registry=registry, endpoint=emulator.endpoint)
    try:
        yield emulator
    finally:
        running.stop()


@pytest.fixture
def clients(emulator: Emulator) -> Iterator[Clients]:
    clients = Clients(emulator)
    yield clients
    clients.close_all()


def recv_json(client: ClientConnection) -> Any:
    import json

    return json.loads(client.recv(timeout=10))


# --- patterns 1, 2, 3: the app's own handlers ---------------------------------------------------


def test_connect_message_disconnect(clients: Clients) -> None:
    client, cid = clients.connect("alice")
    record = ws_get_connection(cid)
    assert record is not None
    assert record["userId"] == "alice"
    assert record["metadata"]["userAgent"] == "seed-client/1.0"
    assert record["endpoint"] == clients.emulator.endpoint

    client.send('{"action": "chat", "text": "hi"}')
    assert recv_json(client) == {"echo": {"action": "chat", "text": "hi"}}

    client.close()
    wait_until(lambda: ws_get_connection(cid) is None, message="Pattern 3's cleanup")


# --- rules --------------------------------------------------------------------------------------


def test_rule4_send_notification(clients: Clients) -> None:
    send_notification = run_example("rule4_post_to_connection")["send_notification"]
    client, cid = clients.connect("bob")
    assert send_notification(cid, "your export is ready") is True
    assert recv_json(client) == {"type": "notification", "message": "your export is ready"}

    # A record whose client never existed on this API: the emulator answers 410 like AWS.
    ws_store_connection("StaleStaleStale=")
    assert send_notification("StaleStaleStale=", "hello?") is False
    assert ws_get_connection("StaleStaleStale=") is None


def test_rule5_broadcast_to_all(clients: Clients) -> None:
    broadcast_to_all = run_example("rule5_broadcast_efficiently")["broadcast_to_all"]
    connected = [clients.connect(f"user{i}")[0] for i in range(3)]
    ws_store_connection("GhostGhostGhost=")  # its $disconnect never ran

    broadcast_to_all({"type": "announcement"})

    for client in connected:
        assert recv_json(client) == {"type": "announcement"}
    assert ws_get_connection("GhostGhostGhost=") is None


# --- patterns 4, 5 ------------------------------------------------------------------------------


def test_pattern4_system_notification(clients: Clients) -> None:
    send_system_notification = run_example("pattern4_broadcast")["send_system_notification"]
    connected = [clients.connect(f"viewer{i}")[0] for i in range(3)]
    send_system_notification("restarting in 5 minutes")
    for client in connected:
        message = recv_json(client)
        assert message["type"] == "system_notification"
        assert message["message"] == "restarting in 5 minutes"


def test_pattern5_notify_user_on_every_device(clients: Clients) -> None:
    notify_user = run_example("pattern5_send_to_user")["notify_user"]
    phone, _ = clients.connect("carol")
    laptop, _ = clients.connect("carol")
    other, _ = clients.connect("dave")

    assert notify_user("carol", {"type": "dm", "text": "lunch?"}) is True

    assert recv_json(phone) == {"type": "dm", "text": "lunch?"}
    assert recv_json(laptop) == {"type": "dm", "text": "lunch?"}
    # dave got nothing: the first message he receives is the one sent to him afterwards.
    notify_user("dave", {"marker": True})
    assert recv_json(other) == {"marker": True}


# --- common use cases ---------------------------------------------------------------------------


def test_use_case_chat_room(clients: Clients) -> None:
    alice, alice_id = clients.connect("room-alice")
    bob, bob_id = clients.connect("room-bob")
    carol, carol_id = clients.connect("room-carol")
    ws_join_room(alice_id, "general")
    ws_join_room(bob_id, "general")
    ws_join_room(carol_id, "random")

    run_example("usecase_chat", room_id="general", chat_message={"from": "alice", "text": "yo"})
    run_example("usecase_chat", room_id="random", chat_message={"from": "carol", "text": "hm"})

    assert recv_json(alice) == {"from": "alice", "text": "yo"}
    assert recv_json(bob) == {"from": "alice", "text": "yo"}
    assert recv_json(carol) == {"from": "carol", "text": "hm"}


def test_use_case_live_updates_and_notifications(clients: Clients) -> None:
    watcher, watcher_id = clients.connect("watcher")
    ws_subscribe(watcher_id, "order:42")
    run_example("usecase_live_updates", data_id="order:42", data_update={"status": "shipped"})
    assert recv_json(watcher) == {"status": "shipped"}

    run_example("usecase_notifications", user_id="watcher", notification={"type": "ping"})
    assert recv_json(watcher) == {"type": "ping"}


# --- management API -----------------------------------------------------------------------------


def test_disconnect_connection_closes_the_client(clients: Clients) -> None:
    client, cid = clients.connect("kicked")
    assert ws_disconnect_connection(cid) is True
    with pytest.raises(ConnectionClosed) as closed:
        client.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    # API Gateway then ran $disconnect: the seed's Pattern 3 removed the record.
    wait_until(lambda: ws_get_connection(cid) is None, message="$disconnect cleanup")
    assert ws_disconnect_connection(cid) is False
