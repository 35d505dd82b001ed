"""The contract of ids-only paged room and topic lookups (``group_pages``), on every backend.

Mixed into :class:`~wsgate.testing.contract.RegistryContract`, so every registry the contract
suite runs on is checked: pages in ascending id order, never over ``page_size``, each live
member exactly once with its endpoint, expired ones left out, ``after`` resuming, and members
joining and leaving while the pages are being read.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from wsgate.exceptions import InvalidRecordError
from wsgate.registry.base import ConnectionRegistry
from wsgate.registry.paging import Member, member_pages

__all__ = ["PagedLookupContract"]

ENDPOINT = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
OTHER_ENDPOINT = "https://zzz999.execute-api.eu-west-1.amazonaws.com/live"


def _flat(pages: Any) -> list[Member]:
    return [member for page in pages for member in page]


class PagedLookupContract:
    """Tests of ``group_pages``; needs the ``registry`` fixture of the contract suite."""

    def _fill(self, registry: ConnectionRegistry, count: int, group: str = "room") -> list[str]:
        ids = [f"m{index:03d}" for index in range(count)]
        for index, cid in enumerate(ids):
            registry.store(cid, endpoint=ENDPOINT if index % 3 else None)
            if group == "room":
                registry.join(cid, "big")
            else:
                registry.subscribe(cid, "big")
        return ids

    def test_pages_hold_each_member_once_in_order(self, registry: ConnectionRegistry) -> None:
        ids = self._fill(registry, 23)
        registry.store("outsider", endpoint=ENDPOINT)
        registry.join("outsider", "elsewhere")
        pages = list(member_pages(registry, "room", "big", page_size=5))
        assert pages and all(0 < len(page) <= 5 for page in pages)
        members = _flat(pages)
        assert [m.connection_id for m in members] == ids
        for index, member in enumerate(members):
            assert member.endpoint == (ENDPOINT if index % 3 else None)
        # the default page size gives the same members
        assert _flat(member_pages(registry, "room", "big")) == members

    def test_topic_pages_and_groups_kept_apart(self, registry: ConnectionRegistry) -> None:
        ids = self._fill(registry, 7, group="topic")
        assert [m.connection_id for m in _flat(member_pages(registry, "topic", "big"))] == ids
        assert list(member_pages(registry, "room", "big")) == []
        assert list(member_pages(registry, "topic", "nobody")) == []

    def test_after_resumes_past_a_cursor(self, registry: ConnectionRegistry) -> None:
        ids = self._fill(registry, 12)
        first = next(iter(member_pages(registry, "room", "big", page_size=4)))
        rest = _flat(member_pages(registry, "room", "big", page_size=4, after=first[-1][0]))
        assert [m.connection_id for m in first + rest] == ids

    def test_expired_left_and_deleted_members_are_left_out(
        self, registry: ConnectionRegistry
    ) -> None:
        ids = self._fill(registry, 6)
        registry.update(ids[1], expires_at=int(time.time()) - 1)
        registry.leave(ids[2], "big")
        registry.delete(ids[3])
        got = [m.connection_id for m in _flat(member_pages(registry, "room", "big", page_size=2))]
        assert got == [ids[0], ids[4], ids[5]]

    def test_pages_follow_endpoint_changes(self, registry: ConnectionRegistry) -> None:
        self._fill(registry, 3)
        registry.update("m001", endpoint=OTHER_ENDPOINT)
        registry.update("m002", endpoint=None)
        registry.store("m000", endpoint=OTHER_ENDPOINT)  # a repeated $connect keeps its rooms
        members = _flat(member_pages(registry, "room", "big"))
        assert members == [
            Member("m000", OTHER_ENDPOINT),
            Member("m001", OTHER_ENDPOINT),
            Member("m002", None),
        ]

    def test_members_joining_and_leaving_during_paging(self, registry: ConnectionRegistry) -> None:
        ids = self._fill(registry, 20)
        pages = iter(member_pages(registry, "room", "big", page_size=5))
        seen = list(next(pages))
        cursor = seen[-1].connection_id
        leaving = {ids[12], ids[17]}  # not read yet
        registry.leave(ids[12], "big")
        registry.delete(ids[17])
        registry.leave(ids[1], "big")  # already read
        joining = {"m005x", "m0155", "zz-late"}  # one before the cursor, two after
        for cid in joining:
            registry.store(cid, endpoint=ENDPOINT)
            registry.join(cid, "big")
        for page in pages:
            assert 0 < len(page) <= 5
            seen.extend(page)
        counts = Counter(m.connection_id for m in seen)
        assert max(counts.values()) == 1, "an id was returned twice"
        stable = set(ids) - leaving - {ids[1]}
        assert stable <= set(counts), f"missing {sorted(stable - set(counts))}"
        assert ids[1] in counts  # read before it left
        assert set(counts) <= set(ids) | joining
        ordered = [m.connection_id for m in seen]
        assert ordered == sorted(ordered)
        assert all(cid > cursor for cid in ordered[5:])

    def test_bad_page_arguments_are_refused(self, registry: ConnectionRegistry) -> None:
        for kind, name, size, after in (
            ("rooms", "big", None, None),
            ("room", "", None, None),
            ("room", "big", 0, None),
            ("room", "big", True, None),
            ("room", "big", 10**9, None),
            ("room", "big", None, ""),
        ):
            with pytest.raises(InvalidRecordError):
                member_pages(registry, kind, name, page_size=size, after=after)
