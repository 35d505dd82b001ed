"""The standard-library validator (dataclasses, TypedDicts) and the Pydantic adapter, direct."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsgate.bodies import BodyType, body_type, is_model
from wsgate.exceptions import BodyValidationError, InvalidBodyError, MessageRejected
from wsgate.validator import MAX_DEPTH, MAX_ERRORS, compile_type

from . import models as m


def errors_of(model: type, document: Any) -> list[tuple[str, str]]:
    with pytest.raises(BodyValidationError) as info:
        body_type(model).validate(document, "r")
    assert info.value.errors, "a refusal lists at least one error"
    return list(info.value.errors)


def test_a_nested_dataclass_is_built_with_its_typed_fields() -> None:
    value = body_type(m.Shape).validate(
        {
            "name": "tri",
            "points": [{"x": 0, "y": 0}, {"x": 1, "y": 2}],
            "colour": "blue",
            "weight": 2,
            "tags": ["a", "a", "b"],
            "size": [3, 4],
            "extra": {"k": 1},
            "kind": "open",
        }
    )
    assert value == m.Shape(
        name="tri",
        points=[m.Point(0, 0), m.Point(1, 2)],
        colour=m.Colour.BLUE,
        weight=2.0,
        tags={"a", "b"},
        size=(3, 4),
        extra={"k": 1},
        kind="open",
    )
    assert isinstance(value.weight, float) and isinstance(value.points[1], m.Point)


def test_optional_fields_take_their_defaults_and_null() -> None:
    value = body_type(m.Shape).validate({"name": "x", "points": [], "label": None})
    assert value.label is None and value.colour is m.Colour.RED and value.tags == set()


def test_wrong_types_are_reported_with_paths_and_kinds() -> None:
    found = errors_of(
        m.Shape,
        {
            "name": 5,
            "points": [{"x": 0, "y": "1"}, "p"],
            "colour": "green",
            "weight": True,
            "size": [1],
            "extra": {"k": "v"},
            "kind": "ajar",
        },
    )
    assert found == [
        ("name", "expected a string, got an integer"),
        ("points[0].y", "expected an integer, got a string"),
        ("points[1]", "expected an object, got a string"),
        ("colour", "expected one of 'red', 'blue'"),
        ("weight", "expected a number, got a boolean"),
        ("size", "expected 2 items, got 1"),
        ("extra.k", "expected an integer, got a string"),
        ("kind", "expected one of 'open', 'closed'"),
    ]


def test_bool_is_not_an_int_and_strings_are_not_coerced() -> None:
    assert errors_of(m.Point, {"x": True, "y": "2"}) == [
        ("x", "expected an integer, got a boolean"),
        ("y", "expected an integer, got a string"),
    ]


def test_missing_fields_are_reported() -> None:
    assert errors_of(m.Shape, {}) == [("name", "field required"), ("points", "field required")]
    assert errors_of(m.Shape, []) == [("", "expected an object, got an array")]


def test_extra_fields_are_ignored_unless_forbidden() -> None:
    assert body_type(m.Point).validate({"x": 1, "y": 2, "z": 3}) == m.Point(1, 2)
    assert errors_of(m.Strict, {"text": "a", "bold": True}) == [("bold", "unexpected field")]
    assert errors_of(m.StrictNote, {"text": "a", "x": 1}) == [("x", "unexpected field")]


def test_typeddict_required_and_not_required_keys() -> None:
    ok = body_type(m.Note).validate({"text": "t", "ids": [1, "a"]})
    assert ok == {"text": "t", "ids": [1, "a"]}
    assert body_type(m.Note).validate({"text": "t", "ids": [], "meta": {}}) == {
        "text": "t",
        "ids": [],
        "meta": {},
    }
    assert errors_of(m.Note, {"meta": {"priority": "high"}, "ids": [1.5]}) == [
        ("text", "field required"),
        ("meta.priority", "expected an integer, got a string"),
        ("ids[0]", "expected int or str, got a number"),
    ]


def test_post_init_value_errors_are_field_errors() -> None:
    assert body_type(m.Positive).validate({"n": 2}) == m.Positive(2)
    assert errors_of(m.Positive, {"n": 0}) == [("", "n must be positive")]


def test_recursive_types_validate_and_deep_nesting_is_one_error() -> None:
    tree = body_type(m.Tree).validate({"value": 1, "children": [{"value": 2}]})
    assert tree == m.Tree(1, [m.Tree(2)])
    deep: dict[str, Any] = {"value": 0}
    for _ in range(400):
        deep = {"value": 0, "children": [deep]}
    found = errors_of(m.Tree, deep)
    assert len(found) == 1 and found[0][1] == "nested too deeply"
    assert found[0][0].count("children") == MAX_DEPTH // 2


def test_a_huge_wrong_body_stops_early_with_a_bounded_report() -> None:
    document = {"name": "x", "points": [{"x": "a", "y": "b"}] * 60_000}
    assert len(json.dumps(document)) > 1_000_000
    started = time.perf_counter()
    with pytest.raises(BodyValidationError) as info:
        body_type(m.Shape).validate(document, "big")
    elapsed = time.perf_counter() - started
    assert info.value.total == MAX_ERRORS
    assert len(info.value.errors) == 10
    assert len(info.value.reason) <= 300
    assert elapsed < 5.0  # stops at MAX_ERRORS instead of walking 120,000 errors


def test_pydantic_models_report_paths_without_input_values() -> None:
    person = body_type(m.Person).validate({"name": "ada", "age": "36"})
    assert person == m.Person(name="ada", age=36)
    found = errors_of(m.Person, {"name": "SECRET-INPUT", "age": [], "address": {"zip": "x" * 50}})
    assert [path for path, _ in found] == ["age", "address.city", "address.zip"]
    assert "SECRET-INPUT" not in json.dumps(found) and "xxxxx" not in json.dumps(found)
    assert errors_of(m.StrictPerson, {"name": "a", "b": 1}) == [
        ("b", "Extra inputs are not permitted")
    ]


def test_the_error_is_a_rejection_and_a_bad_body() -> None:
    with pytest.raises(BodyValidationError) as info:
        body_type(m.Point).validate({}, "pt")
    error = info.value
    assert isinstance(error, MessageRejected) and isinstance(error, InvalidBodyError)
    assert error.route_key == "pt" and error.total == 2
    assert error.reason == "invalid body: x: field required; y: field required"


def test_unsupported_and_non_model_types_fail_at_compile_time() -> None:
    import datetime

    with pytest.raises(TypeError, match="unsupported body field type"):
        compile_type(datetime.datetime)
    with pytest.raises(TypeError, match="keys are strings"):
        compile_type(dict[int, str])
    with pytest.raises(TypeError, match="not a body type"):
        BodyType(int)
    assert not is_model(dict) and is_model(m.Note) and is_model(m.Person) and is_model(m.Point)


def test_pydantic_huge_and_deep_bodies_give_bounded_reports() -> None:
    document = {"name": "x", "age": 1, "tags": [1] * 60_000}
    started = time.perf_counter()
    with pytest.raises(BodyValidationError) as info:
        body_type(m.Person).validate(document, "big")
    assert time.perf_counter() - started < 10.0
    assert info.value.total == 60_000 and len(info.value.errors) == 10
    deep: dict[str, Any] = {"value": 0}
    for _ in range(2000):
        deep = {"value": 0, "children": [deep]}
    with pytest.raises(BodyValidationError) as info:
        body_type(m.Node).validate(deep, "deep")
    assert 1 <= len(info.value.errors) <= 10 and len(info.value.reason) <= 300


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    document=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
        max_leaves=30,
    )
)
def test_any_json_value_is_a_typed_value_or_a_bounded_refusal(document: Any) -> None:
    for model in (m.Shape, m.Note, m.Tree, m.Person):
        try:
            body_type(model).validate(document, "fuzz")
        except BodyValidationError as exc:
            assert 1 <= len(exc.errors) <= 10 and exc.total >= len(exc.errors)
            assert len(exc.reason) <= 300
