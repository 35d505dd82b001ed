"""wsgate.responses: handler return values → API Gateway proxy response dicts."""

from __future__ import annotations

import base64
import json

import pytest

from wsgate.responses import Response, accept, error_response, reject, to_response


def test_none_is_a_bare_200() -> None:
    assert to_response(None).to_dict() == {"statusCode": 200}


def test_str_becomes_the_body() -> None:
    assert to_response("hi").to_dict() == {"statusCode": 200, "body": "hi"}


def test_bytes_become_a_base64_body() -> None:
    out = to_response(b"\x00\xff").to_dict()
    assert out == {"statusCode": 200, "body": "AP8=", "isBase64Encoded": True}
    assert base64.b64decode(out["body"]) == b"\x00\xff"


def test_dict_with_status_code_passes_through() -> None:
    raw = {"statusCode": 401, "headers": {"X-A": "1"}, "body": "no"}
    assert to_response(raw).to_dict() == raw


def test_dict_with_non_string_body_is_serialised() -> None:
    out = to_response({"statusCode": 200, "body": {"a": 1}}).to_dict()
    assert out == {"statusCode": 200, "body": '{"a":1}'}


def test_dict_without_status_code_is_a_json_body() -> None:
    out = to_response({"type": "pong", "n": 1}).to_dict()
    assert out["statusCode"] == 200
    assert json.loads(out["body"]) == {"type": "pong", "n": 1}


def test_list_and_numbers_are_json_bodies() -> None:
    assert to_response([1, 2]).to_dict() == {"statusCode": 200, "body": "[1,2]"}
    assert to_response(3).to_dict() == {"statusCode": 200, "body": "3"}


def test_response_object_is_kept() -> None:
    response = Response(202, "ok", {"X": "y"})
    assert to_response(response) is response
    assert response.to_dict() == {"statusCode": 202, "body": "ok", "headers": {"X": "y"}}


def test_unserialisable_value_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="object"):
        to_response(object())


@pytest.mark.parametrize("bad", [{"statusCode": "200"}, {"statusCode": True}])
def test_bad_status_code_type(bad: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        to_response(bad)


def test_status_code_out_of_range() -> None:
    with pytest.raises(ValueError, match="not an HTTP status"):
        Response(42)


def test_bad_headers_type() -> None:
    with pytest.raises(TypeError):
        to_response({"statusCode": 200, "headers": ["x"]})


def test_accept_with_subprotocol() -> None:
    response = accept("chat.v2")
    assert response.ok
    assert response.to_dict() == {
        "statusCode": 200,
        "headers": {"Sec-WebSocket-Protocol": "chat.v2"},
    }
    assert accept().to_dict() == {"statusCode": 200}


def test_reject() -> None:
    assert reject(401).to_dict() == {"statusCode": 401}
    out = reject(403, "banned").to_dict()
    assert out["statusCode"] == 403 and json.loads(out["body"]) == {"message": "banned"}
    assert not reject().ok
    with pytest.raises(ValueError, match="accepts"):
        reject(204)


def test_error_response_shape() -> None:
    out = error_response(500, "Internal server error").to_dict()
    assert out == {"statusCode": 500, "body": '{"message": "Internal server error"}'}


def test_equality() -> None:
    assert Response(200, "a") == Response(200, "a")
    assert Response(200, "a") != Response(200, "b")
