"""The synchronous :class:`Sender`: what handlers call to push messages to connections."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterable

from wsgate.aws.credentials import Credentials, StaticCredentials
from wsgate.aws.retry import RetryPolicy
from wsgate.exceptions import (
    ConfigurationError,
    ConnectionGoneError,
    InvalidConnectionIdError,
    PayloadTooLargeError,
    SendError,
)
from wsgate.sender.broadcast import BroadcastResult, plan
from wsgate.sender.endpoint import resolve_endpoint
from wsgate.sender.http_transport import HttpTransport
from wsgate.sender.transport import MAX_PAYLOAD_BYTES, ConnectionInfo

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    import logging
    import ssl
    from typing import Any

    from wsgate.sender.protocols import CredentialsProvider, SynchronousTransport, Transport

__all__ = ["Sender", "check_connection_id", "encode_payload"]


def _logger() -> logging.Logger:
    # logging costs ~15 ms to import on a small Lambda: loaded only when there is
    # something to log (a program that set up logging has it loaded already).
    import logging

    return logging.getLogger("wsgate.sender")


_default_transport: Transport | None = None
_default_lock = threading.Lock()
PRUNE_BATCH = 100


def _shared_transport() -> Transport:
    # One transport per process, so keep-alive connections survive across Sender objects
    # and warm invocations.
    global _default_transport
    if _default_transport is None:
        with _default_lock:
            if _default_transport is None:
                _default_transport = HttpTransport()
    return _default_transport


def encode_payload(data: Any) -> bytes:
    """The bytes to send: bytes as is, ``str`` as UTF-8, any other JSON value as compact JSON.

    Raises:
        TypeError: ``data`` is not JSON-serialisable (nothing is sent).
    """
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, bytearray | memoryview):
        return bytes(data)
    try:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"cannot send {type(data).__name__}: pass bytes, str or a JSON-serialisable value"
        ) from exc
    return text.encode("utf-8")


def check_connection_id(connection_id: Any) -> str:
    """``connection_id`` if it is a non-empty string.

    Raises:
        InvalidConnectionIdError: ``None``, empty, or not a string (before any request).
    """
    if isinstance(connection_id, str) and connection_id:
        return connection_id
    raise InvalidConnectionIdError(
        repr(connection_id)[:80], None, "a connection id must be a non-empty string"
    )


class Sender:
    """Sends to WebSocket connections through the API Gateway Management API.

    Create one per process (module level) and reuse it: the keep-alive connections are kept
    across warm invocations. Thread-safe: with the default transport each call runs in the
    calling thread (no event loop); async transports run on one background loop.

    Args:
        endpoint: The management endpoint; else ``WSGATE_ENDPOINT``, the endpoint stored
            with each connection, or the current event's (in that order).
        transport: ``None``/``"http"`` (the stdlib transport), ``"boto3"``, or any
            :class:`~wsgate.sender.transport.Transport`.
        registry: Anything with ``delete_many(ids)``: gone connections are pruned through it.
            The ``broadcast_to_*`` helpers also read recipients from it.
        max_concurrency: Requests in flight at once during a broadcast.
        max_attempts: Attempts per call (the first included) for 429, 5xx and network errors.
        deadline: ``None`` (the current Lambda context's remaining time, if any), a budget in
            seconds per call, or a Lambda context (``get_remaining_time_in_millis()``).
        region: Signing region (default: from the endpoint's host name or ``AWS_REGION``).
        credentials: A ``Credentials``, a provider with ``get()``, or ``None`` for Lambda's
            environment then botocore's chain.
        timeout: Seconds per attempt (stdlib and boto3 transports).
        backoff_base: First retry waits up to this many seconds (full jitter, doubling).
        backoff_cap: No retry waits longer than this.
        deadline_margin: Seconds kept free before a Lambda deadline.
        prune_gone: Delete a connection from ``registry`` when a send finds it gone.
        ssl_context: TLS settings for the stdlib transport.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        transport: Transport | str | None = None,
        registry: Any = None,
        max_concurrency: int = 256,
        max_attempts: int = 5,
        deadline: Any = None,
        region: str | None = None,
        credentials: Credentials | CredentialsProvider | None = None,
        timeout: float = 10.0,
        backoff_base: float = 0.05,
        backoff_cap: float = 2.0,
        deadline_margin: float = 0.5,
        prune_gone: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.endpoint = endpoint
        self.registry = registry
        self.max_concurrency = max_concurrency
        self.policy = RetryPolicy(max_attempts, backoff_base, backoff_cap)
        self.deadline = deadline
        self.deadline_margin = deadline_margin
        self.prune_gone = prune_gone
        provider: CredentialsProvider | None
        if isinstance(credentials, Credentials):
            provider = StaticCredentials(
                credentials.access_key, credentials.secret_key, credentials.token
            )
        else:
            provider = credentials
        self.transport = self._make_transport(
            transport, region, provider, timeout, ssl_context, max_concurrency
        )

    @property
    def transport(self) -> Transport:
        """The transport; assigning one also picks its engine (by its ``synchronous``
        capability)."""
        return self._transport

    @transport.setter
    def transport(self, value: Transport) -> None:
        self._transport = value
        self._engine = _engine_for(value)

    @staticmethod
    def _make_transport(
        transport: Transport | str | None,
        region: str | None,
        credentials: CredentialsProvider | None,
        timeout: float,
        ssl_context: ssl.SSLContext | None,
        max_concurrency: int,
    ) -> Transport:
        if transport is None or transport in ("http", "fast"):
            defaults = region is None and credentials is None and ssl_context is None
            if defaults and timeout == 10.0:
                return _shared_transport()
            return HttpTransport(
                region=region, credentials=credentials, ssl_context=ssl_context, timeout=timeout
            )
        if transport == "boto3":
            from wsgate.sender.boto3 import Boto3Transport

            return Boto3Transport(
                region=region,
                credentials=credentials,
                timeout=timeout,
                max_workers=min(max_concurrency, 64),
            )
        if isinstance(transport, str):
            raise ConfigurationError(f"unknown transport {transport!r}: use 'http' or 'boto3'")
        return transport

    # --- deadlines ---------------------------------------------------------------------------

    def _deadline(self) -> float | None:
        """Absolute ``time.monotonic()`` deadline for one call, or ``None``."""
        source = self.deadline
        if source is None:
            try:
                from wsgate.context import current_context
            except ImportError:
                return None
            source = current_context()
            if getattr(source, "get_remaining_time_in_millis", None) is None:
                return None  # no handler running, or a context that is not Lambda's
        if isinstance(source, int | float):
            return time.monotonic() + float(source)
        remaining = getattr(source, "get_remaining_time_in_millis", None)
        if remaining is None:
            raise ConfigurationError("deadline must be seconds or a Lambda context")
        seconds = float(remaining()) / 1000.0
        return time.monotonic() + max(0.0, seconds - self.deadline_margin)

    def _hard_stop(self, deadline: float | None) -> float | None:
        # The retry layer stops at the deadline; this hard stop only catches an attempt still
        # in flight, using half of the margin kept free before the Lambda timeout.
        return None if deadline is None else deadline + self.deadline_margin / 2

    def _endpoint(self, connection_id: str) -> str:
        stored = None
        if self.endpoint or os.environ.get("WSGATE_ENDPOINT"):
            return resolve_endpoint(self.endpoint)
        if self.registry is not None:
            get = getattr(self.registry, "get", None)
            try:
                record = get(connection_id) if get is not None else None
            except Exception as exc:  # the event may still name the endpoint: carry on
                _logger().warning("registry lookup for %r failed: %s", connection_id, exc)
                record = None
            stored = getattr(record, "endpoint", None)
        return resolve_endpoint(self.endpoint, stored)

    def _prune(self, ids: list[str]) -> int:
        if self.registry is None or not self.prune_gone or not ids:
            return 0
        removed = 0
        for start in range(0, len(ids), PRUNE_BATCH):
            batch = ids[start : start + PRUNE_BATCH]
            count = self.registry.delete_many(batch)
            removed += count if isinstance(count, int) else len(batch)
        return removed

    # --- single connection -------------------------------------------------------------------

    def send(self, connection_id: str, data: Any) -> None:
        """Sends one message: bytes raw, ``str`` as UTF-8, any other JSON value (dict, list,
        number, bool, ``None``) as compact JSON — the types ``ws_send_message`` accepts.

        Raises:
            InvalidConnectionIdError: ``connection_id`` is ``None``, empty or not a string
                (no request made).
            PayloadTooLargeError: Over 131,072 bytes (no request made).
            ConnectionGoneError: 410; also pruned from ``registry`` when one is set.
            ForbiddenError: 403 (wrong endpoint/stage or IAM); never prunes.
            ThrottledError, ServerError, TransportError: Still failing after the retries.
            ConfigurationError: No endpoint can be resolved.
            TypeError: ``data`` is not JSON-serialisable (no request made).
        """
        connection_id = check_connection_id(connection_id)
        body = encode_payload(data)
        if len(body) > MAX_PAYLOAD_BYTES:
            too_large = PayloadTooLargeError(
                connection_id, 413, f"{len(body)} bytes > {MAX_PAYLOAD_BYTES}"
            )
            _observe_send(too_large)
            raise too_large
        endpoint = self._endpoint(connection_id)
        deadline = self._deadline()
        try:
            self._engine.call(
                "POST",
                endpoint,
                connection_id,
                body,
                self.policy,
                deadline,
                self._hard_stop(deadline),
            )
        except ConnectionGoneError as exc:
            pruned, _ = self._prune_quietly([connection_id])
            _observe_send(exc, pruned)
            raise
        except SendError as exc:
            _observe_send(exc)
            raise
        _observe_send(None)

    def send_text(self, connection_id: str, text: str) -> None:
        """Sends ``text`` as UTF-8. Raises as :meth:`send`."""
        self.send(connection_id, text.encode("utf-8"))

    def send_json(self, connection_id: str, value: Any) -> None:
        """Sends any JSON-serialisable value as compact JSON. Raises as :meth:`send`."""
        body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        self.send(connection_id, body)

    def send_bytes(self, connection_id: str, data: bytes) -> None:
        """Sends raw bytes. Raises as :meth:`send`."""
        self.send(connection_id, bytes(data))

    def close(self, connection_id: str) -> None:
        """Disconnects a client (DeleteConnection; it sees close code 1000).

        Raises:
            ConnectionGoneError: It was already gone. Other errors as :meth:`send`.
        """
        connection_id = check_connection_id(connection_id)
        endpoint = self._endpoint(connection_id)
        deadline = self._deadline()
        stop = self._hard_stop(deadline)
        self._engine.call("DELETE", endpoint, connection_id, b"", self.policy, deadline, stop)

    def info(self, connection_id: str) -> ConnectionInfo:
        """Describes a live connection (GetConnection).

        Raises:
            ConnectionGoneError: No such live connection. Other errors as :meth:`send`.
        """
        connection_id = check_connection_id(connection_id)
        endpoint = self._endpoint(connection_id)
        deadline = self._deadline()
        stop = self._hard_stop(deadline)
        return self._engine.get_info(endpoint, connection_id, self.policy, deadline, stop)

    def is_alive(self, connection_id: str) -> bool:
        """``True`` if GetConnection finds the connection, ``False`` on 410.

        Raises:
            SendError: Any other failure (403, throttling after retries, network).
        """
        try:
            self.info(connection_id)
        except ConnectionGoneError:
            return False
        return True

    def _prune_quietly(self, ids: list[str]) -> tuple[int, str | None]:
        try:
            return self._prune(ids), None
        except Exception as exc:  # pruning is housekeeping: never fail the send for it
            _logger().warning(
                "could not prune %d gone connections from the registry (%s: %s); ids: %s",
                len(ids),
                type(exc).__name__,
                exc,
                describe_ids(ids),
            )
            return 0, f"{type(exc).__name__}: {exc}"

    # --- many connections --------------------------------------------------------------------

    def broadcast(
        self, recipients: Iterable[Any], data: Any, *, exclude: Iterable[str] = ()
    ) -> BroadcastResult:
        """Sends one message to many connections; never raises for a partial failure.

        Args:
            recipients: Connection ids, ``Connection`` records, or dicts with
                ``connectionId`` (each may carry its own ``endpoint``). Duplicates are sent once.
            data: As for :meth:`send`.
            exclude: Ids to skip (e.g. the sender of a chat message).

        Returns:
            Per-recipient outcomes and a summary; gone ones are pruned from ``registry``.

        Raises:
            PayloadTooLargeError: The payload is over 131,072 bytes (nothing sent;
                ``connection_id`` is ``"*"``).
            ConfigurationError: No endpoint can be resolved for some recipient.
            TypeError: ``data`` is of an unsupported type.
        """
        body = _broadcast_body(data)
        started = time.monotonic()
        work, invalid = plan(
            recipients, lambda stored: resolve_endpoint(self.endpoint, stored), exclude
        )
        result = BroadcastResult(failed=dict(invalid))
        if work:
            deadline = self._deadline()
            self._engine.post_many(work, body, self.policy, deadline, self.max_concurrency, result)
        return self._finish(result, started)

    def broadcast_pages(
        self,
        pages: Iterable[Iterable[Any]],
        data: Any,
        *,
        exclude: Iterable[str] = (),
        on_page: Any = None,
    ) -> BroadcastResult:
        """Sends one message to recipients that arrive in pages, posting each page while the
        next one is read (in a background thread): the first sends start after the first page,
        not after the whole lookup.

        Args:
            pages: An iterable of pages of recipients (as for :meth:`broadcast`), e.g.
                ``registry.group_pages("room", name)``. Read lazily, at most two pages ahead.
            data: As for :meth:`send`.
            exclude: Ids to skip. An id in several pages is sent once.
            on_page: Called as ``on_page(result)`` after each page has been posted.

        Returns:
            As :meth:`broadcast`, for every page; gone ones are pruned from ``registry``.

        Raises:
            PayloadTooLargeError, ConfigurationError, TypeError: As :meth:`broadcast`
                (nothing sent).
            RegistryError: Reading a page failed; the pages before it were sent and their
                gone connections pruned.
        """
        from wsgate.sender.stream import stream_pages

        return stream_pages(self, pages, _broadcast_body(data), exclude, on_page)

    def _finish(self, result: BroadcastResult, started: float) -> BroadcastResult:
        """Prunes the gone ones, times, logs and counts a finished broadcast."""
        result.pruned, result.prune_error = self._prune_quietly(result.gone)
        result.duration = time.monotonic() - started
        if result.failed:
            # Once per broadcast, summarised: a 403 from a misconfigured role or endpoint
            # must not pass as silently as a gone connection.
            _logger().warning(
                "broadcast: %d of %d recipients failed: %s",
                len(result.failed),
                result.total,
                result.describe_failures(),
            )
        else:
            logging = sys.modules.get("logging")  # not loaded: nobody set up logging
            if logging is not None and _logger().isEnabledFor(logging.DEBUG):
                _logger().debug("broadcast %s", result.summary())
        from wsgate.observe.metrics import record_broadcast  # metrics: wsgate.observe

        record_broadcast(result)
        return result

    def _registry(self) -> Any:
        if self.registry is None:
            raise ConfigurationError("this Sender has no registry: Sender(registry=...)")
        return self.registry

    def broadcast_all(self, data: Any, *, exclude: Iterable[str] = ()) -> BroadcastResult:
        """Sends to every connection in the registry. Raises as :meth:`broadcast`."""
        return self.broadcast(self._registry().all(), data, exclude=exclude)

    def broadcast_to_users(
        self, user_ids: Iterable[str], data: Any, *, exclude: Iterable[str] = ()
    ) -> BroadcastResult:
        """Sends to every connection of these users. Raises as :meth:`broadcast`."""
        registry = self._registry()
        records = (c for uid in dict.fromkeys(user_ids) for c in registry.by_user(uid))
        return self.broadcast(records, data, exclude=exclude)

    def broadcast_to_room(
        self, room: str, data: Any, *, exclude: Iterable[str] = ()
    ) -> BroadcastResult:
        """Sends to every member of a room, from the ids-only paged lookup, posting each page
        while the next loads. Raises as :meth:`broadcast_pages`."""
        from wsgate.registry.paging import member_pages

        pages = member_pages(self._registry(), "room", room)
        return self.broadcast_pages(pages, data, exclude=exclude)

    def broadcast_to_topic(
        self, topic: str, data: Any, *, exclude: Iterable[str] = ()
    ) -> BroadcastResult:
        """Sends to every subscriber of a topic, as :meth:`broadcast_to_room`."""
        from wsgate.registry.paging import member_pages

        pages = member_pages(self._registry(), "topic", topic)
        return self.broadcast_pages(pages, data, exclude=exclude)

    def shutdown(self) -> None:
        """Closes the transport's idle connections (optional; the process exit does too)."""
        self._engine.close()


def _broadcast_body(data: Any) -> bytes:
    body = encode_payload(data)
    if len(body) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError("*", 413, f"{len(body)} bytes > {MAX_PAYLOAD_BYTES}")
    return body


def describe_ids(ids: list[str], limit: int = 20) -> str:
    """Up to ``limit`` ids for a log line, and how many more there are."""
    shown = ", ".join(repr(cid) for cid in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _engine_for(transport: Any) -> SynchronousTransport:
    """The engine that runs calls on ``transport``: itself when it declares the
    ``synchronous`` capability (:class:`HttpTransport` and its subclasses), else an
    :class:`~wsgate.sender.async_engine.AsyncEngine` on the sender's event loop."""
    if getattr(transport, "synchronous", False) is True:
        engine: SynchronousTransport = transport
        return engine
    from wsgate.sender.async_engine import AsyncEngine

    return AsyncEngine(transport)


def _observe_send(error: SendError | None, pruned: int = 0) -> None:
    """Counts the send in wsgate's metrics (``wsgate.observe``, imported on first use)."""
    from wsgate.observe.metrics import record_send

    record_send(error, pruned=pruned)
