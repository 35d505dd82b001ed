"""The contract suite on SQLite, plus what only a file database shows: restarts, several
processes writing one file, and a corrupt file reported as a registry error."""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsgate.exceptions import RegistryUnavailable
from wsgate.registry import open_registry
from wsgate.registry.sqlite import SQLiteRegistry
from wsgate.testing.contract import RegistryContract


class TestSQLiteRegistry(RegistryContract):
    @pytest.fixture
    def registry(self, tmp_path: Path) -> Iterator[SQLiteRegistry]:
        registry = SQLiteRegistry(tmp_path / "sub" / "registry.db")
        yield registry
        registry.close()


class TestSQLiteInMemory(RegistryContract):
    many = 600

    @pytest.fixture
    def registry(self) -> Iterator[SQLiteRegistry]:
        registry = SQLiteRegistry(":memory:")
        yield registry
        registry.close()


def test_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    with SQLiteRegistry(path) as first:
        first.store("c1", user_id="alice", metadata={"k": "v"})
        first.join("c1", "lobby")
    second = open_registry(f"sqlite:///{path}")
    try:
        assert isinstance(second, SQLiteRegistry)
        got = second.get("c1")
        assert got is not None
        assert got.metadata == {"k": "v"} and got.rooms == frozenset({"lobby"})
        assert [c.connection_id for c in second.by_user("alice")] == ["c1"]
    finally:
        second.close()


def test_uses_wal_and_indexes(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    SQLiteRegistry(path).close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        plans = {
            "user": "SELECT * FROM connections WHERE user_id = 'u'",
            "room": "SELECT * FROM memberships WHERE kind = 'room' AND name = 'r'",
            "member": "SELECT * FROM memberships WHERE connection_id = 'c'",
        }
        for query in plans.values():
            plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {query}"))
            assert "SCAN" not in plan, plan
    finally:
        db.close()


def _writer(path: str, index: int, count: int) -> None:
    registry = SQLiteRegistry(path)
    try:
        for n in range(count):
            cid = f"p{index}-{n}"
            registry.store(cid, user_id=f"user{index}")
            registry.join(cid, "shared")
            if n % 3 == 0:
                registry.delete(cid)
    finally:
        registry.close()


def test_several_processes_write_one_file(tmp_path: Path) -> None:
    path = str(tmp_path / "registry.db")
    SQLiteRegistry(path).close()
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_writer, args=(path, i, 40)) for i in range(3)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0, 0, 0]
    expected = {f"p{i}-{n}" for i in range(3) for n in range(40) if n % 3}
    with SQLiteRegistry(path) as registry:
        assert {c.connection_id for c in registry.all()} == expected
        assert {c.connection_id for c in registry.room_members("shared")} == expected


def test_corrupt_file_is_a_registry_error(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RegistryUnavailable):
        SQLiteRegistry(path)


def test_closed_registry_refuses_calls(tmp_path: Path) -> None:
    registry = SQLiteRegistry(tmp_path / "r.db")
    registry.close()
    with pytest.raises(RegistryUnavailable):
        registry.get("c1")


def test_thread_connections_close_when_threads_end(tmp_path: Path) -> None:
    import gc
    import threading

    registry = SQLiteRegistry(tmp_path / "r.db")
    registry.store("c1")
    seen: list[bool] = []

    def reader() -> None:
        seen.append(registry.get("c1") is not None)

    for _ in range(20):
        thread = threading.Thread(target=reader)
        thread.start()
        thread.join()
    gc.collect()
    assert seen == [True] * 20
    assert len(registry._handles) <= 2  # this thread's, plus at most one not yet collected
    registry.close()
