"""Broadcasts of any size: large fan-outs handed to worker functions through SQS.

In a handler::

    from wsgate.fanout import Fanout

    fanout = Fanout()                        # WSGATE_FANOUT_QUEUE_URL, WSGATE_FANOUT_THRESHOLD
    fanout.broadcast_to_room("lobby", {"text": "hi"})   # small: sent now; large: enqueued

In the worker function (an SQS event source on the queue, ``ReportBatchItemFailures`` on)::

    from wsgate.fanout import worker as handler

See ``docs/fanout.md`` for the queue, the worker, and when to hand off.
"""

from __future__ import annotations

from wsgate.fanout.handoff import DEFAULT_THRESHOLD, Fanout, FanoutResult
from wsgate.fanout.queue import FanoutQueue, QueueError
from wsgate.fanout.tasks import Chunk, Plan, TaskError
from wsgate.fanout.worker import ChunkFailed, FanoutWorker, worker

__all__ = [
    "DEFAULT_THRESHOLD",
    "Chunk",
    "ChunkFailed",
    "Fanout",
    "FanoutQueue",
    "FanoutResult",
    "FanoutWorker",
    "Plan",
    "QueueError",
    "TaskError",
    "worker",
]
