"""``Connection`` and ``TableLayout`` behave as the frozen dataclasses they replaced.

They are plain ``__slots__`` classes so that a cold ``$connect`` imports no ``dataclasses``
(see tests/test_import.py); what callers relied on stays: value equality, a hash that skips
the metadata dict, immutability, ``repr``, ``match``, keyword and positional construction,
copies with changed fields, pickling.
"""

from __future__ import annotations

import pickle

import pytest

from wsgate.auth.identity import AuthorizerIdentity
from wsgate.registry.base import Connection, ConnectionRegistry
from wsgate.registry.dynamodb_table import TableLayout
from wsgate.registry.memory import MemoryRegistry


def _record(**changes: object) -> Connection:
    values: dict[str, object] = {
        "connection_id": "c1",
        "user_id": "ada",
        "connected_at": 10.0,
        "last_activity": 11.0,
        "metadata": {"role": "admin"},
        "expires_at": 99,
        "endpoint": "https://abc.execute-api.us-east-1.amazonaws.com/prod",
        "rooms": frozenset({"lobby"}),
        "topics": frozenset(),
    }
    values.update(changes)
    return Connection(**values)  # type: ignore[arg-type]


def test_equality_is_by_every_field_including_metadata() -> None:
    assert _record() == _record()
    assert _record() != _record(metadata={"role": "guest"})
    assert _record() != _record(rooms=frozenset())
    assert _record() != ("c1",)


def test_hash_skips_the_metadata_dict() -> None:
    assert hash(_record()) == hash(_record(metadata={"other": 1}))
    assert hash(_record()) != hash(_record(user_id="bob"))
    assert len({_record(), _record()}) == 1


def test_fields_cannot_be_assigned_or_deleted() -> None:
    record = _record()
    with pytest.raises(AttributeError):
        record.user_id = "mallory"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del record.endpoint  # type: ignore[misc]
    with pytest.raises(AttributeError):
        record.extra = 1  # type: ignore[attr-defined]
    assert record.user_id == "ada"


def test_defaults_positional_arguments_and_fresh_metadata() -> None:
    a, b = Connection("x"), Connection("x")
    assert (a.user_id, a.connected_at, a.expires_at, a.rooms) == (None, 0.0, 0, frozenset())
    assert a.metadata == {} and a.metadata is not b.metadata
    assert Connection("x", "ada", 1.0) == Connection(
        connection_id="x", user_id="ada", connected_at=1.0
    )


def test_repr_and_match_name_the_fields_in_order() -> None:
    record = _record(rooms=frozenset())
    assert repr(record).startswith("Connection(connection_id='c1', user_id='ada', connected_at=")
    match record:
        case Connection(cid, user, connected_at=at):
            assert (cid, user, at) == ("c1", "ada", 10.0)
        case _:  # pragma: no cover - the match above must succeed
            pytest.fail("no match")


def test_replace_returns_a_changed_copy_and_rejects_unknown_fields() -> None:
    record = _record()
    moved = record.replace(rooms=frozenset({"kitchen"}), last_activity=12.0)
    assert moved.rooms == {"kitchen"} and moved.last_activity == 12.0
    assert record.rooms == {"lobby"} and moved.user_id == record.user_id
    with pytest.raises(TypeError, match="colour"):
        record.replace(colour="red")


def test_pickle_round_trip() -> None:
    record = _record()
    assert pickle.loads(pickle.dumps(record)) == record


def test_table_layout_and_identity_are_records_too() -> None:
    assert TableLayout() == TableLayout()
    assert TableLayout(user_id="owner").user_id == "owner"
    assert hash(TableLayout()) == hash(TableLayout())
    with pytest.raises(AttributeError):
        TableLayout().rooms = "x"  # type: ignore[misc]
    identity = AuthorizerIdentity("ada")
    assert identity == AuthorizerIdentity("ada", {}) and identity.context == {}
    assert identity != AuthorizerIdentity("bob")


def test_connection_registry_protocol_still_checks_backends() -> None:
    assert isinstance(MemoryRegistry(), ConnectionRegistry)
    assert not isinstance(object(), ConnectionRegistry)
