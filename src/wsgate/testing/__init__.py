"""Testing helpers for wsgate apps: event factories, test clients, registry contract suite.

- :func:`connect_event`, :func:`message_event`, :func:`disconnect_event`,
  :func:`lambda_context` and :class:`ConnectionEvents` build API Gateway's events (stdlib only);
- :class:`WebSocketTestClient` runs an app in process with sessions, a registry and a
  recording ``@connections`` transport;
- :class:`RemoteTestClient` drives a running ``wsgate serve`` over real sockets with the same
  session API (needs the ``local`` extra);
- :class:`RegistryContract` is the test suite every connection registry must pass (needs
  pytest);
- the pytest plugin (:mod:`wsgate.testing.plugin`) provides ``wsgate_app``,
  ``wsgate_client``, ``wsgate_registry`` and ``wsgate_emulator`` fixtures.

Names are imported on first use, so ``import wsgate.testing`` is cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wsgate.testing.client import WebSocketTestClient
    from wsgate.testing.contract import RegistryContract
    from wsgate.testing.factories import (
        ConnectionEvents,
        connect_event,
        disconnect_event,
        lambda_context,
        message_event,
    )
    from wsgate.testing.recording import ManagementCall, RecordingTransport
    from wsgate.testing.remote import EmulatorProcess, RemoteSession, RemoteTestClient, wait_for
    from wsgate.testing.session import WebSocketTestSession

__all__ = [
    "ConnectionEvents",
    "EmulatorProcess",
    "ManagementCall",
    "RecordingTransport",
    "RegistryContract",
    "RemoteSession",
    "RemoteTestClient",
    "WebSocketTestClient",
    "WebSocketTestSession",
    "connect_event",
    "disconnect_event",
    "lambda_context",
    "message_event",
    "wait_for",
]

_HOMES = {
    "ConnectionEvents": "factories",
    "connect_event": "factories",
    "disconnect_event": "factories",
    "lambda_context": "factories",
    "message_event": "factories",
    "WebSocketTestClient": "client",
    "WebSocketTestSession": "session",
    "ManagementCall": "recording",
    "RecordingTransport": "recording",
    "EmulatorProcess": "remote",
    "RemoteSession": "remote",
    "RemoteTestClient": "remote",
    "wait_for": "remote",
    "RegistryContract": "contract",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"wsgate.testing.{home}"), name)
