"""The seed's WebSocket interface (INT-11), function for function: ``from wsgate.gateway import``.

Code written for the seed's ``gateway`` module runs with only its import line changed::

    from wsgate.gateway import ws_store_connection, ws_delete_connection, ws_send_message

    def lambda_handler(event, context):
        ...

The functions share one connection registry and one sender, built lazily from the environment
on first use (``WSGATE_TABLE`` or ``WSGATE_REGISTRY``, ``WSGATE_ENDPOINT``, ``WSGATE_TTL``) or
set with :func:`wsgate.config.configure`. Inside a handler run by
:class:`~wsgate.router.WebSocketApp` they also know the event being handled: its management
endpoint (stored with new connections) and, when ``$connect`` has an authorizer, the verified
user id.

Records come back as the seed's dicts: ``connectionId``, ``userId``, ``connectedAt``,
``lastActivity``, ``metadata``, ``expiresAt`` (epoch seconds), plus ``endpoint``, ``rooms`` and
``topics``. Errors are :mod:`wsgate.exceptions` classes (all ``Exception`` subclasses, so the
seed's ``except Exception`` still catches them). See ``docs/gateway.md``.

In ``async def`` handlers, ``await ws_send_message_async(...)`` (and the other ``*_async``
sending and broadcasting functions) does the same without blocking the event loop.
"""

from __future__ import annotations

from wsgate._gateway.asynchronous import (
    ws_broadcast_message_async,
    ws_broadcast_to_all_async,
    ws_broadcast_to_room_async,
    ws_broadcast_to_users_async,
    ws_disconnect_connection_async,
    ws_is_connection_alive_async,
    ws_send_json_async,
    ws_send_message_async,
    ws_send_text_async,
)
from wsgate._gateway.connections import (
    ws_cleanup_stale_connections,
    ws_delete_connection,
    ws_get_active_connections,
    ws_get_all_connections,
    ws_get_connection,
    ws_get_connections_by_room,
    ws_get_connections_by_subscription,
    ws_get_connections_by_user,
    ws_join_room,
    ws_leave_room,
    ws_store_connection,
    ws_subscribe,
    ws_unsubscribe,
    ws_update_connection,
)
from wsgate._gateway.logs import log_debug, log_error, log_info, log_warning
from wsgate._gateway.messaging import (
    ws_broadcast_message,
    ws_broadcast_to_all,
    ws_broadcast_to_room,
    ws_broadcast_to_users,
    ws_disconnect_connection,
    ws_get_management_client,
    ws_is_connection_alive,
    ws_send_json,
    ws_send_message,
    ws_send_text,
)

__all__ = [
    "log_debug",
    "log_error",
    "log_info",
    "log_warning",
    "ws_broadcast_message",
    "ws_broadcast_message_async",
    "ws_broadcast_to_all",
    "ws_broadcast_to_all_async",
    "ws_broadcast_to_room",
    "ws_broadcast_to_room_async",
    "ws_broadcast_to_users",
    "ws_broadcast_to_users_async",
    "ws_cleanup_stale_connections",
    "ws_delete_connection",
    "ws_disconnect_connection",
    "ws_disconnect_connection_async",
    "ws_get_active_connections",
    "ws_get_all_connections",
    "ws_get_connection",
    "ws_get_connections_by_room",
    "ws_get_connections_by_subscription",
    "ws_get_connections_by_user",
    "ws_get_management_client",
    "ws_is_connection_alive",
    "ws_is_connection_alive_async",
    "ws_join_room",
    "ws_leave_room",
    "ws_send_json",
    "ws_send_json_async",
    "ws_send_message",
    "ws_send_message_async",
    "ws_send_text",
    "ws_send_text_async",
    "ws_store_connection",
    "ws_subscribe",
    "ws_unsubscribe",
    "ws_update_connection",
]
