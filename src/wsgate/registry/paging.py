"""Ids-only, paged room and topic lookups: what a broadcast reads instead of whole records.

A broadcast needs each recipient's connection id and management endpoint, nothing else. The
backends give exactly that, a page at a time, in ascending connection-id order:

* :class:`Member` is ``(connection_id, endpoint)``.
* ``registry.group_pages(kind, name, *, page_size=None, after=None)`` yields non-empty
  ``list[Member]`` pages; ``kind`` is ``"room"`` or ``"topic"``. Each page is read when the
  iterator asks for it, so a broadcast posts the first page while later ones load.
* ``after`` resumes after a connection id (a page's last id is its cursor), so a worker can
  pick up a lookup where another one stopped.

The contract (checked by :class:`~wsgate.testing.contract.RegistryContract` on every backend):
members live for the whole lookup appear exactly once; members that join or leave during it
appear at most once; no id appears twice; expired connections never appear; pages never
exceed ``page_size``.

The DynamoDB backend answers from its membership index alone (the membership items carry the
endpoint and expiry as projected attributes), so a lookup of a crashed ``join``'s orphan may
still name a connection that is gone: the send then answers 410 and the sender prunes it.

:func:`member_pages` works on any registry: backends without ``group_pages`` (your own) are
read through ``room_members``/``subscribers`` and cut into pages.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterator

from wsgate.exceptions import InvalidRecordError
from wsgate.registry.base import check_id

TYPE_CHECKING = False  # typing is not imported at run time (a cold ``$connect``'s ms)
if TYPE_CHECKING:
    from typing import Any, Final, NamedTuple

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "GROUP_KINDS",
    "MAX_PAGE_SIZE",
    "Member",
    "check_page_args",
    "member_pages",
]

DEFAULT_PAGE_SIZE: Final = 1000
"""Members per page for memory and SQLite (DynamoDB's default page is its own 1 MB page)."""

MAX_PAGE_SIZE: Final = 100_000
"""Largest ``page_size`` accepted: a page is held in memory whole."""

GROUP_KINDS: Final = ("room", "topic")


if TYPE_CHECKING:

    class Member(NamedTuple):
        """One recipient of a group broadcast: what a send needs and nothing more.

        Attributes:
            connection_id: API Gateway's connection id.
            endpoint: The management endpoint stored with the connection, if any.
        """

        connection_id: str
        endpoint: str | None = None

else:
    # The same class at run time, built by collections.namedtuple as typing.NamedTuple does,
    # so that storing a connection (which imports this module) does not import typing.
    Member = namedtuple("Member", ("connection_id", "endpoint"), defaults=(None,))
    Member.__doc__ = """One recipient of a group broadcast: what a send needs and nothing more.

    Attributes:
        connection_id: API Gateway's connection id.
        endpoint: The management endpoint stored with the connection, if any.
    """


def check_page_args(
    kind: object, name: object, page_size: object, after: object
) -> tuple[str, str, int | None, str | None]:
    """The checked arguments of ``group_pages``.

    Raises:
        InvalidRecordError: An unknown kind, an empty or overlong name, a page size outside
            1..:data:`MAX_PAGE_SIZE`, or a bad ``after``.
    """
    if kind not in GROUP_KINDS:
        raise InvalidRecordError("kind", f"expected 'room' or 'topic', got {kind!r}")
    checked_name = check_id(name, str(kind))
    if page_size is not None and (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= MAX_PAGE_SIZE
    ):
        raise InvalidRecordError(
            "page_size", f"expected a whole number from 1 to {MAX_PAGE_SIZE}, got {page_size!r}"
        )
    checked_after = None if after is None else check_id(after, "after")
    return str(kind), checked_name, page_size, checked_after


def member_pages(
    registry: Any,
    kind: str,
    name: str,
    *,
    page_size: int | None = None,
    after: str | None = None,
) -> Iterator[list[Member]]:
    """Pages of a room's members or a topic's subscribers from any registry.

    Uses the backend's own ``group_pages`` when it has one; otherwise reads the full records
    once and cuts them into pages (the contract then holds for that snapshot).

    Raises:
        InvalidRecordError: Bad arguments (before anything is read).
        RegistryUnavailable: The backend failed.
    """
    kind, name, page_size, after = check_page_args(kind, name, page_size, after)
    native = getattr(registry, "group_pages", None)
    if native is not None:
        pages: Iterator[list[Member]] = native(kind, name, page_size=page_size, after=after)
        return pages
    return _cut(registry, kind, name, page_size or DEFAULT_PAGE_SIZE, after)


def _cut(
    registry: Any, kind: str, name: str, page_size: int, after: str | None
) -> Iterator[list[Member]]:
    records = registry.room_members(name) if kind == "room" else registry.subscribers(name)
    members = sorted(
        Member(record.connection_id, record.endpoint)
        for record in records
        if after is None or record.connection_id > after
    )
    for start in range(0, len(members), page_size):
        yield members[start : start + page_size]
