"""The hand-off end to end: a handler enqueues, workers polled from a real (moto) SQS FIFO
queue post through the Management API stub; crashes, redeliveries, retries and the DLQ."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from sender.apistub import ApiStub
from wsgate.fanout import Chunk, Fanout, FanoutQueue, FanoutWorker, Plan
from wsgate.fanout.local import QueuePoller
from wsgate.registry.memory import MemoryRegistry
from wsgate.sender import Sender

ROOM = "big"


class Crash(Exception):
    """The worker process dying: the poller deletes nothing of the batch."""


def _room(registry: MemoryRegistry, stub: ApiStub, count: int, gone: int = 0) -> list[str]:
    ids = [f"c{n:05d}" for n in range(count)]
    for cid in ids:
        registry.store(cid, endpoint=stub.endpoint)
        registry.join(cid, ROOM)
    stub.connect(*ids[gone:])  # the first `gone` ones have disconnected
    return ids


def _counts(stub: ApiStub, ids: list[str]) -> Counter[str]:
    return Counter({cid: len(stub.state.messages.get(cid, [])) for cid in ids})


def _queued(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_small_room_is_sent_from_the_handler(
    sqs: Any, queues: dict[str, str], stub: ApiStub, make_sender: Any
) -> None:
    registry = MemoryRegistry()
    ids = _room(registry, stub, 8)
    sender: Sender = make_sender(registry=registry)
    fanout = Fanout(queues["queue"], registry=registry, sender=sender, sqs_client=sqs, threshold=8)
    done = fanout.broadcast_to_room(ROOM, {"n": 1}, exclude=[ids[0]])
    assert not done.handed_off and done.result is not None and len(done.result.sent) == 7
    assert _queued(sqs, queues["queue"]) == 0
    assert _counts(stub, ids) == Counter({cid: int(cid != ids[0]) for cid in ids})


def test_large_room_is_handed_off_and_every_member_gets_it_once(
    sqs: Any, queues: dict[str, str], stub: ApiStub, make_sender: Any
) -> None:
    registry = MemoryRegistry()
    ids = _room(registry, stub, 1203, gone=3)
    sender: Sender = make_sender(registry=registry)
    queue = FanoutQueue(queues["queue"], client=sqs)
    fanout = Fanout(queue, registry=registry, sender=sender, threshold=100)
    done = fanout.broadcast_to_room(ROOM, "hello", exclude=[ids[-1]])
    assert done.handed_off and done.tasks == 1 and done.result is None
    assert not any(stub.state.messages.values())  # nothing sent by the handler
    worker = FanoutWorker(queue, registry=registry, sender=sender, chunk_size=250)
    poller = QueuePoller(sqs, queues["queue"], worker, visibility_timeout=30)
    assert poller.drain() == 1 + 5  # the plan, then ⌈1,199 / 250⌉ chunks
    counts = _counts(stub, ids)
    assert all(counts[cid] == 1 for cid in ids[3:-1])
    assert counts[ids[-1]] == 0
    assert all(registry.get(cid) is None for cid in ids[:3])  # gone ones pruned
    assert _queued(sqs, queues["queue"]) == 0 and _queued(sqs, queues["dlq"]) == 0


class CrashingWorker(FanoutWorker):
    """Dies once at chosen points: after planning, or half-way through chunk ``seq``."""

    def __init__(self, *args: Any, crash_plan: bool, crash_chunks: set[int], **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.crash_plan = crash_plan
        self.crash_chunks = set(crash_chunks)
        self.deliveries: Counter[int] = Counter()
        self.plans = 0

    def plan(self, plan: Plan) -> int:
        self.plans += 1
        queued = super().plan(plan)
        if self.crash_plan:
            self.crash_plan = False
            raise Crash("after enqueuing the chunks, before the plan was deleted")
        return queued

    def deliver(self, chunk: Chunk) -> Any:
        self.deliveries[chunk.seq] += 1
        if chunk.seq in self.crash_chunks:
            self.crash_chunks.discard(chunk.seq)
            members = chunk.members()
            half = Chunk(chunk.broadcast_id, chunk.seq, {}, chunk.body)
            for cid, ep in members[: len(members) // 2]:
                half.recipients.setdefault(ep or "", []).append(cid)
            super().deliver(half)
            raise Crash(f"half-way through chunk {chunk.seq}")
        return super().deliver(chunk)


class CrashingHandler:
    """The Lambda runtime: a crash fails the whole invocation (every record comes back)."""

    def __init__(self, worker: CrashingWorker) -> None:
        self.worker = worker

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        try:
            return self.worker(event, context)
        except SystemExit as exc:  # the process died: Lambda reports the invocation failed
            raise RuntimeError(f"function crashed: {exc}") from None


@pytest.mark.parametrize("batch_size", [1, 10])
def test_crashes_and_redeliveries_add_at_most_the_redelivered_chunk(
    sqs: Any, queues: dict[str, str], stub: ApiStub, make_sender: Any, batch_size: int
) -> None:
    registry = MemoryRegistry()
    ids = _room(registry, stub, 1000)
    sender: Sender = make_sender(registry=registry)
    queue = FanoutQueue(queues["queue"], client=sqs)
    Fanout(queue, registry=registry, sender=sender, threshold=10).broadcast_to_room(ROOM, "m")
    worker = CrashingWorker(
        queue, registry=registry, sender=sender, chunk_size=100, crash_plan=True, crash_chunks={3}
    )
    # A crash is not caught by the worker: it escapes like a dying process.
    worker.process = _escaping(worker.process)  # type: ignore[method-assign]
    poller = QueuePoller(
        sqs,
        queues["queue"],
        CrashingHandler(worker),
        batch_size=batch_size,
        visibility_timeout=30,
        retry_visible_after=0,
    )
    poller.drain()
    counts = _counts(stub, ids)
    chunk_of = {cid: index // 100 for index, cid in enumerate(ids)}
    for cid in ids:
        extra = worker.deliveries[chunk_of[cid]] - 1  # redeliveries of its chunk
        assert 1 <= counts[cid] <= 1 + extra, (cid, counts[cid], extra)
    # The plan ran twice, yet every chunk was queued once (FIFO deduplication ids) ...
    assert worker.plans >= 2 and set(worker.deliveries) == set(range(10))
    if batch_size == 1:
        assert worker.deliveries == Counter({seq: 1 + (seq == 3) for seq in range(10)})
    # ... so only chunks that were redelivered sent anything twice.
    twice = {cid for cid in ids if counts[cid] > 1}
    assert twice and all(worker.deliveries[chunk_of[cid]] > 1 for cid in twice)
    assert {chunk_of[cid] for cid in ids[300:350]} == {3} and all(
        counts[cid] == 2 for cid in ids[300:350]
    )
    if batch_size == 1:
        assert twice == set(ids[300:350])  # exactly the half posted before the crash
    assert _queued(sqs, queues["dlq"]) == 0


def _escaping(process: Any) -> Any:
    def run(body: str) -> None:
        try:
            process(body)
        except Crash as crash:
            raise SystemExit(str(crash)) from None

    return run


def test_failing_recipients_are_retried_then_the_message_goes_to_the_dlq(
    sqs: Any, queues: dict[str, str], make_sender: Any
) -> None:
    def faults(method: str, cid: str, attempt: int) -> str | None:
        if cid == "c00007":
            return "500"  # always
        if cid == "c00003" and attempt <= 2:
            return "429"  # recovers on the worker's own retries
        return None

    with ApiStub(fault=faults) as stub:
        registry = MemoryRegistry()
        ids = _room(registry, stub, 20)
        sender: Sender = make_sender(registry=registry, max_attempts=2)
        queue = FanoutQueue(queues["queue"], client=sqs)
        Fanout(queue, registry=registry, sender=sender, threshold=1).broadcast_to_room(ROOM, "x")
        worker = FanoutWorker(queue, registry=registry, sender=sender, max_attempts=2)
        poller = QueuePoller(sqs, queues["queue"], worker, retry_visible_after=0)
        poller.drain()
        counts = _counts(stub, ids)
        assert counts["c00007"] == 0 and counts["c00003"] == 1
        assert all(counts[cid] == 1 for cid in ids if cid != "c00007")
        dead = sqs.receive_message(QueueUrl=queues["dlq"], MaxNumberOfMessages=10)["Messages"]
        assert len(dead) == 1
        task = json.loads(dead[0]["Body"])
        assert task["task"] == "chunk" and task["to"] == {stub.endpoint: ["c00007"]}
        assert task["attempt"] == 2


def test_a_message_that_is_not_a_task_goes_to_the_dlq(
    sqs: Any, queues: dict[str, str], make_sender: Any
) -> None:
    sqs.send_message(
        QueueUrl=queues["queue"],
        MessageBody="{not json",
        MessageGroupId="g",
        MessageDeduplicationId="bad",
    )
    worker = FanoutWorker(
        FanoutQueue(queues["queue"], client=sqs),
        registry=MemoryRegistry(),
        sender=make_sender("https://x.example/test"),
    )
    poller = QueuePoller(sqs, queues["queue"], worker, retry_visible_after=0)
    poller.drain()
    dead = sqs.receive_message(QueueUrl=queues["dlq"])["Messages"]
    assert [m["Body"] for m in dead] == ["{not json"]


def test_an_explicit_list_above_the_threshold_goes_out_as_chunks(
    sqs: Any, queues: dict[str, str], stub: ApiStub, make_sender: Any
) -> None:
    registry = MemoryRegistry()
    ids = _room(registry, stub, 300)
    sender: Sender = make_sender(registry=registry)
    queue = FanoutQueue(queues["queue"], client=sqs)
    fanout = Fanout(queue, registry=registry, sender=sender, threshold=100, chunk_size=100)
    recipients = [{"connectionId": cid, "endpoint": stub.endpoint} for cid in ids] + ids[:50]
    done = fanout.broadcast(recipients, b"\x00\xffbinary", exclude=[ids[0]])
    assert done.handed_off and done.tasks == 3  # 299 distinct recipients, chunks of 100
    assert not any(stub.state.messages.values())
    worker = FanoutWorker(queue, registry=registry, sender=sender)
    assert QueuePoller(sqs, queues["queue"], worker).drain() == 3
    counts = _counts(stub, ids)
    assert counts[ids[0]] == 0 and all(counts[cid] == 1 for cid in ids[1:])
    assert stub.state.messages[ids[1]] == [b"\x00\xffbinary"]
    # at or under the threshold, or with handoff=False, the handler sends itself
    direct = fanout.broadcast(recipients[:100], "small")
    assert not direct.handed_off and direct.result is not None and len(direct.result.sent) == 100
    forced = fanout.broadcast_to_room(ROOM, "all here", handoff=False)
    assert not forced.handed_off and forced.result is not None
    assert len(forced.result.sent) == 300 and _queued(sqs, queues["queue"]) == 0
