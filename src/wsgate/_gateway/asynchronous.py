"""``await``-able forms of the sending and broadcasting functions, for ``async def`` handlers.

Each is a thin wrapper: it runs the synchronous function of :mod:`wsgate._gateway.messaging`
in a worker thread (:func:`asyncio.to_thread`, which carries the current event over), so the
handler's event loop stays free while the request is in flight and several sends can be
awaited together (``asyncio.gather``). Arguments, results and errors are exactly those of the
synchronous function of the same name without ``_async``. :mod:`asyncio` is imported on the
first call only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from wsgate._gateway import messaging

__all__ = [
    "ws_broadcast_message_async",
    "ws_broadcast_to_all_async",
    "ws_broadcast_to_room_async",
    "ws_broadcast_to_users_async",
    "ws_disconnect_connection_async",
    "ws_is_connection_alive_async",
    "ws_send_json_async",
    "ws_send_message_async",
    "ws_send_text_async",
]

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    import asyncio

    return await asyncio.to_thread(func, *args)


async def ws_send_message_async(connection_id: str, data: Any) -> None:
    """:func:`~wsgate.gateway.ws_send_message`, awaitable."""
    await _in_thread(messaging.ws_send_message, connection_id, data)


async def ws_send_json_async(connection_id: str, json_data: Any) -> None:
    """:func:`~wsgate.gateway.ws_send_json`, awaitable."""
    await _in_thread(messaging.ws_send_json, connection_id, json_data)


async def ws_send_text_async(connection_id: str, text: str) -> None:
    """:func:`~wsgate.gateway.ws_send_text`, awaitable."""
    await _in_thread(messaging.ws_send_text, connection_id, text)


async def ws_broadcast_message_async(connection_ids: Iterable[Any], data: Any) -> dict[str, bool]:
    """:func:`~wsgate.gateway.ws_broadcast_message`, awaitable."""
    return await _in_thread(messaging.ws_broadcast_message, connection_ids, data)


async def ws_broadcast_to_all_async(data: Any) -> dict[str, bool]:
    """:func:`~wsgate.gateway.ws_broadcast_to_all`, awaitable."""
    return await _in_thread(messaging.ws_broadcast_to_all, data)


async def ws_broadcast_to_room_async(room_id: str, data: Any) -> dict[str, bool]:
    """:func:`~wsgate.gateway.ws_broadcast_to_room`, awaitable."""
    return await _in_thread(messaging.ws_broadcast_to_room, room_id, data)


async def ws_broadcast_to_users_async(user_ids: Iterable[str], data: Any) -> dict[str, bool]:
    """:func:`~wsgate.gateway.ws_broadcast_to_users`, awaitable."""
    return await _in_thread(messaging.ws_broadcast_to_users, user_ids, data)


async def ws_is_connection_alive_async(connection_id: str) -> bool:
    """:func:`~wsgate.gateway.ws_is_connection_alive`, awaitable."""
    return await _in_thread(messaging.ws_is_connection_alive, connection_id)


async def ws_disconnect_connection_async(connection_id: str) -> bool:
    """:func:`~wsgate.gateway.ws_disconnect_connection`, awaitable."""
    return await _in_thread(messaging.ws_disconnect_connection, connection_id)
