"""The app the delivery tests serve through the emulator: rooms, tracked sends, acked requests."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from wsgate.aws.credentials import StaticCredentials
from wsgate.delivery import Delivery, DeliveryStore, Undelivered, enable
from wsgate.events import WebSocketEvent
from wsgate.exceptions import MessageRejected
from wsgate.registry.memory import MemoryRegistry
from wsgate.router import WebSocketApp
from wsgate.sender import Sender


@dataclass
class Served:
    """An app and the parts tests look into."""

    app: WebSocketApp
    delivery: Delivery
    registry: MemoryRegistry
    sender: Sender
    undelivered: list[Undelivered] = field(default_factory=list)
    handled: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_app(store: DeliveryStore, **options: Any) -> Served:
    """Build the test app; ``options`` go to :class:`Delivery`."""
    registry = MemoryRegistry()
    sender = Sender(
        registry=registry,
        max_attempts=3,
        backoff_base=0.01,
        backoff_cap=0.05,
        region="us-east-1",
        credentials=StaticCredentials("testing", "testing"),  # the emulator's keys are dummies
    )
    app = WebSocketApp()
    served: Served
    delivery = Delivery(
        store,
        registry=registry,
        sender=sender,
        on_undelivered=lambda record: served.undelivered.append(record),
        **options,
    )
    served = Served(app, delivery, registry, sender)
    enable(app, delivery)

    @app.connect
    def connect(event: WebSocketEvent) -> None:
        registry.store(event.connection_id, user_id=event.query_params.get("user"))

    @app.disconnect
    def disconnect(event: WebSocketEvent) -> None:
        registry.delete(event.connection_id)

    @app.route("join")
    def join(event: WebSocketEvent) -> None:
        room = event.json["room"]
        if room.startswith("private"):
            raise MessageRejected(f"room {room} is private")
        delivery.join(event.connection_id, room)

    @app.route("publish")
    def publish(event: WebSocketEvent) -> None:
        body = event.json
        delivery.send_to_room(body["room"], {"text": body["text"]})

    @app.route("count")
    def count(event: WebSocketEvent) -> None:
        with served.lock:
            served.handled[event.json["key"]] += 1

    return served
