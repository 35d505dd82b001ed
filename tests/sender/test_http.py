"""The stdlib HTTP client over real sockets: TLS verification and keep-alive edge cases."""

from __future__ import annotations

import ipaddress
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509

from support.tls import self_signed
from wsgate.exceptions import TransportError
from wsgate.sender import HttpTransport, Sender

from .apistub import ApiStub
from .conftest import CREDS

MakeSender = Callable[..., Sender]


def _contexts(tmp: Path, san: x509.GeneralName) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = self_signed(tmp, san)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(cafile=str(cert))
    return server, client


def test_tls_with_verified_certificate(tmp_path: Path, make_sender: MakeSender) -> None:
    server_ctx, client_ctx = _contexts(tmp_path, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    with ApiStub(ssl_context=server_ctx) as stub:
        stub.connect("c1=")
        assert stub.endpoint.startswith("https://")
        sender = make_sender(stub.endpoint, ssl_context=client_ctx)
        for n in range(5):
            sender.send("c1=", f"secure {n}")
        assert sender.info("c1=").source_ip == "127.0.0.1"
        assert stub.received("c1=") == [f"secure {n}".encode() for n in range(5)]
        assert stub.state.accepted == 1  # one TLS handshake, then keep-alive


def test_tls_host_name_mismatch_is_refused(tmp_path: Path, make_sender: MakeSender) -> None:
    server_ctx, client_ctx = _contexts(tmp_path, x509.DNSName("other.example"))
    with ApiStub(ssl_context=server_ctx) as stub:
        stub.connect("c1")
        sender = make_sender(stub.endpoint, ssl_context=client_ctx, max_attempts=1)
        with pytest.raises(TransportError) as info:
            sender.send("c1", "x")
        assert isinstance(info.value.__cause__, ssl.SSLCertVerificationError)
        assert stub.received("c1") == []


def test_tls_untrusted_certificate_is_refused(tmp_path: Path, make_sender: MakeSender) -> None:
    server_ctx, _ = _contexts(tmp_path, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    with ApiStub(ssl_context=server_ctx) as stub:
        stub.connect("c1")
        sender = make_sender(
            stub.endpoint, ssl_context=ssl.create_default_context(), max_attempts=1
        )
        with pytest.raises(TransportError):
            sender.send("c1", "x")
        assert stub.received("c1") == []


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_server_closing_idle_keep_alive_connections(make_sender: MakeSender) -> None:
    with ApiStub(idle_close=0.1) as stub:
        stub.connect("c1")
        transport = HttpTransport(credentials=CREDS, region="us-east-1", timeout=2.0)
        sender = make_sender(stub.endpoint, transport=transport, max_attempts=1)
        for round_ in range(3):
            sender.send("c1", f"m{round_}")
            _wait_for(lambda r=round_: stub.state.server_closed >= r + 1)  # type: ignore[misc]
        # No retries allowed: the pool itself must notice the closed connection and reconnect.
        assert stub.received("c1") == [b"m0", b"m1", b"m2"]
        assert transport.pool.connections_opened == 3


def test_server_closing_after_each_answer_without_notice(make_sender: MakeSender) -> None:
    with ApiStub(close_after=1) as stub:
        stub.connect("c1")
        transport = HttpTransport(credentials=CREDS, region="us-east-1", timeout=2.0)
        sender = make_sender(stub.endpoint, transport=transport, max_attempts=1)
        for n in range(20):
            sender.send("c1", str(n))
        assert stub.received("c1") == [str(n).encode() for n in range(20)]


def test_keep_alive_reuses_connections(stub: ApiStub, make_sender: MakeSender) -> None:
    stub.connect("c1")
    transport = HttpTransport(credentials=CREDS, region="us-east-1")
    sender = make_sender(stub.endpoint, transport=transport)
    for n in range(50):
        sender.send("c1", str(n))
    assert transport.pool.connections_opened == 1
    assert stub.state.accepted == 1


def test_answer_longer_than_the_read_buffer(stub: ApiStub, make_sender: MakeSender) -> None:
    # Connections read into a 4 KiB buffer: a longer answer arrives in several reads.
    long_ip = "198.51.100." + "7" * 20_000
    stub.connect("big=", source_ip=long_ip)
    sender = make_sender(stub.endpoint)
    for _ in range(3):  # and the keep-alive connection stays usable afterwards
        assert sender.info("big=").source_ip == long_ip
    sender.send("big=", b"after")
    assert stub.received("big=") == [b"after"]


def test_tls_broadcast_reuses_connections_across_calls(
    tmp_path: Path, make_sender: MakeSender
) -> None:
    # TLS 1.3 servers send session tickets after the handshake: an idle connection that
    # becomes readable for that reason must stay in the pool, not be dropped as closed.
    server_ctx, client_ctx = _contexts(tmp_path, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    with ApiStub(ssl_context=server_ctx) as stub:
        ids = [f"t{n}=" for n in range(40)]
        stub.connect(*ids)
        transport = HttpTransport(credentials=CREDS, region="us-east-1", ssl_context=client_ctx)
        sender = make_sender(stub.endpoint, transport=transport, max_concurrency=8)
        first = sender.broadcast(ids, "one")
        opened = transport.pool.connections_opened
        time.sleep(0.05)  # let tickets arrive while the connections sit idle
        second = sender.broadcast(ids, "two")
        assert sorted(first.sent) == sorted(ids) == sorted(second.sent)
        assert 1 <= opened <= 8
        assert transport.pool.connections_opened == opened  # all reused
        assert all(stub.received(cid) == [b"one", b"two"] for cid in ids)


def test_threads_send_at_once_through_one_pool(stub: ApiStub, make_sender: MakeSender) -> None:
    # No loop thread: each call runs in its caller's thread; they share idle connections.
    import threading

    ids = [f"p{n}=" for n in range(400)]
    stub.connect(*ids)
    transport = HttpTransport(credentials=CREDS, region="us-east-1")
    sender = make_sender(stub.endpoint, transport=transport, max_concurrency=16)
    results: list[object] = []
    errors: list[BaseException] = []

    def work(part: list[str]) -> None:
        try:
            results.append(sender.broadcast(part, "fan"))
            for cid in part[:5]:
                sender.send(cid, "single")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ids[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(len(r.sent) for r in results) == 400  # type: ignore[attr-defined]
    for i, cid in enumerate(ids):
        expected = [b"fan", b"single"] if i // 4 < 5 else [b"fan"]
        assert stub.received(cid) == expected
    assert transport.pool.connections_opened <= 4 * 16
    assert transport.pool.idle_count() >= 1


def test_connection_refused_is_a_transport_error_for_every_recipient(
    make_sender: MakeSender,
) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sender = make_sender(f"http://127.0.0.1:{port}/test", max_attempts=2)
    result = sender.broadcast(["a", "b", "c"], "x")
    assert result.sent == [] and sorted(result.failed) == ["a", "b", "c"]
    assert all(isinstance(e, TransportError) for e in result.failed.values())
    with pytest.raises(TransportError, match=r"Connection refused|ECONNREFUSED"):
        sender.send("a", "x")


def test_async_protocol_methods_still_work(stub: ApiStub) -> None:
    # Code that drives a transport itself (the Transport protocol) gets one attempt per call.
    import asyncio

    from wsgate.exceptions import ConnectionGoneError

    stub.connect("c1=")
    transport = HttpTransport(credentials=CREDS, region="us-east-1")

    async def main() -> None:
        await transport.post(stub.endpoint, "c1=", b"hello")
        info = await transport.get(stub.endpoint, "c1=")
        assert info.connection_id == "c1="
        await transport.delete(stub.endpoint, "c1=")
        with pytest.raises(ConnectionGoneError):
            await transport.post(stub.endpoint, "c1=", b"late")
        await transport.aclose()

    asyncio.run(main())
    assert stub.received("c1=") == [b"hello"]
    assert transport.pool.idle_count() == 0


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_child_does_not_reuse_the_parents_connections(
    stub: ApiStub, make_sender: MakeSender
) -> None:
    import os

    stub.connect("c1=")
    transport = HttpTransport(credentials=CREDS, region="us-east-1")
    sender = make_sender(stub.endpoint, transport=transport)
    sender.send("c1=", "parent")
    assert transport.pool.idle_count() == 1
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        try:
            sender.send("c1=", "child")
            ok = transport.pool.connections_opened == 2
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0  # the child opened its own connection
    sender.send("c1=", "parent again")  # and the parent's connection still works
    assert transport.pool.connections_opened == 1
    assert stub.received("c1=") == [b"parent", b"child", b"parent again"]
