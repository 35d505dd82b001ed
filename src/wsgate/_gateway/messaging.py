"""The seed's sending, broadcasting and Management API functions, over the configured sender.

A send to a connection that is gone (410) removes its record from the registry and raises
:class:`~wsgate.exceptions.ConnectionGoneError`: code written as the seed's Rule 4 (catch,
log, ``ws_delete_connection``) works unchanged, and code that forgets to catch still leaves the
registry clean. Broadcasts never raise for a partial failure: they return ``{id: delivered}``
and prune the gone ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from wsgate import config
from wsgate._gateway.records import recipient_id
from wsgate.exceptions import ConnectionGoneError, RegistryError

TYPE_CHECKING = False  # typing is not imported at run time (a cold start's ms)

if TYPE_CHECKING:
    from typing import Any

    from wsgate.sender import BroadcastResult, Sender

__all__ = [
    "ws_broadcast_message",
    "ws_broadcast_to_all",
    "ws_broadcast_to_room",
    "ws_broadcast_to_users",
    "ws_disconnect_connection",
    "ws_get_management_client",
    "ws_is_connection_alive",
    "ws_send_json",
    "ws_send_message",
    "ws_send_text",
]


def ws_send_message(connection_id: str, data: Any) -> None:
    """Send one message to one connection (PostToConnection; seed Rule 4).

    ``data`` is sent as compact JSON when it is a dict, list or other JSON value, as UTF-8 when
    it is a ``str``, and as is when it is ``bytes``. The endpoint is the configured one, else
    the one stored with the connection, else the event being handled. Throttling and server
    errors are retried with backoff within the Lambda's remaining time.

    Raises:
        ConnectionGoneError: The connection is gone (410). Its record has already been deleted
            from the registry, so catching this and calling ``ws_delete_connection`` (the seed's
            pattern) is harmless but no longer needed.
        PayloadTooLargeError: Over 131,072 bytes; nothing was sent.
        ForbiddenError: 403: wrong endpoint or stage, or missing IAM permission.
        ThrottledError, ServerError, TransportError: Still failing after the retries.
        ConfigurationError: No endpoint or registry can be found.
        InvalidConnectionIdError: ``connection_id`` is ``None`` or empty (no request made).
        TypeError: ``data`` is not JSON-serialisable (no request made).
    """
    sender = config.get_sender()
    try:
        sender.send(connection_id, data)  # Sender.send takes the same payload types
    except ConnectionGoneError:
        _prune(sender, [connection_id])
        raise


def ws_send_json(connection_id: str, json_data: Any) -> None:
    """Send any JSON-serialisable value as compact JSON (a ``str`` becomes a JSON string).

    Raises:
        TypeError: ``json_data`` is not JSON-serialisable; nothing was sent.
        ConnectionGoneError: As :func:`ws_send_message` (the record is pruned).
        SendError: The other failures of :func:`ws_send_message`.
    """
    sender = config.get_sender()
    try:
        sender.send_json(connection_id, json_data)
    except ConnectionGoneError:
        _prune(sender, [connection_id])
        raise


def ws_send_text(connection_id: str, text: str) -> None:
    """Send a text message as is (UTF-8), without JSON encoding.

    Raises:
        TypeError: ``text`` is not a ``str``.
        ConnectionGoneError: As :func:`ws_send_message` (the record is pruned).
        SendError: The other failures of :func:`ws_send_message`.
    """
    if not isinstance(text, str):
        raise TypeError(f"ws_send_text needs a str, got {type(text).__name__}")
    sender = config.get_sender()
    try:
        sender.send_text(connection_id, text)
    except ConnectionGoneError:
        _prune(sender, [connection_id])
        raise


def ws_broadcast_message(connection_ids: Iterable[Any], data: Any) -> dict[str, bool]:
    """Send one message to many connections at once (seed Rule 5).

    Sends run concurrently (bounded), each retried on throttling; one failure never stops the
    others and nothing is raised for a partial failure. Gone connections are deleted from the
    registry.

    Args:
        connection_ids: Connection ids, or the dicts the ``ws_get_*`` functions return, or
            registry records, mixed freely (the seed passes both). Duplicates are sent once.
        data: As for :func:`ws_send_message`.

    Returns:
        ``{connection_id: delivered}`` in the order given: ``False`` for gone connections and
        for those that still failed after the retries. Failures other than gone ones (403
        from IAM or a wrong endpoint, throttling, server errors) are logged once per
        broadcast at WARNING on ``wsgate.sender`` with their causes and a few ids, and
        counted in the metrics; ``config.get_sender().broadcast(...)`` returns the
        :class:`~wsgate.sender.BroadcastResult` with each recipient's error.

    Raises:
        InvalidRecordError: An item is neither an id nor a connection record; nothing was sent.
        PayloadTooLargeError: The message is over 131,072 bytes; nothing was sent.
        ConfigurationError: No endpoint or registry can be found.
    """
    if isinstance(connection_ids, str | Mapping):
        connection_ids = [connection_ids]  # one id or one record, not an iterable of them
    recipients = list(connection_ids)
    ids = [recipient_id(item) for item in recipients]
    if not recipients:
        return {}
    return _broadcast(recipients, ids, data)


def ws_broadcast_to_all(data: Any) -> dict[str, bool]:
    """Send one message to every live connection; see :func:`ws_broadcast_message`."""
    return ws_broadcast_message(list(config.get_registry().all()), data)


def ws_broadcast_to_users(user_ids: Iterable[str], data: Any) -> dict[str, bool]:
    """Send one message to every connection of these users (all their devices and tabs).

    ``user_ids`` may also be a single id. Returns and raises as :func:`ws_broadcast_message`.
    """
    users = [user_ids] if isinstance(user_ids, str) else list(dict.fromkeys(user_ids))
    registry = config.get_registry()
    return ws_broadcast_message([c for user in users for c in registry.by_user(user)], data)


def ws_broadcast_to_room(room_id: str, data: Any) -> dict[str, bool]:
    """Send one message to every member of a room; see :func:`ws_broadcast_message`.

    Reads the room with the ids-only paged lookup (ids and endpoints, a page at a time) and
    posts each page while the next one loads, so sends start after the first page.
    Returns ``{connection_id: delivered}`` in the room's id order.

    Raises:
        RegistryUnavailable: Reading a page failed (the pages before it were sent).
        PayloadTooLargeError, ConfigurationError: As :func:`ws_broadcast_message`.
    """
    from wsgate.registry.paging import member_pages

    pages = member_pages(config.get_registry(), "room", room_id)
    sender = config.get_sender()
    order: list[str] = []

    def ids_of(page: list[Any]) -> list[Any]:
        order.extend(member.connection_id for member in page)
        return page

    result = sender.broadcast_pages((ids_of(page) for page in pages), data)
    return _outcome(sender, result, order)


def ws_is_connection_alive(connection_id: str) -> bool:
    """Ask API Gateway whether a connection is open (GetConnection).

    Returns:
        ``True`` when it is open, ``False`` when it is gone (or, during ``$connect``, not yet
        established). The record is left alone: use ``ws_delete_connection`` to drop it.

    Raises:
        ForbiddenError: 403: wrong endpoint or stage, or missing IAM permission.
        ThrottledError, ServerError, TransportError: Still failing after the retries.
    """
    return config.get_sender().is_alive(connection_id)


def ws_disconnect_connection(connection_id: str) -> bool:
    """Close a client's connection from the server side (DeleteConnection).

    The client sees close code 1000 and API Gateway then runs ``$disconnect``, whose handler
    deletes the record (seed Rule 2), so the record stays readable until then.

    Returns:
        ``True`` when the connection was open and is now closing; ``False`` when it was already
        gone (its record is then deleted here, as no ``$disconnect`` will come).

    Raises:
        ForbiddenError, ThrottledError, ServerError, TransportError: As for a send.
    """
    sender = config.get_sender()
    try:
        sender.close(connection_id)
    except ConnectionGoneError:
        _prune(sender, [connection_id], always=True)
        return False
    return True


def ws_get_management_client() -> Any:
    """The boto3 ``apigatewaymanagementapi`` client for the configured endpoint.

    For calls wsgate does not wrap. Built once per endpoint and cached; boto3 is imported only
    now. The endpoint is the configured one, else the event being handled.

    Raises:
        ConfigurationError: No endpoint is configured and no event is being handled.
        ImportError: boto3 is not installed (``pip install wsgate[aws]``).
    """
    from wsgate.sender.boto3 import get_management_client

    return get_management_client(config.get_endpoint())


# --- helpers ----------------------------------------------------------------------------------


def _broadcast(recipients: list[Any], ids: list[str], data: Any) -> dict[str, bool]:
    sender = config.get_sender()
    return _outcome(sender, sender.broadcast(recipients, data), ids)


def _outcome(sender: Sender, result: BroadcastResult, ids: list[str]) -> dict[str, bool]:
    if result.gone:
        _prune(sender, result.gone)
    delivered = result.to_dict()
    return {cid: delivered.get(cid, False) for cid in dict.fromkeys(ids)}


def _prune(sender: Sender, ids: list[str], *, always: bool = False) -> None:
    """Delete gone connections from the registry unless the sender has done it already."""
    registry = config.get_registry()
    pruned_by_sender = getattr(sender, "registry", None) is registry and getattr(
        sender, "prune_gone", False
    )
    if pruned_by_sender and not always:
        return
    try:
        registry.delete_many(ids)
    except RegistryError as exc:  # housekeeping: never hide the send's own outcome
        shown = ", ".join(repr(cid) for cid in ids[:20])
        more = f" and {len(ids) - 20} more" if len(ids) > 20 else ""
        import logging  # only when something logs: keeps a cold start light

        logging.getLogger("wsgate.gateway").warning(
            "could not prune %d gone connections from the registry (%s: %s); ids: %s%s",
            len(ids),
            type(exc).__name__,
            exc,
            shown,
            more,
        )
