"""Fair hand-off of client messages to the handler pool, with backpressure.

Each connection keeps its own queue of messages waiting for a worker
(:attr:`Session.pending <wsgate.local.session.Session.pending>`). The scheduler takes one
message at a time from each connection in turn (round robin) and never has more calls in the
pool than it has workers, so a client flooding messages waits behind itself, not in front of
everyone else: another client's message starts as soon as a worker is free and its turn comes.

A connection whose queue is full is not read from (the session pauses its socket), and one
whose client leaves our output unread gets no worker until it catches up: memory stays bounded
whatever a client writes, as with a real server's TCP flow control.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from wsgate.local.session import Session

__all__ = ["Scheduler"]


class Scheduler:
    """Round-robin dispatcher of pending messages onto at most ``capacity`` workers.

    Owned by the emulator's loop.

    Args:
        capacity: How many message handlers may run at once (the pool's width).
        dispatch: ``dispatch(session, text) -> started``: hand one message to the pool; return
            False when no worker was taken (e.g. the Forbidden frame for an unrouted message).
            A started call must end with :meth:`release`.
    """

    def __init__(self, capacity: int, dispatch: Callable[[Session, str], bool]) -> None:
        self.capacity = capacity
        #: Message handlers running now (their pool threads are busy).
        self.running = 0
        self._dispatch = dispatch
        self._ready: deque[Session] = deque()

    @property
    def waiting(self) -> int:
        """Messages queued on every connection, not yet handed to a worker."""
        return sum(len(session.pending) for session in self._ready)

    def enqueue(self, session: Session, text: str) -> None:
        """A message arrived on ``session``: queue it and start what may start."""
        session.pending.append(text)
        self.ready(session)

    def ready(self, session: Session) -> None:
        """``session`` may have work (a message arrived, or its client caught up)."""
        if not session.scheduled and session.pending and session.writable:
            session.scheduled = True
            self._ready.append(session)
        self.pump()

    def release(self) -> None:
        """A started handler finished (its worker is free)."""
        self.running -= 1
        self.pump()

    def pump(self) -> None:
        """Start messages, one per connection in turn, while workers are free."""
        ready = self._ready
        while self.running < self.capacity and ready:
            session = ready.popleft()
            session.scheduled = False
            if not session.pending or not session.writable:
                continue  # drained, or back in the queue once its client reads again
            text = session.pending.popleft()
            self.running += 1
            if not self._dispatch(session, text):
                self.running -= 1
            if session.pending and session.writable and not session.scheduled:
                session.scheduled = True
                ready.append(session)
            session.taken()

    def drop(self, sessions: Iterable[Session] = ()) -> int:
        """Forget every waiting message (the emulator is stopping); return how many.

        Args:
            sessions: Connections to clear besides the ready ones (those held back because
                their client does not read).
        """
        dropped = 0
        for session in [*self._ready, *sessions]:
            session.scheduled = False
            dropped += len(session.pending)
            session.pending.clear()
        self._ready.clear()
        return dropped
