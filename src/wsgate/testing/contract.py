"""The registry contract suite: the behaviour every :class:`ConnectionRegistry` must show.

Point it at your own backend by subclassing :class:`RegistryContract` in a test module and
providing a ``registry`` fixture that yields a fresh, empty registry::

    import pytest
    from wsgate.testing.contract import RegistryContract

    class TestMyRegistry(RegistryContract):
        @pytest.fixture
        def registry(self):
            reg = MyRegistry(...)
            yield reg
            reg.close()

wsgate runs this same suite against memory, SQLite, and DynamoDB on dynalite and moto_server.
Needs pytest (imported here, so import this module from tests only).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from wsgate.exceptions import ConnectionNotFound, InvalidRecordError
from wsgate.registry.base import Connection, ConnectionRegistry
from wsgate.testing.paging_contract import PagedLookupContract

__all__ = ["RegistryContract"]

ENDPOINT = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"


def _ids(records: Any) -> set[str]:
    return {record.connection_id for record in records}


def _run_threads(target: Callable[[int], object], count: int) -> None:
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "writer threads hung"
    if errors:
        raise errors[0]


class RegistryContract(PagedLookupContract):
    """Tests every registry backend must pass. Subclass and define a ``registry`` fixture."""

    #: How many connections the pagination test stores (past one page of every backend's reads).
    many: ClassVar[int] = 1050
    #: Writer threads in the concurrency tests.
    writers: ClassVar[int] = 8

    # --- store / get -----------------------------------------------------------------------

    def test_is_a_connection_registry(self, registry: ConnectionRegistry) -> None:
        assert isinstance(registry, ConnectionRegistry)

    def test_store_then_get_returns_every_field(self, registry: ConnectionRegistry) -> None:
        before = time.time()
        stored = registry.store(
            "AAAAAAAAAAAAAAA=",
            user_id="alice",
            metadata={"client": "1.0", "n": 3, "ratio": 0.5, "tags": ["a"], "deep": {"x": None}},
            endpoint=ENDPOINT,
            connected_at=1_700_000_000.25,
        )
        got = registry.get("AAAAAAAAAAAAAAA=")
        assert got == stored
        assert got.user_id == "alice"
        assert got.connected_at == 1_700_000_000.25
        assert before - 1 <= got.last_activity <= time.time() + 1
        assert got.metadata == {
            "client": "1.0",
            "n": 3,
            "ratio": 0.5,
            "tags": ["a"],
            "deep": {"x": None},
        }
        assert got.endpoint == ENDPOINT
        assert abs(got.expires_at - (before + registry.ttl)) <= 2
        assert got.rooms == frozenset() and got.topics == frozenset()
        item = got.to_item()
        assert item["connectionId"] == "AAAAAAAAAAAAAAA="
        assert item["userId"] == "alice"
        assert item["expiresAt"] == got.expires_at
        assert Connection.from_item(item) == got

    def test_get_unknown_returns_none(self, registry: ConnectionRegistry) -> None:
        assert registry.get("nobody") is None

    def test_store_with_explicit_expiry(self, registry: ConnectionRegistry) -> None:
        expiry = int(time.time()) + 60
        assert registry.store("c1", expires_at=expiry).expires_at == expiry
        got = registry.get("c1")
        assert got is not None and got.expires_at == expiry

    def test_metadata_is_copied_not_shared(self, registry: ConnectionRegistry) -> None:
        metadata: dict[str, Any] = {"list": [1]}
        registry.store("c1", metadata=metadata)
        metadata["list"].append(2)
        metadata["new"] = True
        got = registry.get("c1")
        assert got is not None and got.metadata == {"list": [1]}

    def test_store_again_keeps_rooms_and_updates_fields(self, registry: ConnectionRegistry) -> None:
        registry.store("c1", user_id="alice")
        registry.join("c1", "lobby")
        again = registry.store("c1", user_id="bob", metadata={"v": 2})
        assert again.rooms == frozenset({"lobby"})
        assert again.user_id == "bob"
        assert _ids(registry.by_user("bob")) == {"c1"}
        assert registry.by_user("alice") == []
        assert _ids(registry.room_members("lobby")) == {"c1"}

    def test_store_over_an_expired_record_starts_afresh(self, registry: ConnectionRegistry) -> None:
        registry.store("c1", user_id="old")
        registry.join("c1", "lobby")
        registry.subscribe("c1", "news")
        registry.update("c1", expires_at=int(time.time()) - 1)
        fresh = registry.store("c1", user_id="new")
        assert fresh.rooms == frozenset() and fresh.topics == frozenset()
        assert registry.room_members("lobby") == [] and registry.subscribers("news") == []
        assert _ids(registry.by_user("new")) == {"c1"}

    def test_concurrent_stores_of_one_expired_id(self, registry: ConnectionRegistry) -> None:
        registry.store("c1")
        registry.join("c1", "lobby")
        registry.update("c1", expires_at=int(time.time()) - 1)
        _run_threads(lambda i: registry.store("c1", metadata={"writer": i}), self.writers)
        got = registry.get("c1")
        assert got is not None and got.rooms == frozenset()
        assert got.metadata["writer"] in range(self.writers)
        assert registry.count() == 1

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"connection_id": ""}, "connection_id"),
            ({"connection_id": 5}, "connection_id"),
            ({"connection_id": "c", "user_id": ""}, "user_id"),
            ({"connection_id": "c", "metadata": {"x": float("nan")}}, "metadata"),
            ({"connection_id": "c", "metadata": {"x": {1, 2}}}, "metadata"),
            ({"connection_id": "c", "metadata": {1: "x"}}, "metadata"),
            ({"connection_id": "c", "metadata": ["x"]}, "metadata"),
            ({"connection_id": "c", "metadata": {"x": "y" * 70_000}}, "metadata"),
            ({"connection_id": "c", "expires_at": 1_700_000_000_000}, "expires_at"),
            ({"connection_id": "c", "expires_at": "soon"}, "expires_at"),
            ({"connection_id": "c", "endpoint": "ftp://x"}, "endpoint"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_stored(
        self, registry: ConnectionRegistry, kwargs: dict[str, Any], field: str
    ) -> None:
        args = dict(kwargs)
        connection_id = args.pop("connection_id")
        with pytest.raises(InvalidRecordError) as info:
            registry.store(connection_id, **args)
        assert info.value.field == field
        assert registry.count() == 0

    # --- update ----------------------------------------------------------------------------

    def test_update_changes_only_given_fields(self, registry: ConnectionRegistry) -> None:
        registry.store("c1", user_id="alice", metadata={"a": 1}, endpoint=ENDPOINT)
        updated = registry.update("c1", metadata={"b": 2})
        assert updated.metadata == {"b": 2}
        assert updated.user_id == "alice" and updated.endpoint == ENDPOINT
        assert registry.get("c1") == updated

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"user_id": "b", "metadata": {"v": 2}, "endpoint": "ftp://x"}, "endpoint"),
            (
                {"user_id": "b", "endpoint": ENDPOINT + "/2", "metadata": {"n": float("nan")}},
                "metadata",
            ),
            ({"metadata": {"v": 2}, "user_id": ""}, "user_id"),
            ({"user_id": "b", "metadata": {"v": 2}, "expires_at": -1}, "expires_at"),
        ],
    )
    def test_update_with_one_bad_field_changes_nothing(
        self, registry: ConnectionRegistry, kwargs: dict[str, Any], field: str
    ) -> None:
        registry.store("c1", user_id="a", metadata={"v": 1}, endpoint=ENDPOINT)
        before = registry.get("c1")
        with pytest.raises(InvalidRecordError) as info:
            registry.update("c1", **kwargs)
        assert info.value.field == field
        assert registry.get("c1") == before
        assert registry.by_user("b") == []

    def test_store_again_with_one_bad_field_keeps_the_old_record(
        self, registry: ConnectionRegistry
    ) -> None:
        registry.store("c1", user_id="a", metadata={"v": 1}, endpoint=ENDPOINT)
        registry.join("c1", "lobby")
        before = registry.get("c1")
        with pytest.raises(InvalidRecordError):
            registry.store("c1", user_id="b", metadata={"v": 2}, connected_at=-5)
        assert registry.get("c1") == before
        assert registry.by_user("b") == [] and _ids(registry.by_user("a")) == {"c1"}

    def test_update_merges_metadata(self, registry: ConnectionRegistry) -> None:
        registry.store("c1", metadata={"a": 1, "b": {"x": 1}})
        updated = registry.update("c1", metadata={"b": {"y": 2}, "c": 3}, merge_metadata=True)
        assert updated.metadata == {"a": 1, "b": {"y": 2}, "c": 3}
        got = registry.get("c1")
        assert got is not None and got.metadata == updated.metadata

    def test_merged_metadata_keeps_the_size_limit(self, registry: ConnectionRegistry) -> None:
        chunk = "x" * 20_000  # four of these pass 64 KiB; each merge alone is small
        registry.store("c1", metadata={"k0": chunk})
        for n in (1, 2):
            registry.update("c1", metadata={f"k{n}": chunk}, merge_metadata=True)
        with pytest.raises(InvalidRecordError) as info:
            for n in range(3, 8):
                registry.update("c1", metadata={f"k{n}": chunk}, merge_metadata=True)
        assert info.value.field == "metadata"
        got = registry.get("c1")
        assert got is not None and sorted(got.metadata) == ["k0", "k1", "k2"]  # nothing written
        replaced = registry.update("c1", metadata={"k0": "small"}, merge_metadata=True)
        assert replaced.metadata["k0"] == "small"  # a merge that shrinks it still works

    def test_deep_metadata_is_an_invalid_record(self, registry: ConnectionRegistry) -> None:
        from wsgate.registry.base import MAX_METADATA_DEPTH

        def nested(levels: int) -> dict[str, Any]:
            value: dict[str, Any] = {"leaf": 1}
            for _ in range(levels - 1):
                value = {"n": value}
            return value

        very_deep = nested(100_000)  # json.dumps would raise RecursionError on it
        with pytest.raises(InvalidRecordError) as info:
            registry.store("c1", metadata=very_deep)
        assert info.value.field == "metadata"
        assert registry.count() == 0
        limit = nested(MAX_METADATA_DEPTH)  # DynamoDB's limit: 31 containers around a value
        registry.store("c1", metadata=limit)
        got = registry.get("c1")
        assert got is not None and got.metadata == limit
        for deep in (nested(MAX_METADATA_DEPTH + 1), very_deep):
            with pytest.raises(InvalidRecordError):
                registry.update("c1", metadata=deep)
            with pytest.raises(InvalidRecordError):
                registry.update("c1", metadata={"more": deep}, merge_metadata=True)
        listed: list[Any] = ["leaf"]
        for _ in range(MAX_METADATA_DEPTH - 1):
            listed = [listed]  # lists count as levels too
        with pytest.raises(InvalidRecordError):
            registry.update("c1", metadata={"l": listed})
        got = registry.get("c1")
        assert got is not None and got.metadata == limit  # nothing was written

    def test_update_user_moves_the_user_index(self, registry: ConnectionRegistry) -> None:
        registry.store("c1", user_id="alice")
        registry.update("c1", user_id="bob")
        assert registry.by_user("alice") == []
        assert _ids(registry.by_user("bob")) == {"c1"}
        registry.update("c1", user_id=None, endpoint=None)
        assert registry.by_user("bob") == []
        got = registry.get("c1")
        assert got is not None and got.user_id is None and got.endpoint is None

    def test_update_after_delete_raises_and_does_not_recreate(
        self, registry: ConnectionRegistry
    ) -> None:
        registry.store("c1")
        registry.delete("c1")
        with pytest.raises(ConnectionNotFound) as info:
            registry.update("c1", metadata={"x": 1})
        assert info.value.connection_id == "c1"
        assert isinstance(info.value, KeyError)
        assert registry.get("c1") is None
        assert registry.count() == 0

    def test_update_unknown_raises(self, registry: ConnectionRegistry) -> None:
        with pytest.raises(ConnectionNotFound):
            registry.update("ghost", user_id="x")
        assert registry.by_user("x") == []

    def test_update_of_expired_record_raises(self, registry: ConnectionRegistry) -> None:
        registry.store("c1", expires_at=int(time.time()) - 5)
        with pytest.raises(ConnectionNotFound):
            registry.update("c1", expires_at=int(time.time()) + 600)
        assert registry.get("c1") is None

    # --- delete ----------------------------------------------------------------------------

    def test_delete_leaves_every_room_and_topic(self, registry: ConnectionRegistry) -> None:
        registry.store("c1")
        registry.store("c2")
        for room in ("r1", "r2"):
            registry.join("c1", room)
            registry.join("c2", room)
        registry.subscribe("c1", "t1")
        assert registry.delete("c1") is True
        assert registry.get("c1") is None
        assert _ids(registry.room_members("r1")) == {"c2"}
        assert _ids(registry.room_members("r2")) == {"c2"}
        assert registry.subscribers("t1") == []
        assert registry.delete("c1") is False

    def test_delete_many_in_batches(self, registry: ConnectionRegistry) -> None:
        ids = [f"conn-{i:03d}" for i in range(60)]
        for cid in ids:
            registry.store(cid)
        for cid in ids[:30]:
            registry.join(cid, "big")
        doomed = [*ids[:55], "unknown-1", ids[0]]
        assert registry.delete_many(doomed) == 55
        assert {c.connection_id for c in registry.all()} == set(ids[55:])
        assert registry.room_members("big") == []
        assert registry.delete_many([]) == 0

    # --- touch -----------------------------------------------------------------------------

    def test_touch_is_throttled(self, registry: ConnectionRegistry) -> None:
        stored = registry.store("c1")
        t0 = stored.last_activity
        assert registry.touch("c1", now=t0 + 10) is False
        assert registry.touch("c1", now=t0 + 61) is True
        assert registry.touch("c1", now=t0 + 90) is False
        assert registry.touch("c1", now=t0 + 200, min_interval=0) is True
        got = registry.get("c1")
        assert got is not None and got.last_activity == pytest.approx(t0 + 200)
        assert registry.touch("ghost", now=t0 + 500) is False
        assert registry.get("ghost") is None

    # --- expiry ----------------------------------------------------------------------------

    def test_expired_records_are_never_returned(self, registry: ConnectionRegistry) -> None:
        registry.store("live", user_id="u")
        registry.store("dead", user_id="u")
        for cid in ("live", "dead"):
            registry.join(cid, "room")
            registry.subscribe(cid, "topic")
        registry.update("dead", expires_at=int(time.time()) - 1)
        assert registry.get("dead") is None
        assert _ids(registry.all()) == {"live"}
        assert _ids(registry.by_user("u")) == {"live"}
        assert _ids(registry.room_members("room")) == {"live"}
        assert _ids(registry.subscribers("topic")) == {"live"}
        assert _ids(registry.active_since(0)) == {"live"}
        assert registry.rooms_of("dead") == frozenset()
        assert registry.count() == 1
        with pytest.raises(ConnectionNotFound):
            registry.join("dead", "other")

    def test_cleanup_removes_expired_and_stale(self, registry: ConnectionRegistry) -> None:
        now = time.time()
        registry.store("expired", expires_at=int(now) - 10)
        registry.store("fresh")
        registry.store("idle")
        registry.join("fresh", "room")
        registry.join("idle", "room")
        registry.touch("fresh", now=now + 3000)
        assert registry.cleanup() == 1
        assert registry.cleanup(now=now + 3600, max_age=1800) == 1
        assert _ids(registry.all()) == {"fresh"}
        assert _ids(registry.room_members("room")) == {"fresh"}
        assert registry.cleanup(now=now + registry.ttl + 10) == 1
        assert registry.count() == 0

    # --- queries ---------------------------------------------------------------------------

    def test_all_streams_past_one_page(self, registry: ConnectionRegistry) -> None:
        ids = {f"page-{i:05d}" for i in range(self.many)}
        ordered = sorted(ids)

        def store_slice(index: int) -> None:
            for cid in ordered[index :: self.writers]:
                registry.store(cid, user_id="u1" if cid.endswith("7") else None)

        _run_threads(store_slice, self.writers)
        seen = [c.connection_id for c in registry.all()]
        assert len(seen) == len(ids) and set(seen) == ids
        assert registry.count() == self.many
        assert len(registry.by_user("u1")) == sum(1 for cid in ids if cid.endswith("7"))

    def test_by_user_returns_each_device(self, registry: ConnectionRegistry) -> None:
        registry.store("phone", user_id="alice")
        registry.store("laptop", user_id="alice")
        registry.store("other", user_id="bob")
        registry.store("anon")
        assert _ids(registry.by_user("alice")) == {"phone", "laptop"}
        assert registry.by_user("carol") == []

    def test_active_since(self, registry: ConnectionRegistry) -> None:
        t0 = registry.store("old").last_activity
        registry.store("new")
        registry.touch("new", now=t0 + 500)
        assert _ids(registry.active_since(t0 + 100)) == {"new"}
        assert _ids(registry.active_since(t0 - 100)) == {"old", "new"}

    def test_count(self, registry: ConnectionRegistry) -> None:
        assert registry.count() == 0
        registry.store("a")
        registry.store("b")
        registry.store("a")
        assert registry.count() == 2

    # --- rooms and topics ------------------------------------------------------------------

    def test_rooms(self, registry: ConnectionRegistry) -> None:
        registry.store("c1", user_id="alice")
        registry.store("c2")
        assert registry.join("c1", "lobby") is True
        assert registry.join("c1", "lobby") is False
        assert registry.join("c1", "room#2") is True
        assert registry.join("c2", "lobby") is True
        assert registry.rooms_of("c1") == frozenset({"lobby", "room#2"})
        members = registry.room_members("lobby")
        assert _ids(members) == {"c1", "c2"}
        c1 = next(m for m in members if m.connection_id == "c1")
        assert c1.user_id == "alice" and c1.rooms == frozenset({"lobby", "room#2"})
        assert registry.leave("c1", "lobby") is True
        assert registry.leave("c1", "lobby") is False
        assert registry.leave("ghost", "lobby") is False
        assert _ids(registry.room_members("lobby")) == {"c2"}
        assert registry.rooms_of("c1") == frozenset({"room#2"})
        assert registry.rooms_of("ghost") == frozenset()
        assert registry.room_members("empty") == []

    def test_topics(self, registry: ConnectionRegistry) -> None:
        registry.store("c1")
        assert registry.subscribe("c1", "prices") is True
        assert registry.subscribe("c1", "prices") is False
        assert registry.topics_of("c1") == frozenset({"prices"})
        assert registry.rooms_of("c1") == frozenset()
        assert _ids(registry.subscribers("prices")) == {"c1"}
        assert registry.room_members("prices") == []
        assert registry.unsubscribe("c1", "prices") is True
        assert registry.unsubscribe("c1", "prices") is False
        assert registry.subscribers("prices") == []

    def test_join_unknown_or_deleted_raises_and_leaves_nothing(
        self, registry: ConnectionRegistry
    ) -> None:
        with pytest.raises(ConnectionNotFound):
            registry.join("ghost", "lobby")
        registry.store("c1")
        registry.delete("c1")
        with pytest.raises(ConnectionNotFound):
            registry.join("c1", "lobby")
        with pytest.raises(ConnectionNotFound):
            registry.subscribe("c1", "t")
        assert registry.room_members("lobby") == []
        assert registry.subscribers("t") == []
        registry.store("c1")
        assert registry.rooms_of("c1") == frozenset()

    def test_bad_room_names_are_refused(self, registry: ConnectionRegistry) -> None:
        registry.store("c1")
        with pytest.raises(InvalidRecordError):
            registry.join("c1", "")
        with pytest.raises(InvalidRecordError):
            registry.subscribe("c1", None)  # type: ignore[arg-type]
        assert registry.rooms_of("c1") == frozenset()

    # --- the gateway functions over this backend ---------------------------------------------

    @pytest.mark.parametrize(
        ("updates", "field"),
        [
            ({"userId": "b", "rooms": [""]}, "rooms"),
            ({"userId": "b", "rooms": ["ok", "x" * 513]}, "rooms"),
            ({"userId": "b", "topics": ["news", None]}, "topics"),
            ({"metadata": {"v": 2}, "topics": [""]}, "topics"),
            ({"userId": "b", "metadata": {"v": 2}, "endpoint": "ftp://x"}, "endpoint"),
            ({"userId": "b", "rooms": ["new"], "metadata": {"bad": {1, 2}}}, "metadata"),
            ({"userId": "", "rooms": ["new"]}, "user_id"),
            ({"rooms": ["new"], "topics": ["t2"], "expiresAt": "soon"}, "ttl"),
            ({"userId": "b", "rooms": ["new"], "lastActivity": -1}, "lastActivity"),
            ({"userId": "b", "rooms": ["new"], "colour": "red"}, "updates"),
        ],
    )
    def test_ws_update_connection_writes_nothing_on_bad_input(
        self, registry: ConnectionRegistry, updates: dict[str, Any], field: str
    ) -> None:
        from wsgate import config
        from wsgate.gateway import ws_update_connection

        registry.store("c1", user_id="a", metadata={"v": 1}, endpoint=ENDPOINT)
        registry.join("c1", "old")
        registry.subscribe("c1", "t1")
        before = registry.get("c1")
        config.configure(registry=registry)
        try:
            with pytest.raises(InvalidRecordError) as info:
                ws_update_connection("c1", updates)
        finally:
            config.reset()
        assert info.value.field == field
        assert registry.get("c1") == before
        assert registry.by_user("b") == []
        assert _ids(registry.room_members("old")) == {"c1"}
        assert registry.room_members("new") == []

    # --- concurrency -----------------------------------------------------------------------

    def test_concurrent_writers(self, registry: ConnectionRegistry) -> None:
        per_writer = 12

        def writer(index: int) -> None:
            for n in range(per_writer):
                cid = f"w{index}-{n}"
                registry.store(cid, user_id=f"user{index}")
                registry.join(cid, "shared")
                registry.subscribe(cid, f"t{n % 3}")
                registry.update(cid, metadata={"n": n}, merge_metadata=True)
                if n % 2:
                    assert registry.delete(cid) is True

        _run_threads(writer, self.writers)
        expected = {f"w{i}-{n}" for i in range(self.writers) for n in range(0, per_writer, 2)}
        assert _ids(registry.all()) == expected
        assert _ids(registry.room_members("shared")) == expected
        assert registry.count() == len(expected)
        for i in range(self.writers):
            assert len(registry.by_user(f"user{i}")) == per_writer // 2

    def test_concurrent_merges_into_one_connection_lose_nothing(
        self, registry: ConnectionRegistry
    ) -> None:
        registry.store("c1", metadata={"start": True})
        per_writer = 5

        def writer(index: int) -> None:
            for n in range(per_writer):
                registry.update("c1", metadata={f"w{index}-{n}": n}, merge_metadata=True)

        _run_threads(writer, 4)
        got = registry.get("c1")
        assert got is not None
        expected = {f"w{i}-{n}" for i in range(4) for n in range(per_writer)} | {"start"}
        assert set(got.metadata) == expected

    def test_concurrent_join_and_delete_leave_no_dangling_members(
        self, registry: ConnectionRegistry
    ) -> None:
        rounds = 15

        def racer(index: int) -> None:
            for n in range(rounds):
                cid = f"race-{n}"
                if index == 0:
                    registry.store(cid)
                    registry.delete(cid)
                else:
                    with contextlib.suppress(ConnectionNotFound):
                        registry.join(cid, f"room{index}")

        _run_threads(racer, 4)
        live = _ids(registry.all())
        for index in range(1, 4):
            members = registry.room_members(f"room{index}")
            assert _ids(members) <= live
            assert all(f"room{index}" in m.rooms for m in members)
        assert live == set()
        assert registry.delete_many([f"race-{n}" for n in range(rounds)]) == 0
