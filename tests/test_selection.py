"""wsgate.selection: every rule of the reference's §3 (route selection), one test each."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgate.exceptions import InvalidRouteError, WsgateError
from wsgate.selection import (
    compile_expression,
    evaluate,
    select_route,
    stringify,
    validate_route_key,
)

ACTION = "$request.body.action"
KEYS = {"$connect", "$disconnect", "$default", "join", "sendMessage", "1", "chat/join"}


def body(**fields: Any) -> str:
    return json.dumps(fields)


# --- expression forms ---------------------------------------------------------------------------


def test_bare_form() -> None:
    assert evaluate(ACTION, body(action="join")) == "join"


def test_braced_form_is_equivalent() -> None:
    assert evaluate("${request.body.action}", body(action="join")) == "join"
    assert compile_expression("${request.body.action}").paths == compile_expression(ACTION).paths


def test_nested_path() -> None:
    assert evaluate("$request.body.meta.kind", body(meta={"kind": "ping"})) == "ping"


def test_bracket_name_and_index() -> None:
    doc = body(ops=[{"name": "first"}, {"name": "second"}], **{"a b": "spaced"})
    assert evaluate("$request.body.ops[1].name", doc) == "second"
    assert evaluate("${request.body.ops[0]['name']}", doc) == "first"
    assert evaluate("""${request.body["a b"]}""", doc) == "spaced"
    assert evaluate("$request.body.ops[-1].name", doc) == "second"


def test_template_with_several_variables_and_static_text() -> None:
    expr = "${request.body.service}/${request.body.action}"
    assert evaluate(expr, body(service="chat", action="join")) == "chat/join"


def test_missing_path_resolves_to_empty_string() -> None:
    expr = "${request.body.action}-${request.body.invalidPath}"
    assert evaluate(expr, body(action="join")) == "join-"
    assert evaluate(ACTION, body(other=1)) == ""
    assert evaluate("$request.body.a.b", body(a="scalar")) == ""
    assert evaluate("$request.body.xs[5]", body(xs=[1])) == ""


def test_evaluation_is_single_pass_no_recursion() -> None:
    # A value that looks like an expression is used literally, not evaluated again.
    assert evaluate(ACTION, body(action="${request.body.other}", other="x")) == (
        "${request.body.other}"
    )


def test_escaped_dollar_is_literal() -> None:
    assert evaluate("\\$default", body(action="join")) == "$default"
    assert evaluate("cost\\$${request.body.n}", body(n=5)) == "cost$5"


def test_static_expression_always_evaluates_to_its_literal() -> None:
    assert evaluate("action", body(action="join")) == "action"
    assert evaluate("action", "not json at all") == "action"
    assert compile_expression("action").is_static


# --- stringification ----------------------------------------------------------------------------


def test_number_is_stringified() -> None:
    assert evaluate(ACTION, body(action=1)) == "1"
    assert select_route(ACTION, body(action=1), KEYS) == "1"


def test_array_is_stringified_like_the_docs() -> None:
    assert evaluate(ACTION, body(action=["item1", "item2"])) == "[item1, item2]"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (1.5, "1.5"),
        (None, ""),
        ({"k": "v", "n": 2}, "{k=v, n=2}"),
        ([1, None, [2]], "[1, null, [2]]"),
    ],
)
def test_unverified_stringification_of_other_values(value: Any, text: str) -> None:
    # Not verified on AWS (docs/aws-behaviour.md §3, §11): Java toString convention, documented
    # in the module.
    assert stringify(value) == text
    assert evaluate(ACTION, json.dumps({"action": value})) == text


# --- matching -----------------------------------------------------------------------------------


def test_exact_match_selects_the_route() -> None:
    assert select_route(ACTION, body(action="sendMessage"), KEYS) == "sendMessage"


def test_match_is_case_sensitive() -> None:
    assert select_route(ACTION, body(action="sendmessage"), KEYS) == "$default"
    assert select_route(ACTION, body(action="JOIN"), KEYS) == "$default"


def test_no_match_falls_back_to_default() -> None:
    assert select_route(ACTION, body(action="unknown"), KEYS) == "$default"


def test_missing_key_falls_back_to_default() -> None:
    assert select_route(ACTION, body(data="hi"), KEYS) == "$default"


def test_no_match_and_no_default_is_none() -> None:
    assert select_route(ACTION, body(action="unknown"), {"join"}) is None
    assert select_route(ACTION, "not json", {"join"}) is None


def test_non_json_body_goes_to_default() -> None:
    assert select_route(ACTION, "hello\r\n\tthere", KEYS) == "$default"
    assert select_route(ACTION, "", KEYS) == "$default"
    assert select_route(ACTION, None, KEYS) == "$default"


@pytest.mark.parametrize("doc", ['"join"', "[1, 2]", "42", "null", "true"])
def test_json_that_is_not_an_object_goes_to_default(doc: str) -> None:
    # UNVERIFIED on AWS; see the module docstring.
    assert select_route(ACTION, doc, KEYS) == "$default"


def test_template_route_matches() -> None:
    expr = "${request.body.service}/${request.body.action}"
    assert select_route(expr, body(service="chat", action="join"), KEYS) == "chat/join"


def test_messages_never_select_connect_or_disconnect() -> None:
    assert select_route("\\$connect", body(), KEYS) == "$default"
    assert select_route(ACTION, body(action="$disconnect"), KEYS) == "$default"


def test_escaped_static_default_selects_default() -> None:
    assert select_route("\\$default", body(action="join"), KEYS) == "$default"


def test_bytes_body_is_accepted() -> None:
    assert select_route(ACTION, b'{"action": "join"}', KEYS) == "join"


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr",
    [
        "",
        "${request.body.action",
        "$request.header.x",
        "${context.routeKey}",
        "$foo",
        "${}",
        "$request.body.a[",
        "${request.body..a}",
        "${request.bodyx}",
        "${request.body.*}",
    ],
)
def test_invalid_expressions_raise(expr: str) -> None:
    with pytest.raises(InvalidRouteError) as info:
        compile_expression(expr)
    assert isinstance(info.value, ValueError)


def test_whole_body_variable_is_allowed() -> None:
    assert evaluate("${request.body}", body(a=1)) == "{a=1}"


def test_compiled_expressions_are_cached() -> None:
    assert compile_expression("$request.body.cached") is compile_expression("$request.body.cached")


@pytest.mark.parametrize(
    "key", ["sendMessage", "chat/join", "a b", "$connect", "$disconnect", "$default"]
)
def test_valid_route_keys(key: str) -> None:
    assert validate_route_key(key) == key


@pytest.mark.parametrize("key", ["", "$custom", "$Default", "$"])
def test_custom_route_keys_may_not_start_with_dollar(key: str) -> None:
    with pytest.raises(InvalidRouteError):
        validate_route_key(key)


@settings(max_examples=300, deadline=None)
@given(
    expr=st.text(alphabet="$\\{}[]'\".abrequestody0123-_", max_size=30),
    payload=st.text(max_size=30)
    | st.builds(json.dumps, st.dictionaries(st.text(max_size=4), st.integers())),
)
def test_selection_never_raises_anything_but_wsgate_errors(expr: str, payload: str) -> None:
    try:
        result = select_route(expr, payload, KEYS)
    except WsgateError:
        return
    assert result is None or result in KEYS
