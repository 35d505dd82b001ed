"""The HTTP/1.1 response parser: exact cases, then hypothesis fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgate.aws.response import HTTPProtocolError, HttpResponse, ResponseParser


def _parse_all(chunks: list[bytes], eof: bool = False) -> list[HttpResponse]:
    parser = ResponseParser()
    out: list[HttpResponse] = []
    for chunk in chunks:
        out.extend(parser.feed(chunk))
    if eof:
        last = parser.feed_eof()
        if last is not None:
            out.append(last)
    return out


def test_content_length_and_keep_alive() -> None:
    [resp] = _parse_all(
        [b"HTTP/1.1 410 Gone\r\nx-amzn-ErrorType: GoneException\r\nContent-Length: 0\r\n\r\n"]
    )
    assert (resp.status, resp.reason, resp.body, resp.keep_alive) == (410, "Gone", b"", True)
    assert resp.headers["x-amzn-errortype"] == "GoneException"


def test_chunked_with_extensions_and_trailers() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nX-T: 1\r\n\r\n"
    )
    [resp] = _parse_all([raw])
    assert resp.body == b"hello!"


def test_interim_and_no_body_statuses() -> None:
    raw = (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    resps = _parse_all([raw])
    assert [(r.status, r.body) for r in resps] == [(204, b""), (200, b"ok")]


def test_body_until_close_and_connection_close() -> None:
    parser = ResponseParser()
    assert parser.feed(b"HTTP/1.0 200 OK\r\n\r\npart") == []
    assert parser.feed(b"ial") == []
    resp = parser.feed_eof()
    assert resp is not None and resp.body == b"partial" and not resp.keep_alive
    [closing] = _parse_all([b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"])
    assert not closing.keep_alive


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXX",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        b"garbage\r\n\r\n",
    ],
)
def test_malformed_is_a_protocol_error(raw: bytes) -> None:
    with pytest.raises(HTTPProtocolError):
        _parse_all([raw])


def test_truncated_response_at_eof_is_an_error() -> None:
    parser = ResponseParser()
    parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(HTTPProtocolError):
        parser.feed_eof()
    with pytest.raises(HTTPProtocolError):
        parser.feed(b"more")


# --- fuzzing --------------------------------------------------------------------------------

_token = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12).filter(
    lambda s: s not in ("content-length", "transfer-encoding", "connection")
)
_value = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=20)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, int, bytes]:
    status = draw(st.sampled_from([200, 204, 400, 403, 410, 413, 429, 500, 503]))
    body = b"" if status == 204 else draw(st.binary(max_size=300))
    headers = draw(st.lists(st.tuples(_token, _value), max_size=4))
    lines = [f"HTTP/1.1 {status} Reason Phrase"] + [f"{k}: {v}" for k, v in headers]
    if status == 204:
        payload = b""
    elif draw(st.booleans()):
        lines.append("Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 64), max_size=8))
        parts, rest = [], body
        for size in sizes:
            if rest:
                parts.append(rest[:size])
                rest = rest[size:]
        if rest:
            parts.append(rest)
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        payload = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload, status, body


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return [p for p in pieces if p]


@settings(max_examples=300, deadline=None)
@given(st.lists(responses(), min_size=1, max_size=4), st.lists(st.integers(0, 10_000), max_size=12))
def test_split_anywhere_parses_the_same(
    items: list[tuple[bytes, int, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(raw for raw, _, _ in items)
    parsed = _parse_all(_split(stream, cuts))
    assert [(r.status, r.body) for r in parsed] == [(s, b) for _, s, b in items]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(0, 500), max_size=6), st.booleans())
def test_arbitrary_bytes_only_raise_protocol_errors(
    data: bytes, cuts: list[int], eof: bool
) -> None:
    with contextlib.suppress(HTTPProtocolError):
        _parse_all(_split(data, cuts), eof=eof)


@settings(max_examples=300, deadline=None)
@given(responses(), st.integers(0, 10_000), st.binary(min_size=1, max_size=4), st.booleans())
def test_corrupted_responses_only_raise_protocol_errors(
    item: tuple[bytes, int, bytes], at: int, junk: bytes, eof: bool
) -> None:
    raw = item[0]
    at %= len(raw)
    corrupted = raw[:at] + junk + raw[at + len(junk) :]
    try:
        for resp in _parse_all([corrupted], eof=eof):
            assert 100 <= resp.status <= 999
    except HTTPProtocolError:
        pass


# --- the one-read fast path against the general parser ---------------------------------------

_AWS_200 = (
    b"HTTP/1.1 200 OK\r\nDate: Wed, 25 Nov 2026 19:40:00 GMT\r\n"
    b"Content-Type: application/json\r\nContent-Length: 0\r\nConnection: keep-alive\r\n"
    b"x-amzn-RequestId: 4f1c0c2e-2b7e-4f0a-9d7b-0c4a3e1f2a11\r\n"
    b"x-amz-apigw-id: AbCdEfGhIjKlMnO=\r\nX-Amzn-Trace-Id: Root=1-6565e2a0-12345678\r\n\r\n"
)


def _general(raw: bytes) -> list[tuple[object, ...]] | str:
    # Feeding the first byte alone forces the general (incremental) path.
    parser = ResponseParser()
    try:
        out = parser.feed(raw[:1]) + parser.feed(raw[1:])
    except HTTPProtocolError:
        return "error"
    return [(r.status, r.reason, r.headers, r.body, r.keep_alive) for r in out]


def _one_read(raw: bytes) -> list[tuple[object, ...]] | str:
    try:
        out = ResponseParser().feed(raw)
    except HTTPProtocolError:
        return "error"
    return [(r.status, r.reason, r.headers, r.body, r.keep_alive) for r in out]


def test_api_gateway_answer_takes_the_fast_path_with_lazy_headers() -> None:
    [resp] = ResponseParser().feed(_AWS_200)
    assert resp._headers is None  # nothing parsed the header block yet
    assert (resp.status, resp.reason, resp.body, resp.keep_alive) == (200, "OK", b"", True)
    assert resp.headers["x-amzn-requestid"] == "4f1c0c2e-2b7e-4f0a-9d7b-0c4a3e1f2a11"
    assert _one_read(_AWS_200) == _general(_AWS_200)


_length_line = st.sampled_from(
    ["Content-Length: {n}", "content-length:{n}", "Content-Length: \t{n} ", "Content-Length: +{n}"]
)
_extra_line = st.sampled_from(
    [
        "Content-Length: {n}",
        "Content-Length: 99",
        "Connection: keep-alive",
        "Connection: close",
        "connection: Keep-Alive, Upgrade",
        "Connection: upgrade, CLOSE",
        "Connection: keep-alive\r\nConnection: close",
        "Connection: \xa0close",
        "Connection: close\xa0",
        "Transfer-Encoding: identity",
        "X-Odd: caf\xe9",
        "Bad Name: x",
        "X-Bare: a\nb",
        "X-CR: a\rb",
        ": empty name",
    ]
)


@st.composite
def fast_path_candidates(draw: st.DrawFn) -> bytes:
    # Mostly answers the fast path takes, each with one twist it must notice (or not).
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0"]))
    status = draw(st.sampled_from([200, 200, 200, 410, 429, 500, 100, 204, 304]))
    reason = draw(st.sampled_from([" OK", "", " ", " Gone Away", " caf\xe9"]))
    body = draw(st.binary(max_size=40))
    n = len(body) + draw(st.sampled_from([0, 0, 0, 0, 1, -1]))
    lines = [f"{version} {status}{reason}"]
    lines += [f"{k}: {v}" for k, v in draw(st.lists(st.tuples(_token, _value), max_size=2))]
    lines.append(draw(_length_line).format(n=n))
    for _ in range(draw(st.integers(0, 2))):
        lines.insert(draw(st.integers(1, len(lines))), draw(_extra_line).format(n=n))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@settings(max_examples=1500, deadline=None)
@given(fast_path_candidates())
def test_fast_path_agrees_with_the_general_parser(raw: bytes) -> None:
    assert _one_read(raw) == _general(raw)
