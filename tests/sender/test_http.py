"""The stdlib HTTP client over real sockets: TLS verification and keep-alive edge cases."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from wsgate.exceptions import TransportError
from wsgate.sender import HttpTransport, Sender

from .apistub import ApiStub
from .conftest import CREDS

MakeSender = Callable[..., Sender]


def _self_signed(tmp: Path, san: x509.GeneralName) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wsgate test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([san]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _contexts(tmp: Path, san: x509.GeneralName) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = _self_signed(tmp, san)
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
