"""The handler's side of the hand-off: send small broadcasts at once, enqueue large ones.

A room or topic broadcast reads at most ``threshold + 1`` members (one Query on DynamoDB).
When the group is larger (or ``handoff=True``), one *plan* task goes on the queue and the call
returns: the worker functions read the group and post it in chunks. The handler's time is
then one short lookup and one SQS request, whatever the group's size.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from wsgate.exceptions import ConfigurationError
from wsgate.fanout.queue import FanoutQueue
from wsgate.fanout.tasks import DEFAULT_CHUNK_SIZE, MAX_CHUNK_SIZE, Plan, chunk_recipients
from wsgate.registry.paging import Member, check_page_args, member_pages
from wsgate.sender.broadcast import BroadcastResult, recipient_of
from wsgate.sender.sender import encode_payload
from wsgate.sender.transport import MAX_PAYLOAD_BYTES

__all__ = ["DEFAULT_THRESHOLD", "Fanout", "FanoutResult"]

DEFAULT_THRESHOLD: Final = 2000
"""Largest group sent from the handler itself (``WSGATE_FANOUT_THRESHOLD``)."""


@dataclass(frozen=True, slots=True)
class FanoutResult:
    """What a :class:`Fanout` broadcast did.

    Attributes:
        broadcast_id: The broadcast's id (in the worker's logs and the queue's dedup ids).
        handed_off: True when the work went to the queue.
        tasks: Tasks enqueued (1 plan for a group; chunks for an explicit list).
        result: The sender's result when it was sent here, else ``None``.
    """

    broadcast_id: str
    handed_off: bool
    tasks: int = 0
    result: BroadcastResult | None = None


class Fanout:
    """Broadcasts that hand large fan-outs to worker functions through SQS.

    Build one per process. Defaults come from the environment: ``WSGATE_FANOUT_QUEUE_URL``,
    ``WSGATE_FANOUT_THRESHOLD``, ``WSGATE_FANOUT_CHUNK``; registry and sender from
    :mod:`wsgate.config`.

    Args:
        queue: A :class:`FanoutQueue` or a queue URL.
        registry: Where groups are read (default ``config.get_registry()``).
        sender: Sends the small broadcasts (default ``config.get_sender()``).
        threshold: Groups or lists larger than this are handed off.
        chunk_size: Recipients per chunk (1..5000).
        sqs_client: The SQS client for a queue given by URL.
    """

    def __init__(
        self,
        queue: FanoutQueue | str | None = None,
        *,
        registry: Any = None,
        sender: Any = None,
        threshold: int | None = None,
        chunk_size: int | None = None,
        sqs_client: Any = None,
    ) -> None:
        self.queue = queue if isinstance(queue, FanoutQueue) else None
        self._queue_url = queue if isinstance(queue, str) else None
        self._sqs_client = sqs_client
        self._registry = registry
        self._sender = sender
        env = os.environ
        self.threshold = _whole(threshold, env.get("WSGATE_FANOUT_THRESHOLD"), DEFAULT_THRESHOLD)
        self.chunk_size = _whole(chunk_size, env.get("WSGATE_FANOUT_CHUNK"), DEFAULT_CHUNK_SIZE)
        if not 1 <= self.chunk_size <= MAX_CHUNK_SIZE:
            raise ConfigurationError(f"chunk_size must be 1..{MAX_CHUNK_SIZE}")

    def _get_queue(self) -> FanoutQueue:
        if self.queue is None:
            self.queue = FanoutQueue(self._queue_url, client=self._sqs_client)
        return self.queue

    @property
    def registry(self) -> Any:
        """The registry groups are read from."""
        if self._registry is None:
            from wsgate import config

            return config.get_registry()
        return self._registry

    @property
    def sender(self) -> Any:
        """The sender of the broadcasts not handed off."""
        if self._sender is None:
            from wsgate import config

            return config.get_sender()
        return self._sender

    def broadcast_to_room(
        self, room: str, data: Any, *, exclude: Iterable[str] = (), handoff: bool | None = None
    ) -> FanoutResult:
        """Send to a room: here when it has at most ``threshold`` members, else (or with
        ``handoff=True``) through the queue. ``handoff=False`` always sends here.

        Raises:
            PayloadTooLargeError: Over 131,072 bytes (nothing sent or enqueued).
            QueueError: The plan could not be enqueued.
            RegistryError: The lookup failed.
        """
        return self._group("room", room, data, exclude, handoff)

    def broadcast_to_topic(
        self, topic: str, data: Any, *, exclude: Iterable[str] = (), handoff: bool | None = None
    ) -> FanoutResult:
        """Send to a topic's subscribers, as :meth:`broadcast_to_room`."""
        return self._group("topic", topic, data, exclude, handoff)

    def broadcast(
        self,
        recipients: Iterable[Any],
        data: Any,
        *,
        exclude: Iterable[str] = (),
        handoff: bool | None = None,
    ) -> FanoutResult:
        """Send to a list of recipients (ids, records or dicts): here when there are at most
        ``threshold``, else (or with ``handoff=True``) as chunks on the queue.

        Raises:
            PayloadTooLargeError: Over 131,072 bytes (nothing sent or enqueued).
            QueueError: Some chunks could not be enqueued (the others were).
        """
        body = _body(data)
        broadcast_id = uuid.uuid4().hex
        skip = set(exclude)
        members = []
        for item in recipients:
            cid, endpoint = recipient_of(item)
            if cid and cid not in skip:
                skip.add(cid)
                members.append(Member(cid, endpoint))
        if handoff is False or (handoff is None and len(members) <= self.threshold):
            return FanoutResult(broadcast_id, False, 0, self.sender.broadcast(members, body))
        chunks = chunk_recipients(broadcast_id, members, body, chunk_size=self.chunk_size)
        return FanoutResult(broadcast_id, True, self._get_queue().put(chunks))

    def _group(
        self, kind: str, name: str, data: Any, exclude: Iterable[str], handoff: bool | None
    ) -> FanoutResult:
        kind, name, _, _ = check_page_args(kind, name, None, None)
        body = _body(data)
        broadcast_id = uuid.uuid4().hex
        excluded = tuple(dict.fromkeys(exclude))
        if handoff is None:
            pages = member_pages(self.registry, kind, name, page_size=self.threshold + 1)
            first: list[Member] = []
            for page in pages:
                first.extend(page)
                if len(first) > self.threshold:
                    break
            else:  # small enough: send from here
                result = self.sender.broadcast(first, body, exclude=excluded)
                return FanoutResult(broadcast_id, False, 0, result)
        elif handoff is False:
            pages = member_pages(self.registry, kind, name)
            result = self.sender.broadcast_pages(pages, body, exclude=excluded)
            return FanoutResult(broadcast_id, False, 0, result)
        plan = Plan(broadcast_id, kind, name, body, excluded)
        return FanoutResult(broadcast_id, True, self._get_queue().put([plan]))


def _body(data: Any) -> bytes:
    from wsgate.exceptions import PayloadTooLargeError

    body = encode_payload(data)
    if len(body) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError("*", 413, f"{len(body)} bytes > {MAX_PAYLOAD_BYTES}")
    return body


def _whole(value: int | None, env: str | None, default: int) -> int:
    if value is None and env:
        try:
            value = int(env)
        except ValueError:
            raise ConfigurationError(f"expected a whole number, got {env!r}") from None
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"expected a whole number, got {value!r}")
    return value
