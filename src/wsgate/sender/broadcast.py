"""A broadcast's plan and result: who gets the message, and what happened to each.

Recipients are ids, ``Connection``-like objects (``connection_id`` and an optional
``endpoint`` attribute) or dicts (``connectionId`` and optional ``endpoint``), mixed
freely. Each id is sent once. Nothing is raised for a partial failure: every recipient
ends up ``sent``, ``gone`` (410: safe to prune) or ``failed`` (with the error). The
fan-out itself is the engine's (``post_many``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from wsgate.aws.record import Record
from wsgate.exceptions import ConnectionGoneError, SendError

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from typing import Any, Literal

    Outcome = Literal["sent", "gone", "failed"]

__all__ = ["BroadcastResult", "Outcome", "RecipientResult", "cause_of", "plan", "recipient_of"]


def recipient_of(item: Any) -> tuple[str | None, str | None]:
    """``(connection_id, stored endpoint)`` of one recipient; ``(None, None)`` if unreadable."""
    if isinstance(item, str):
        return item, None
    if isinstance(item, Mapping):
        cid = item.get("connectionId", item.get("connection_id"))
        endpoint = item.get("endpoint")
    else:
        cid = getattr(item, "connection_id", None)
        endpoint = getattr(item, "endpoint", None)
    return (
        cid if isinstance(cid, str) else None,
        endpoint if isinstance(endpoint, str) and endpoint else None,
    )


def cause_of(error: SendError) -> str:
    """A failure's cause for summaries: label and status, e.g. ``"forbidden (403)"``."""
    status = f" ({error.status_code})" if error.status_code is not None else ""
    return f"{error.label}{status}"


class RecipientResult(Record):
    """The outcome for one recipient.

    Attributes:
        connection_id: The recipient.
        outcome: ``"sent"``, ``"gone"`` or ``"failed"``.
        error: The error for ``gone`` and ``failed`` outcomes.
    """

    __slots__ = ("connection_id", "error", "outcome")
    __match_args__ = ("connection_id", "outcome", "error")

    connection_id: str
    outcome: Outcome
    error: SendError | None

    def __init__(
        self, connection_id: str, outcome: Outcome, error: SendError | None = None
    ) -> None:
        object.__setattr__(self, "connection_id", connection_id)
        object.__setattr__(self, "outcome", outcome)
        object.__setattr__(self, "error", error)

    @property
    def reason(self) -> str:
        """A short reason ("" when sent), e.g. ``"throttled (429)"``."""
        return "" if self.error is None else cause_of(self.error)


