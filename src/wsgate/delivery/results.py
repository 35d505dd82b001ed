"""What tracked sends and redelivery sweeps report back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["SweepResult", "TrackedSend", "Undelivered", "UndeliveredReason"]

UndeliveredReason = Literal["unacknowledged", "gone", "expired", "disconnected"]
"""Why a message was given up on for one connection:

* ``unacknowledged``: posted ``max_attempts`` times and never acked;
* ``gone``: the connection answered 410 (it is gone; the client may still resume elsewhere);
* ``expired``: it left the replay buffer before it could be posted again;
* ``disconnected``: the connection closed with the message still unacked.
"""


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A tracked message whose delivery to one connection was never confirmed.

    Attributes:
        connection_id: The connection it was for.
        stream: Its stream.
        seq: Its sequence number.
        attempts: How many times it was posted.
        reason: See :data:`UndeliveredReason`.
    """

    connection_id: str
    stream: str
    seq: int
    attempts: int
    reason: UndeliveredReason

    def as_dict(self) -> dict[str, Any]:
        """The record as a plain dict (for logs and JSON)."""
        return {
            "connectionId": self.connection_id,
            "stream": self.stream,
            "seq": self.seq,
            "attempts": self.attempts,
            "reason": self.reason,
        }


@dataclass(slots=True)
class TrackedSend:
    """The outcome of one tracked send.

    Attributes:
        stream: The stream the message went to.
        seq: Its sequence number.
        message_id: Its unique id.
        sent: Connections it was posted to (awaiting their ack).
        failed: Connections the post failed for (429/5xx/network after retries): redelivered
            later, with the error text.
        undelivered: Connections given up on at once (gone).
    """

    stream: str
    seq: int
    message_id: str
    sent: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    undelivered: list[Undelivered] = field(default_factory=list)

    @property
    def recipients(self) -> int:
        """How many connections the message was for."""
        return len(self.sent) + len(self.failed) + len(self.undelivered)


@dataclass(slots=True)
class SweepResult:
    """What one redelivery sweep did.

    Attributes:
        examined: Pending messages looked at.
        redelivered: Posted again successfully.
        failed: Posted again and failed (kept, retried later).
        skipped: Taken by a concurrent sweeper or acked meanwhile.
        undelivered: Given up on, with the reason.
    """

    examined: int = 0
    redelivered: int = 0
    failed: int = 0
    skipped: int = 0
    undelivered: list[Undelivered] = field(default_factory=list)

    def merge(self, other: SweepResult) -> None:
        """Add ``other``'s counts and records to this result."""
        self.examined += other.examined
        self.redelivered += other.redelivered
        self.failed += other.failed
        self.skipped += other.skipped
        self.undelivered.extend(other.undelivered)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary (what the scheduled Lambda handler returns)."""
        return {
            "examined": self.examined,
            "redelivered": self.redelivered,
            "failed": self.failed,
            "skipped": self.skipped,
            "undelivered": [u.as_dict() for u in self.undelivered],
        }
