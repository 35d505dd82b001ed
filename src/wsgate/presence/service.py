"""``Presence``: who is in a room, join/leave/update events, heartbeats and the ghost sweep.

State lives in the connection registry (see :mod:`wsgate.presence.protocol` for the layout),
so it survives cold starts and any Lambda invocation can continue what another began. Every
method is synchronous.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from wsgate.exceptions import (
    ConnectionGoneError,
    ConnectionNotFound,
    InvalidRecordError,
    SendError,
    WsgateError,
)
from wsgate.presence import protocol
from wsgate.presence.protocol import Member

__all__ = ["Presence"]

logger = logging.getLogger("wsgate.presence")

_TOUCH_CACHE = 10_000  # connections whose last heartbeat write this process remembers
_GONE_ROUNDS = 8  # announcing a leave may find more gone connections; bounded


class Presence:
    """Presence per room and per user, kept in the connection registry.

    Args:
        registry: The connection registry; default the one the ``ws_*`` functions use.
        sender: A :class:`wsgate.sender.Sender`; default the ``ws_*`` functions' one.
        delivery: A :class:`wsgate.delivery.Delivery` to send join/leave/update frames through
            (acked, ordered, redelivered); default the app's when :func:`wsgate.presence.enable`
            finds one (``app.delivery``); ``False``: always plain frames.
        heartbeat: Seconds between the client's heartbeats (told in ``presence.state``); also
            the least time between two last-activity writes for one connection.
        timeout: Seconds of silence after which the sweep removes a connection from presence
            (default three heartbeats).
        max_data_bytes: Largest member data, as compact JSON.
        max_rooms: Presence rooms one connection may be in at once.
        clock: Epoch-seconds clock.
    """

    def __init__(
        self,
        registry: Any = None,
        sender: Any = None,
        *,
        delivery: Any = None,
        heartbeat: float = 30.0,
        timeout: float | None = None,
        max_data_bytes: int = 2048,
        max_rooms: int = 16,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if heartbeat <= 0:
            raise ValueError("heartbeat must be positive")
        timeout = 3 * heartbeat if timeout is None else timeout
        if timeout < heartbeat:
            raise ValueError("timeout must be at least one heartbeat")
        if max_data_bytes < 2 or max_rooms < 1:
            raise ValueError("max_data_bytes must be at least 2 and max_rooms at least 1")
        self._registry = registry
        self._sender = sender
        self.delivery = delivery
        self.heartbeat = float(heartbeat)
        self.timeout = float(timeout)
        self.max_data_bytes = max_data_bytes
        self.max_rooms = max_rooms
        self.clock = clock
        self._touched: OrderedDict[str, float] = OrderedDict()
        self._touch_lock = threading.Lock()

    @property
    def registry(self) -> Any:
        """The registry: the one given, else :func:`wsgate.config.get_registry` (per use)."""
        if self._registry is not None:
            return self._registry
        from wsgate.config import get_registry

        return get_registry()

    @property
    def sender(self) -> Any:
        """The sender: the one given, else :func:`wsgate.config.get_sender` (per use)."""
        if self._sender is not None:
            return self._sender
        from wsgate.config import get_sender

        return get_sender()

    # --- reading ---------------------------------------------------------------------------

    def members(self, room: str) -> list[Member]:
        """The users present in ``room``, earliest first (one Query on DynamoDB, plus one
        BatchGetItem per 100 connections).

        Raises:
            InvalidRecordError: A bad room name.
        """
        return list(self._members(protocol.check_room(room)).values())

    def count(self, room: str) -> int:
        """How many users are present in ``room``."""
        return len(self.members(room))

    def rooms_of(self, connection_id: str) -> frozenset[str]:
        """The presence rooms the connection is in (empty when it is unknown)."""
        record = self.registry.get(connection_id)
        return protocol.rooms_present(record) if record is not None else frozenset()

    def _records(self, room: str) -> list[Any]:
        return list(self.registry.room_members(protocol.group_of(room)))

    def _members(self, room: str) -> dict[str, Member]:
        return protocol.members_of(room, self._records(room))

    # --- changing --------------------------------------------------------------------------

    def enter(self, connection_id: str, room: str, data: Mapping[str, Any] | None = None) -> Member:
        """Make the connection present in ``room`` with member ``data``.

        The other members get ``presence.join`` (a new user) or ``presence.update`` (the
        user's data changed); the connection gets the full ``presence.state``. Entering again
        refreshes the data and the state. Returns the connection's member.

        Raises:
            InvalidRecordError: A bad room or data (nothing changed).
            ConnectionNotFound: The connection is not in the registry.
            ConnectionGoneError: The connection is gone (it was removed, others are told).
            InvalidRecordError: Already present in ``max_rooms`` rooms.
            RegistryError: The registry failed.
        """
        room = protocol.check_room(room)
        clean = protocol.check_data(data, self.max_data_bytes)
        registry = self.registry
        record = registry.get(connection_id)
        if record is None:
            raise ConnectionNotFound(connection_id)
        now = self.clock()
        rooms = protocol.rooms_present(record)
        # Entries of rooms it left are dropped here, so leaving needs no metadata write.
        present = {k: v for k, v in protocol.entries(record).items() if k in rooms}
        if room not in rooms and len(rooms) >= self.max_rooms:
            raise InvalidRecordError("room", f"already present in {self.max_rooms} rooms")
        old = present.get(room, {})
        since = old.get("since")
        present[room] = {
            "data": clean,
            "since": since if since is not None else now,
            "at": now,
            "entered": now,
        }
        if room not in rooms:
            registry.join(connection_id, protocol.group_of(room))
        if protocol.SWEEP_GROUP not in record.rooms:
            registry.join(connection_id, protocol.SWEEP_GROUP)
        previous = record
        record = registry.update(
            connection_id, metadata={protocol.METADATA_KEY: present}, merge_metadata=True
        )
        # The room is read only now that this connection is in it: of two connections entering
        # at once, the one reading second finds the other and tells it, so neither misses the
        # other (reading first, both could read the room without the other and stay apart).
        others = [r for r in self._records(room) if r.connection_id != connection_id]
        before = [*others, previous] if room in rooms else others
        after = [*others, record]
        # The one entering first (it waits for the list), then the others. With acked delivery
        # the sync comes before the join is numbered, so the client takes the join after it.
        seq = self._sync(connection_id, room)
        members = protocol.members_of(room, after)
        frames = protocol.state_frames(
            room, members.values(), heartbeat=self.heartbeat, timeout=self.timeout, seq=seq
        )
        try:
            for frame in frames:
                self.sender.send(connection_id, frame)
        except ConnectionGoneError:
            # Pruned by the sender already. Others entering meanwhile may have seen it: tell
            # every member it left (a client ignores a leave of someone it never saw).
            self._withdraw(record, {room})
            self._announce(room, after, others, exclude=set())
            raise
        self._announce(room, before, after, exclude={connection_id})
        return members[protocol.member_key(record)[0]]

    def update(self, connection_id: str, room: str, data: Mapping[str, Any]) -> Member:
        """Change the member data of the connection's user in ``room`` (every one of the
        user's connections there carries it); every member gets ``presence.update``.

        Raises:
            InvalidRecordError: A bad room or data (nothing changed).
            ConnectionNotFound: The connection is not present in ``room``.
        """
        room = protocol.check_room(room)
        clean = protocol.check_data(data, self.max_data_bytes)
        before = self._records(room)
        mine = next((r for r in before if r.connection_id == connection_id), None)
        if mine is None:
            raise ConnectionNotFound(connection_id)
        key = protocol.member_key(mine)[0]
        now = self.clock()
        updated: dict[str, Any] = {}
        for record in before:
            if protocol.member_key(record)[0] != key:
                continue
            present = protocol.entries(record)
            entry = present.get(room, {"since": now})
            present[room] = {**entry, "data": clean, "at": now}
            try:
                updated[record.connection_id] = self.registry.update(
                    record.connection_id,
                    metadata={protocol.METADATA_KEY: present},
                    merge_metadata=True,
                )
            except ConnectionNotFound:
                continue  # that tab went meanwhile
        # The recipients are read after the write, so one entering meanwhile either read the
        # new data in its state or is in this list (see enter).
        current = self._records(room)
        after = [updated.get(r.connection_id, r) for r in current]
        old = [r for r in before if r.connection_id in updated]
        before = [r for r in after if r.connection_id not in updated] + old
        self._announce(room, before, after, exclude=set())
        members = protocol.members_of(room, after)
        return members.get(key) or Member(key, clean, (), now)

    def leave(self, connection_id: str, room: str) -> bool:
        """Remove the connection from ``room``'s presence; the others get ``presence.leave``
        when it was the user's last connection there. True when it was present.

        Raises:
            InvalidRecordError: A bad room name.
        """
        room = protocol.check_room(room)
        record = self.registry.get(connection_id)
        if record is None or room not in protocol.rooms_present(record):
            return False
        self._withdraw(record, {room})
        # The recipients are read after the withdrawal: one entering meanwhile either did not
        # see this connection or is in this list and hears the leave.
        after = [r for r in self._records(room) if r.connection_id != connection_id]
        self._announce(room, [*after, record], after, exclude=set())
        return True

    def disconnected(self, record: Any) -> None:
        """Remove a closed connection (its registry record as it was before ``$disconnect``)
        from every presence room, announcing the leaves. :func:`enable` calls it."""
        rooms = protocol.rooms_present(record)
        if not rooms:
            return
        self._withdraw(record, rooms)
        for room in sorted(rooms):
            after = [r for r in self._records(room) if r.connection_id != record.connection_id]
            self._announce(room, [*after, record], after, exclude=set())

    def alive(self, connection_id: str, now: float | None = None) -> bool:
        """Record a sign of life (any message, or a heartbeat). Cheap: within ``heartbeat``
        seconds of the last write this process made for the connection it makes no registry
        request at all; else one ``touch`` (which itself writes at most once per interval).
        True when the registry was written."""
        at = self.clock() if now is None else now
        with self._touch_lock:
            last = self._touched.get(connection_id)
            if last is not None and at - last < self.heartbeat:
                return False
        written = bool(self.registry.touch(connection_id, at, min_interval=self.heartbeat))
        self._remember(connection_id, at)
        return written

    def connected(self, connection_id: str, now: float | None = None) -> None:
        """Note that the connection's record was just stored (its ``$connect`` wrote the last
        activity), so :meth:`alive` skips the registry for one interval. No I/O."""
        self._remember(connection_id, self.clock() if now is None else now)

    # --- the sweep -------------------------------------------------------------------------

    def sweep(self, now: float | None = None) -> dict[str, int]:
        """Remove connections silent for longer than ``timeout`` from presence, announce the
        leaves, and tell each removed connection ``presence.expired`` (a live client enters
        again; a gone one answers 410 and is pruned). One Query of the ``wsgate.presence``
        registry room (plus one BatchGetItem per 100 connections) however many rooms there
        are; writes only for the connections removed. Returns counts."""
        at = self.clock() if now is None else now
        records = list(self.registry.room_members(protocol.SWEEP_GROUP))
        limit = at - self.timeout
        stale = [r for r in records if protocol.last_sign_of_life(r) < limit]
        by_room: dict[str, list[Any]] = {}
        for record in records:
            for room in protocol.rooms_present(record):
                by_room.setdefault(room, []).append(record)
        stale_ids = {r.connection_id for r in stale}
        for record in stale:
            self._withdraw(record, protocol.rooms_present(record))
        for room, before in sorted(by_room.items()):
            after = [r for r in before if r.connection_id not in stale_ids]
            if len(after) != len(before):
                self._announce(room, before, after, exclude=set())
        for record in stale:
            for room in sorted(protocol.rooms_present(record)):
                try:
                    self.sender.send(record.connection_id, protocol.expired_frame(room))
                except SendError:
                    break  # gone (pruned by the sender) or unreachable: nothing more to tell
        return {"examined": len(records), "removed": len(stale), "rooms": len(by_room)}

    def scheduled_handler(self, event: Any = None, context: Any = None) -> dict[str, int]:
        """A Lambda handler for an EventBridge schedule: :meth:`sweep`, logged."""
        summary = self.sweep()
        logger.log(
            logging.INFO if summary["removed"] else logging.DEBUG,
            "presence sweep: %d examined, %d removed",
            summary["examined"],
            summary["removed"],
        )
        return summary

    # --- internals -------------------------------------------------------------------------

    def _remember(self, connection_id: str, at: float) -> None:
        with self._touch_lock:
            self._touched[connection_id] = at
            self._touched.move_to_end(connection_id)
            while len(self._touched) > _TOUCH_CACHE:
                self._touched.popitem(last=False)

    def _withdraw(self, record: Any, rooms: Iterable[str]) -> None:
        """Remove a connection's presence in ``rooms`` from the registry (quietly when the
        connection is gone already). Only the memberships: a metadata entry of a room the
        connection is not in counts for nothing, and its next ``enter`` drops it."""
        registry = self.registry
        rooms = set(rooms)
        remaining = protocol.rooms_present(record) - rooms
        try:
            for room in sorted(rooms):
                registry.leave(record.connection_id, protocol.group_of(room))
            if not remaining:
                registry.leave(record.connection_id, protocol.SWEEP_GROUP)
        except ConnectionNotFound:
            pass  # deleted meanwhile: its memberships went with it

    def _sync(self, connection_id: str, room: str) -> int | None:
        delivery = self._delivery()
        if delivery is None:
            return None
        from wsgate.delivery.protocol import room_stream

        result: int = delivery.sync(connection_id, room_stream(protocol.group_of(room)))
        return result

    def _delivery(self) -> Any:
        return self.delivery or None

    def _announce(
        self, room: str, before: list[Any], after: list[Any], *, exclude: set[str]
    ) -> None:
        """Tell the connections in ``after`` (less ``exclude``) how the member list changed
        from ``before``; connections found gone meanwhile are announced as leaving too."""
        for _ in range(_GONE_ROUNDS):
            old = protocol.members_of(room, before)
            new = protocol.members_of(room, after)
            joined = [m for k, m in new.items() if k not in old]
            left = [m for k, m in old.items() if k not in new]
            changed = [m for k, m in new.items() if k in old and old[k].data != m.data]
            recipients = [r for r in after if r.connection_id not in exclude]
            gone: set[str] = set()
            for kind, members in (("join", joined), ("update", changed), ("leave", left)):
                if members and recipients:
                    gone |= self._publish(
                        room, protocol.event_payload(kind, room, members), recipients
                    )
                    recipients = [r for r in recipients if r.connection_id not in gone]
            if not gone:
                return
            before, after = after, [r for r in after if r.connection_id not in gone]
            exclude = set()
            # The sender pruned the gone ones; their other presence rooms learn it at the sweep.
        logger.warning("presence: still finding gone connections in %s; the sweep goes on", room)

    def _publish(self, room: str, payload: dict[str, Any], recipients: list[Any]) -> set[str]:
        """Post an event to ``recipients``: through acked delivery when on. The ids found gone."""
        delivery = self._delivery()
        try:
            if delivery is not None:
                from wsgate.delivery.protocol import room_stream

                sent = delivery.publish(room_stream(protocol.group_of(room)), payload, recipients)
                return {u.connection_id for u in sent.undelivered if u.reason == "gone"}
            from wsgate.delivery.posting import post_many

            frame = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
            outcome = post_many(self.sender, recipients, frame)
        except WsgateError as exc:
            logger.warning("presence %s to %s failed: %s", payload["type"], room, exc)
            return set()
        return {cid for cid, error in outcome.items() if isinstance(error, ConnectionGoneError)}
