"""Attribute values, fuzzed: the wire codec's round trip (every type, nested, empty, binary),
the same JSON as botocore's serializer, and the registry's JSON-value encoder within
DynamoDB's number limits."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import botocore.session
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgate.aws.dynamodb_wire import decode_body, encode_body
from wsgate.registry.dynamodb_items import decode_value, encode_value

# DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 .. 9.9999E+125.
numbers = st.one_of(
    st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1).map(str),
    st.decimals(
        min_value=Decimal("-9.9999E+125"),
        max_value=Decimal("9.9999E+125"),
        allow_nan=False,
        allow_infinity=False,
        places=None,
    )
    .filter(lambda d: d == 0 or abs(d) >= Decimal("1E-130"))
    .map(lambda d: str(d.normalize()) if len(d.as_tuple().digits) <= 38 else "0"),
)
names = st.text(min_size=1, max_size=8)
scalars = st.one_of(
    st.builds(lambda s: {"S": s}, st.text(max_size=40)),
    st.builds(lambda n: {"N": n}, numbers),
    st.builds(lambda b: {"B": b}, st.binary(max_size=40)),
    st.builds(lambda b: {"BOOL": b}, st.booleans()),
    st.just({"NULL": True}),
    st.builds(
        lambda ss: {"SS": sorted(ss)},
        st.sets(st.text(min_size=1, max_size=10), min_size=1, max_size=5),
    ),
    st.builds(lambda ns: {"NS": sorted(ns)}, st.sets(numbers, min_size=1, max_size=5)),
    st.builds(
        lambda bs: {"BS": sorted(bs)},
        st.sets(st.binary(min_size=1, max_size=10), min_size=1, max_size=5),
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.builds(lambda m: {"M": m}, st.dictionaries(names, inner, max_size=4)),
        st.builds(lambda items: {"L": items}, st.lists(inner, max_size=4)),
    ),
    max_leaves=8,
)
items = st.dictionaries(names, values, max_size=4)


@settings(max_examples=200, deadline=None)
@given(items, items)
def test_wire_round_trip_in_every_member_that_holds_items(
    item: dict[str, Any], key: dict[str, Any]
) -> None:
    answer = {
        "Item": item,
        "Attributes": item,
        "Items": [item, key],
        "LastEvaluatedKey": key,
        "Responses": {"T": [item]},
        "UnprocessedKeys": {"T": {"Keys": [key], "ConsistentRead": True}},
        "UnprocessedItems": {
            "T": [{"PutRequest": {"Item": item}}, {"DeleteRequest": {"Key": key}}]
        },
        "Count": 2,
    }
    assert decode_body(encode_body(answer)) == answer


_MODEL = botocore.session.get_session().get_service_model("dynamodb")
_SERIALIZER = create_serializer("json", include_validation=False)


@settings(max_examples=200, deadline=None)
@given(items)
def test_wire_body_equals_botocores(item: dict[str, Any]) -> None:
    params = {"TableName": "T", "Item": item}
    ours = json.loads(encode_body(params))
    theirs = _SERIALIZER.serialize_to_request(params, _MODEL.operation_model("PutItem"))
    assert ours == json.loads(theirs["body"])


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**38) + 1, max_value=10**38 - 1),
        st.floats(allow_nan=False, allow_infinity=False, min_value=-1e125, max_value=1e125).filter(
            lambda f: f == 0 or abs(f) >= 1e-129
        ),
        st.text(max_size=30),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_registry_values_round_trip_through_the_wire(value: Any) -> None:
    encoded = encode_value(value)
    on_the_wire = decode_body(encode_body({"Item": {"v": encoded}}))["Item"]["v"]
    assert on_the_wire == encoded
    decoded = decode_value(on_the_wire)
    assert decoded == value
    assert _types(decoded) == _types(value)


def _types(value: Any) -> Any:
    # Fractions stay floats and ints stay ints, at any depth; DynamoDB keeps only "N", so a
    # whole float may come back as an int of the same value (the decoder's documented rule).
    if (isinstance(value, float) and value.is_integer()) or type(value) is int:
        return "whole"
    if isinstance(value, list):
        return [_types(v) for v in value]
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    return type(value).__name__
