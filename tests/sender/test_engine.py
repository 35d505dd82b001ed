"""Which engine runs a Sender's calls: chosen by the transport's declared capability."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wsgate.sender import HttpTransport, Sender, StaticCredentials
from wsgate.sender import loop as sender_loop

from .apistub import ApiStub

MakeSender = Callable[..., Sender]
CREDS = StaticCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


class CountingTransport(HttpTransport):
    """A subclass that only counts attempts: it must keep the synchronous engine."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.attempts = 0

    def attempt(self, *args: Any, **kwargs: Any) -> Any:
        self.attempts += 1
        return super().attempt(*args, **kwargs)


def _no_loop(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the async engine ran: a HttpTransport subclass lost the fast path")


def test_a_http_transport_subclass_keeps_the_synchronous_engine(
    stub: ApiStub, make_sender: MakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.connect("a=", "b", "c")
    monkeypatch.setattr(sender_loop, "run", _no_loop)
    transport = CountingTransport(credentials=CREDS, region="us-east-1", timeout=2.0)
    sender = make_sender(stub.endpoint, transport=transport)

    sender.send("a=", {"n": 1})
    assert sender.info("b").source_ip == "127.0.0.1"
    result = sender.broadcast(["a=", "b", "c", "gone"], "x")
    sender.close("c")

    assert sorted(result.sent) == ["a=", "b", "c"]
    assert result.gone == ["gone"]
    assert stub.received("a=") == [b'{"n":1}', b"x"]
    assert transport.attempts == 3  # send, info, close: one attempt each (broadcast: post_many)
    assert "c" not in stub.state.live


def test_the_capability_is_declared_not_inferred_from_the_type() -> None:
    from wsgate.sender.async_engine import AsyncEngine

    class Custom(HttpTransport):
        synchronous = False  # replaces the async methods: asks for the async engine

    assert Sender("http://127.0.0.1:1/x", transport=Custom())._engine.__class__ is AsyncEngine
    plain = Sender("http://127.0.0.1:1/x", transport=HttpTransport())
    assert plain._engine is plain.transport
    plain.transport = Custom()  # assigning a transport picks its engine again
    assert plain._engine.__class__ is AsyncEngine


class AsyncOnly:
    """A minimal async transport (no ``synchronous`` attribute): driven by the async engine."""

    def __init__(self) -> None:
        self.posted: list[str] = []

    async def post(self, endpoint: str, connection_id: str, data: bytes) -> None:
        self.posted.append(connection_id)

    async def get(self, endpoint: str, connection_id: str) -> Any:
        raise NotImplementedError

    async def delete(self, endpoint: str, connection_id: str) -> None:
        return None


def test_an_async_transport_runs_on_the_async_engine(make_sender: MakeSender) -> None:
    transport = AsyncOnly()
    sender = make_sender("http://127.0.0.1:1/x", transport=transport)
    sender.send("one", b"1")
    result = sender.broadcast(["two", "three"], b"2")
    assert sorted(result.sent) == ["three", "two"]
    assert sorted(transport.posted) == ["one", "three", "two"]
