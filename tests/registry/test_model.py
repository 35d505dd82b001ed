"""Model-based test: random sequences of registry operations give the same observable state on
SQLite as on the in-memory registry (the model)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)

from wsgate.exceptions import ConnectionNotFound
from wsgate.registry.base import ConnectionRegistry
from wsgate.registry.dynamodb import DynamoDBRegistry
from wsgate.registry.memory import MemoryRegistry
from wsgate.registry.sqlite import SQLiteRegistry

from .conftest import table_name

IDS = st.sampled_from(["a", "b"])
USERS = st.none() | st.just("u1")
GROUPS = st.sampled_from(["r1", "r#2"])
METADATA = st.dictionaries(
    st.sampled_from(["x", "y", "z"]), st.integers(-5, 5) | st.text(max_size=3), max_size=3
)


def view(registry: ConnectionRegistry, cid: str) -> Any:
    record = registry.get(cid)
    if record is None:
        return None
    return (record.user_id, record.metadata, record.rooms, record.topics, record.expires_at)


class SameAsModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model = MemoryRegistry()
        self.real = self.make_real()

    def make_real(self) -> Any:
        self.folder = tempfile.TemporaryDirectory()
        return SQLiteRegistry(Path(self.folder.name) / "r.db")

    def teardown(self) -> None:
        self.real.close()
        self.folder.cleanup()

    def both(self, method: str, *args: Any, **kwargs: Any) -> None:
        outcomes = []
        for registry in (self.model, self.real):
            try:
                result = getattr(registry, method)(*args, **kwargs)
                outcomes.append(("ok", result if isinstance(result, bool | int) else None))
            except ConnectionNotFound:
                outcomes.append(("not found", None))
        assert outcomes[0] == outcomes[1], (method, args, outcomes)

    @rule(cid=IDS, user=USERS, metadata=METADATA)
    def store(self, cid: str, user: str | None, metadata: dict[str, Any]) -> None:
        self.both("store", cid, user_id=user, metadata=metadata, expires_at=4_000_000_000)

    @rule(cid=IDS, user=USERS, metadata=METADATA, merge=st.booleans())
    def update(self, cid: str, user: str | None, metadata: dict[str, Any], merge: bool) -> None:
        self.both("update", cid, user_id=user, metadata=metadata, merge_metadata=merge)

    @rule(cid=IDS)
    def delete(self, cid: str) -> None:
        self.both("delete", cid)

    @rule(ids=st.lists(IDS, max_size=3))
    def delete_many(self, ids: list[str]) -> None:
        self.both("delete_many", ids)

    @rule(cid=IDS, group=GROUPS, topic=st.booleans())
    def join(self, cid: str, group: str, topic: bool) -> None:
        self.both("subscribe" if topic else "join", cid, group)

    @rule(cid=IDS, group=GROUPS, topic=st.booleans())
    def leave(self, cid: str, group: str, topic: bool) -> None:
        self.both("unsubscribe" if topic else "leave", cid, group)

    @invariant()
    def same_state(self) -> None:
        for cid in ("a", "b"):
            assert view(self.model, cid) == view(self.real, cid), cid
        for group in ("r1", "r#2"):
            for method in ("room_members", "subscribers"):
                mine = [c.connection_id for c in getattr(self.real, method)(group)]
                model = [c.connection_id for c in getattr(self.model, method)(group)]
                assert mine == model, (method, group)
        for user in ("u1",):
            assert [c.connection_id for c in self.real.by_user(user)] == [
                c.connection_id for c in self.model.by_user(user)
            ]
        assert self.real.count() == self.model.count()


TestSameAsModel = SameAsModel.TestCase
TestSameAsModel.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.dynamodb
@pytest.mark.slow
def test_dynamodb_on_dynalite_matches_the_model(dynalite_client: Any) -> None:
    class OnDynalite(SameAsModel):
        def make_real(self) -> Any:
            registry = DynamoDBRegistry(table_name(), client=dynalite_client)
            registry.create_table()
            return registry

        def teardown(self) -> None:
            self.real.delete_table()

    run_state_machine_as_test(
        OnDynalite,
        settings=settings(
            max_examples=8,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
