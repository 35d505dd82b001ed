"""``Delivery``: tracked sends, acks, redelivery and resume, over a store, a registry, a sender.

The server side of the delivery protocol (:mod:`wsgate.delivery.protocol`). Every method is
synchronous and safe to call from several threads; state lives in the
:class:`~wsgate.delivery.store.DeliveryStore`, so any Lambda invocation can continue what
another began.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from wsgate.delivery import protocol
from wsgate.delivery.posting import frame_of, id_of, post_many, to_json, unique
from wsgate.delivery.results import SweepResult, TrackedSend, Undelivered, UndeliveredReason
from wsgate.delivery.store import BufferedMessage, DeliveryStore, Pending, StreamSlice
from wsgate.exceptions import (
    ConnectionGoneError,
    PayloadTooLargeError,
    RegistryError,
    SendError,
)

__all__ = ["Delivery"]

logger = logging.getLogger("wsgate.delivery")

MAX_FRAME_BYTES = 131_072
_IN_FLIGHT_RETRIES = 3  # re-reads of a resume whose next message may still be being buffered
_IN_FLIGHT_WAIT = 0.05  # seconds between them
_IN_FLIGHT_GRACE = 2.0  # a hole before a message younger than this may still be filling
_PENDING_GRACE = 86_400  # seconds a pending record outlives its message (TTL safety net)


class Delivery:
    """Acknowledged delivery and resume for one app.

    Args:
        store: Where sequences, the replay buffer, pending acks and ack ids live; default
            ``WSGATE_DELIVERY_STORE``, else a store beside the registry (see :attr:`store`).
        registry: The connection registry (room members, users); default the one the
            ``ws_*`` functions use (:func:`wsgate.config.get_registry`), on first use.
        sender: A :class:`wsgate.sender.Sender` (anything with ``send(id, data)`` raising
            :class:`~wsgate.exceptions.SendError` subclasses, and optionally ``broadcast``);
            default :func:`wsgate.config.get_sender`, on first use.
        buffer_ttl: Seconds a message stays replayable (how far back resume reaches in time).
        buffer_size: Messages per stream kept replayable (how far back it reaches in count).
        ack_timeout: Seconds to wait for a client's ack before the first redelivery.
        backoff: Factor the wait grows by after each redelivery.
        max_attempts: Posts per message and connection before it is reported undelivered.
        ack_window: Seconds a client ack id is remembered (duplicates within it run once).
        lease: Seconds a claimed ack id is held before a retry may run it again (keep it above
            the integration timeout, 29 s).
        can_resume: ``(connection_id, stream) -> bool``; default: ``room:X`` for members of
            room X, ``user:U`` for connections of user U.
        on_undelivered: Called with each :class:`Undelivered` record (e.g. to alert or store).
        metrics: Where the ``Delivery*`` counts go: an object with ``put(name, value, unit)``
            (:class:`wsgate.observe.Metrics`); default the process-wide
            :func:`wsgate.observe.get_metrics` (EMF, off with ``WSGATE_METRICS=off``); ``False``
            records nothing.
        clock: Epoch-seconds clock (tests pass a fake one).
    """

    def __init__(
        self,
        store: DeliveryStore | None = None,
        *,
        registry: Any = None,
        sender: Any = None,
        buffer_ttl: int = 120,
        buffer_size: int = 1000,
        ack_timeout: float = 5.0,
        backoff: float = 2.0,
        max_attempts: int = 5,
        ack_window: int = 600,
        lease: float = 30.0,
        can_resume: Callable[[str, str], bool] | None = None,
        on_undelivered: Callable[[Undelivered], None] | None = None,
        metrics: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if buffer_ttl < 1 or buffer_size < 1 or max_attempts < 1:
            raise ValueError("buffer_ttl, buffer_size and max_attempts must be at least 1")
        if ack_timeout <= 0 or backoff < 1:
            raise ValueError("ack_timeout must be positive and backoff at least 1")
        self._store = store
        self._registry = registry
        self._sender = sender
        self._lock = threading.Lock()
        self._derived: list[tuple[object, DeliveryStore]] = []
        self.buffer_ttl = buffer_ttl
        self.buffer_size = buffer_size
        self.ack_timeout = ack_timeout
        self.backoff = backoff
        self.max_attempts = max_attempts
        self.ack_window = ack_window
        self.lease = lease
        self.can_resume = can_resume or self._member_of
        self.on_undelivered = on_undelivered
        self.metrics = metrics
        self.clock = clock

    @property
    def store(self) -> DeliveryStore:
        """The delivery store: the one given, else ``WSGATE_DELIVERY_STORE``, else one beside
        the registry in use (:func:`~wsgate.delivery.store_for_registry`).

        Raises:
            ConfigurationError: Nothing says where delivery state should live.
        """
        if self._store is not None:
            return self._store
        from wsgate.delivery import open_delivery_store, store_for_registry

        url = os.environ.get("WSGATE_DELIVERY_STORE")
        owner: object = url if url else self.registry
        with self._lock:
            # Keyed by the registry object itself (held, so its id cannot be reused).
            for known, found in self._derived:
                if known is owner or (url and known == url):
                    return found
            found = open_delivery_store(url) if url else store_for_registry(owner)
            self._derived.append((owner, found))
            return found

    @property
    def registry(self) -> Any:
        """The connection registry: the one given, else the ``ws_*`` functions' one (looked up
        on every use, so :func:`wsgate.config.configure` and test clients take effect)."""
        if self._registry is not None:
            return self._registry
        from wsgate.config import get_registry

        return get_registry()

    @property
    def sender(self) -> Any:
        """The sender: the one given, else the ``ws_*`` functions' one (looked up on every
        use)."""
        if self._sender is not None:
            return self._sender
        from wsgate.config import get_sender

        return get_sender()

    # --- sending ---------------------------------------------------------------------------

    def send_to_room(self, room: str, data: Any, *, exclude: Iterable[str] = ()) -> TrackedSend:
        """Send ``data`` to every member of ``room`` as the next message of ``room:<room>``.

        Call from any handler or job. Members ack; unacked ones are redelivered by
        :meth:`pump`; any member may resume the stream after a reconnect.

        Raises:
            PayloadTooLargeError: The framed message would exceed 131,072 bytes (nothing sent).
            TypeError: ``data`` is not a JSON object (a dict with str keys, without the reserved
                ``wsgate`` key) or not JSON-serialisable.
            RegistryError: The registry or the delivery store failed (nothing sent).
        """
        skip = set(exclude)
        members = [c for c in self.registry.room_members(room) if c.connection_id not in skip]
        return self.publish(protocol.room_stream(room), data, members)

    def send_to_user(self, user_id: str, data: Any) -> TrackedSend:
        """Send ``data`` to every connection of ``user_id`` as the next message of
        ``user:<id>``. Raises as :meth:`send_to_room`."""
        return self.publish(protocol.user_stream(user_id), data, self.registry.by_user(user_id))

    def publish(self, stream: str, data: Any, recipients: Iterable[Any]) -> TrackedSend:
        """Append ``data`` to ``stream`` and post it to ``recipients``, tracking each ack.

        ``recipients`` are connection ids or ``Connection`` records (their ``endpoint`` is
        used). The message is buffered and every pending ack recorded *before* the first post,
        so a crash mid-way loses nothing: the sweep redelivers. Raises as :meth:`send_to_room`.
        """
        data_json = to_json(data)
        message_id = uuid.uuid4().hex
        probe = protocol.message_frame(stream, protocol.MAX_SEQ, message_id, data_json, attempt=99)
        size = len(probe.encode())
        if size > MAX_FRAME_BYTES:
            raise PayloadTooLargeError(
                "*", 413, f"tracked frame of {size} bytes > {MAX_FRAME_BYTES}"
            )
        targets = unique(recipients)
        now = self.clock()
        message = self.store.append(
            stream, message_id, data_json, now=now, ttl=self.buffer_ttl, max_len=self.buffer_size
        )
        due = now + self.ack_timeout
        expires = message.expires_at + _PENDING_GRACE
        self.store.add_pending(
            [Pending(id_of(t), stream, message.seq, 1, due, expires) for t in targets]
        )
        result = TrackedSend(stream, message.seq, message_id)
        frame = protocol.message_frame(stream, message.seq, message_id, data_json)
        for cid, error in self._post_many(targets, frame).items():
            if error is None:
                result.sent.append(cid)
            elif isinstance(error, ConnectionGoneError):
                entry = Pending(cid, stream, message.seq, 1, due, expires)
                if self.store.remove_pending(cid, stream, message.seq):
                    result.undelivered.append(self._give_up(entry, "gone"))
            else:
                result.failed[cid] = str(error)
        self._count("DeliverySent", len(result.sent))
        return result

    def sync(self, connection_id: str, stream: str) -> int:
        """Tell one connection where ``stream`` stands, so it expects the next message.

        Call right after subscribing a connection (see :meth:`join`); without it the client
        takes the first message it sees as its starting point. Returns the position sent.

        Raises:
            SendError: The post failed.
        """
        seq = self.store.latest(stream)
        self.sender.send(connection_id, protocol.sync_frame(stream, seq))
        return seq

    def join(self, connection_id: str, room: str) -> int:
        """Add the connection to ``room`` in the registry and :meth:`sync` it to the room's
        stream. Returns the stream position.

        Raises:
            ConnectionNotFound: The connection is not (or no longer) in the registry.
            SendError: The sync post failed (the membership stays).
        """
        self.registry.join(connection_id, room)
        return self.sync(connection_id, protocol.room_stream(room))

    # --- client frames -----------------------------------------------------------------------

    def handle_ack(self, connection_id: str, body: Mapping[str, Any]) -> int:
        """Apply a ``wsgate.ack`` frame: forget the acked pending messages; how many.

        Raises:
            InvalidBodyError: The frame is malformed (nothing changed).
        """
        return sum(
            self.store.ack(connection_id, pos.stream, pos.seq)
            for pos in protocol.parse_positions(body, "acks")
        )

    def handle_resume(self, connection_id: str, body: Mapping[str, Any]) -> dict[str, str]:
        """Apply a ``wsgate.resume`` frame: replay what each stream's buffer holds after the
        client's position, in order, then a ``wsgate.resumed`` frame per stream saying
        ``ok``, ``lost`` (the buffer no longer reaches back to the position: the replay starts
        at ``oldest``, what came before it is gone — resync from your own data) or ``denied``.
        Returns the status per stream.

        Raises:
            InvalidBodyError: The frame is malformed (nothing sent).
            SendError: A post failed (the client will ask again after reconnecting).
        """
        positions = protocol.parse_positions(body, "streams")
        outcome: dict[str, str] = {}
        for pos in positions:
            outcome[pos.stream] = self._resume_one(connection_id, pos.stream, pos.seq)
        return outcome

    def _resume_one(self, connection_id: str, stream: str, after: int) -> str:
        if not self.can_resume(connection_id, stream):
            frame = protocol.resumed_frame(stream, "denied", after=after, latest=0)
            self.sender.send(connection_id, frame)
            return "denied"
        now = self.clock()
        found = self.store.read_after(
            stream, after, now=now, limit=self.buffer_size, max_len=self.buffer_size
        )
        for _ in range(_IN_FLIGHT_RETRIES):
            if not self._maybe_in_flight(found, after, now):
                break
            time.sleep(_IN_FLIGHT_WAIT)
            now = self.clock()
            found = self.store.read_after(
                stream, after, now=now, limit=self.buffer_size, max_len=self.buffer_size
            )
        continuous = after == found.latest or (
            after < found.latest and bool(found.messages) and found.messages[0].seq == after + 1
        )
        # Whatever the buffer still holds after the position is replayed, in order, even when
        # continuity is lost: the client learns where the hole is and gets the rest.
        due = now + self.ack_timeout
        self.store.add_pending(
            [
                Pending(connection_id, stream, m.seq, 1, due, m.expires_at + _PENDING_GRACE)
                for m in found.messages
            ]
        )
        for message in found.messages:
            self.sender.send(connection_id, frame_of(message, 1))
        status: protocol.ResumeStatus = "ok" if continuous else "lost"
        frame = protocol.resumed_frame(
            stream,
            status,
            after=after,
            latest=found.latest,
            replayed=len(found.messages),
            oldest=None if continuous else found.oldest,
        )
        self.sender.send(connection_id, frame)
        if not continuous:
            self._count("DeliveryContinuityLost", 1)
        return status

    def _maybe_in_flight(self, found: StreamSlice, after: int, now: float) -> bool:
        """Whether message ``after + 1`` may be missing only because its send is still between
        taking the number and buffering the message (two DynamoDB writes), not because it
        left the buffer: then the read is worth repeating before declaring continuity lost."""
        if after >= found.latest or after + 1 <= found.latest - self.buffer_size:
            return False
        if not found.messages:
            return True  # nothing buffered after the position: expired, or being written
        first = found.messages[0]
        # A hole right before a message buffered a moment ago may still be filling.
        return first.seq > after + 1 and first.created_at > now - _IN_FLIGHT_GRACE

    def disconnected(self, connection_id: str) -> list[Undelivered]:
        """Forget a closed connection's pending messages, reporting each as undelivered.

        Call from ``$disconnect`` (:func:`wsgate.delivery.enable` does). The client can still
        get them by resuming on its next connection.
        """
        return [self._give_up(p, "disconnected") for p in self.store.drop_connection(connection_id)]

    # --- redelivery --------------------------------------------------------------------------

    def pump(self, *, limit: int = 100, now: float | None = None) -> SweepResult:
        """Redeliver up to ``limit`` pending messages that are due, across all connections.

        Call on a schedule (:meth:`scheduled_handler`) and from invocations. Messages past
        ``max_attempts`` (or out of the buffer) are reported undelivered. Never raises for a
        failed post; raises ``RegistryError`` when the store fails.
        """
        now = self.clock() if now is None else now
        return self._redeliver(self.store.due(now, limit), now)

    def pump_connection(self, connection_id: str, *, now: float | None = None) -> SweepResult:
        """Redeliver what is due for one connection (cheap: one store query).

        :func:`wsgate.delivery.enable` calls it after each message from that connection.
        """
        now = self.clock() if now is None else now
        due = [p for p in self.store.pending_of(connection_id) if p.due_at <= now]
        return self._redeliver(due, now)

    def scheduled_handler(self, event: Any = None, context: Any = None) -> dict[str, Any]:
        """A Lambda handler for an EventBridge schedule (e.g. ``rate(1 minute)``): sweeps
        until nothing is due or the invocation's time is nearly up; returns a summary.

        Lambda has no timers, so this is what redelivers to clients that went quiet.
        """
        total = SweepResult()
        while True:
            result = self.pump(limit=100)
            total.merge(result)
            remaining = getattr(context, "get_remaining_time_in_millis", None)
            if result.examined < 100 or result.examined == result.skipped:
                break
            if remaining is not None and remaining() < 5000:
                break
        summary = total.as_dict()
        try:  # outside a WebSocket invocation nothing else flushes the metrics
            recorder = self._recorder()
            if recorder is not None and hasattr(recorder, "flush"):
                recorder.flush()
        except Exception:
            logger.exception("flushing delivery metrics failed")
        # An idle sweep stays quiet (the emulator runs one every second).
        logger.log(
            logging.INFO if total.examined else logging.DEBUG,
            "delivery sweep: %d examined, %d redelivered, %d failed, %d undelivered",
            total.examined,
            total.redelivered,
            total.failed,
            len(total.undelivered),
        )
        return summary

    def _redeliver(self, entries: list[Pending], now: float) -> SweepResult:
        result = SweepResult(examined=len(entries))
        cache: dict[tuple[str, int], BufferedMessage | None] = {}
        for entry in entries:
            if entry.attempts >= self.max_attempts or entry.expires_at <= now:
                self._drop(entry, "unacknowledged", result)
                continue
            key = (entry.stream, entry.seq)
            if key not in cache:
                cache[key] = self.store.get_message(entry.stream, entry.seq, now=now)
            message = cache[key]
            if message is None:
                self._drop(entry, "expired", result)
                continue
            attempts = entry.attempts + 1
            due = now + self.ack_timeout * self.backoff ** (attempts - 1)
            if not self.store.reschedule(entry, attempts=attempts, due_at=due):
                result.skipped += 1
                continue
            try:
                self.sender.send(entry.connection_id, frame_of(message, attempts))
            except ConnectionGoneError:
                self._drop(entry, "gone", result)
            except SendError as exc:
                result.failed += 1
                logger.info("redelivery to %s failed: %s", entry.connection_id, exc)
            else:
                result.redelivered += 1
        self._count("DeliveryRedelivered", result.redelivered)
        return result

    def _drop(self, entry: Pending, reason: UndeliveredReason, result: SweepResult) -> None:
        if self.store.remove_pending(entry.connection_id, entry.stream, entry.seq):
            result.undelivered.append(self._give_up(entry, reason))
        else:
            result.skipped += 1

    def _give_up(self, entry: Pending, reason: UndeliveredReason) -> Undelivered:
        record = Undelivered(entry.connection_id, entry.stream, entry.seq, entry.attempts, reason)
        logger.warning(
            "undelivered: %s seq %d to %s after %d attempt(s): %s",
            entry.stream,
            entry.seq,
            entry.connection_id,
            entry.attempts,
            reason,
            extra={"wsgate": record.as_dict()},
        )
        self._count("DeliveryUndelivered", 1)
        if self.on_undelivered is not None:
            try:
                self.on_undelivered(record)
            except Exception:
                logger.exception("on_undelivered callback failed")
        return record

    # --- helpers -------------------------------------------------------------------------------

    def _post_many(self, targets: list[Any], frame: str) -> dict[str, SendError | None]:
        return post_many(self.sender, targets, frame)

    def _member_of(self, connection_id: str, stream: str) -> bool:
        kind, _, name = stream.partition(":")
        try:
            if kind == "room":
                return name in self.registry.rooms_of(connection_id)
            if kind == "user":
                record = self.registry.get(connection_id)
                return record is not None and record.user_id == name
        except RegistryError:
            logger.exception("resume check for %s on %s failed", connection_id, stream)
        return False

    def _recorder(self) -> Any:
        if self.metrics is None:
            from wsgate.observe import get_metrics

            return get_metrics()
        return self.metrics or None

    def _count(self, name: str, value: int) -> None:
        if not value:
            return
        try:
            recorder = self._recorder()
            if recorder is not None:
                recorder.put(name, value, "Count")
        except Exception:
            logger.exception("recording metric %s failed", name)