class BroadcastResult:
    """What a broadcast did, per recipient and in total.

    Attributes:
        sent: Ids the message was delivered to (HTTP 200).
        gone: Ids that answered 410 (pruned from the registry when one was given).
        failed: Ids that failed for another reason, with the last error.
        duration: Seconds the fan-out took.
        pruned: How many gone connections the registry deleted.
        prune_error: Why pruning failed, if it did (the broadcast still succeeded).
    """

    __slots__ = ("duration", "failed", "gone", "prune_error", "pruned", "sent")
    __match_args__ = ("sent", "gone", "failed", "duration", "pruned", "prune_error")

    def __init__(
        self,
        sent: list[str] | None = None,
        gone: list[str] | None = None,
        failed: dict[str, SendError] | None = None,
        duration: float = 0.0,
        pruned: int = 0,
        prune_error: str | None = None,
    ) -> None:
        self.sent: list[str] = [] if sent is None else sent
        self.gone: list[str] = [] if gone is None else gone
        self.failed: dict[str, SendError] = {} if failed is None else failed
        self.duration = duration
        self.pruned = pruned
        self.prune_error = prune_error

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, BroadcastResult)
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, like a non-frozen dataclass

    def __repr__(self) -> str:
        return (
            f"BroadcastResult(sent={len(self.sent)}, gone={len(self.gone)}, "
            f"failed={len(self.failed)}, duration={self.duration:.3f}, pruned={self.pruned})"
        )

    @property
    def total(self) -> int:
        """Distinct recipients attempted."""
        return len(self.sent) + len(self.gone) + len(self.failed)

    @property
    def ok(self) -> bool:
        """True when nothing failed (gone connections are not failures)."""
        return not self.failed

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[RecipientResult]:
        for cid in self.sent:
            yield RecipientResult(cid, "sent")
        for cid in self.gone:
            yield RecipientResult(cid, "gone", ConnectionGoneError(cid))
        for cid, error in self.failed.items():
            yield RecipientResult(cid, "failed", error)

    def outcome(self, connection_id: str) -> RecipientResult | None:
        """The result for one recipient, ``None`` if it was not a recipient."""
        if connection_id in self.failed:
            return RecipientResult(connection_id, "failed", self.failed[connection_id])
        for result in self:
            if result.connection_id == connection_id:
                return result
        return None

    def to_dict(self) -> dict[str, bool]:
        """``{connection_id: delivered}``, the shape the seed's ``ws_broadcast_message`` returns."""
        out = dict.fromkeys(self.sent, True)
        out.update(dict.fromkeys(self.gone, False))
        out.update(dict.fromkeys(self.failed, False))
        return out

    def failures_by_cause(self) -> dict[str, list[str]]:
        """The failed ids grouped by cause, e.g. ``{"forbidden (403)": ["a", "b"]}``.

        The cause is the error's label and HTTP status (:attr:`RecipientResult.reason`); the
        errors themselves, with the server's message, are in :attr:`failed`.
        """
        causes: dict[str, list[str]] = {}
        for cid, error in self.failed.items():
            causes.setdefault(cause_of(error), []).append(cid)
        return causes

    def describe_failures(self, sample: int = 3) -> str:
        """One line summarising the failures: counts per cause and a few ids of each.

        ``""`` when nothing failed. Used for the sender's WARNING log line.
        """
        parts = []
        for cause, ids in sorted(self.failures_by_cause().items(), key=lambda kv: -len(kv[1])):
            shown = ", ".join(repr(cid) for cid in ids[:sample])
            more = f" and {len(ids) - sample} more" if len(ids) > sample else ""
            first = self.failed[ids[0]]
            detail = f" [{first.detail}]" if first.detail else ""
            parts.append(f"{cause} x{len(ids)}{detail} (e.g. {shown}{more})")
        return "; ".join(parts)

    def summary(self) -> dict[str, Any]:
        """Counts and timing for a log line or metrics (failure reasons counted by kind).

        ``failure_reasons`` counts by error class, ``failure_causes`` by label and status.
        """
        reasons: dict[str, int] = {}
        for error in self.failed.values():
            key = type(error).__name__
            reasons[key] = reasons.get(key, 0) + 1
        causes = {cause: len(ids) for cause, ids in self.failures_by_cause().items()}
        return {
            "recipients": self.total,
            "sent": len(self.sent),
            "gone": len(self.gone),
            "failed": len(self.failed),
            "pruned": self.pruned,
            "duration_ms": round(self.duration * 1000, 1),
            "failure_reasons": reasons,
            "failure_causes": causes,
        }


def plan(
    recipients: Iterable[Any],
    endpoint_for: Any,
    exclude: Iterable[str] = (),
    *,
    seen: set[str] | None = None,
) -> tuple[list[tuple[str, str]], dict[str, SendError]]:
    """Dedupes recipients and picks each one's endpoint, grouped by endpoint.

    ``endpoint_for(stored)`` resolves an endpoint (it may raise ``ConfigurationError``,
    which propagates: a broadcast with nowhere to send is a configuration error). Returns
    ``[(endpoint, connection_id), ...]`` and the unreadable recipients as failures.
    ``seen``, when given, is used instead of ``exclude`` and updated in place, so the
    pages of one broadcast are deduplicated against each other.
    """
    skip = set(exclude) if seen is None else seen
    groups: dict[str, list[str]] = {}
    invalid: dict[str, SendError] = {}
    cache: dict[str | None, str] = {}
    for item in recipients:
        cid: str | None
        stored: str | None
        if type(item) is str:  # the common case, without recipient_of's checks
            cid, stored = item, None
        else:
            cid, stored = recipient_of(item)
        if not cid:
            key = repr(item)[:80]
            invalid[key] = SendError(key, None, "not a connection id or connection record")
            continue
        if cid in skip:
            continue
        skip.add(cid)
        endpoint = cache.get(stored)
        if endpoint is None:
            endpoint = cache[stored] = endpoint_for(stored)
        groups.setdefault(endpoint, []).append(cid)
    work = [(ep, cid) for ep, ids in groups.items() for cid in ids]
    return work, invalid


def __getattr__(name: str) -> object:
    if name == "Outcome":  # a type alias; typing is loaded only when someone asks for it
        from typing import Literal

        return Literal["sent", "gone", "failed"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
