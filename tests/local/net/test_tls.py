"""TLS on the emulator's port: https and wss verified against the local CA, plain alongside."""

from __future__ import annotations

import contextlib
import http.client
import os
import ssl
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import SSLError
from websockets.sync.client import connect

from support import ThreadedEmulator
from wsgate.exceptions import ConfigurationError
from wsgate.local.tls import LocalCA

from .conftest import API_HOST, connection_id


def test_the_ca_is_made_once_with_a_private_key_only_the_user_reads(tmp_path: Any) -> None:
    folder = tmp_path / "ca"
    first = LocalCA.load_or_create(folder)
    key = folder / "ca-key.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    pem = first.ca_bundle.read_bytes()
    again = LocalCA.load_or_create(folder)
    assert again.ca_bundle.read_bytes() == pem  # reused, not re-created (trust stays valid)
    assert key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_the_ca_folder_comes_from_the_environment(tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("WSGATE_CA_DIR", str(tmp_path / "from-env"))
    ca = LocalCA.load_or_create()
    assert ca.ca_bundle == tmp_path / "from-env" / "ca.pem"
    assert ca.ca_bundle.exists()


def test_the_trust_bundle_keeps_the_public_cas_next_to_the_local_one(ca: LocalCA) -> None:
    import certifi

    bundle = ca.trust_bundle().read_bytes()
    assert bundle.startswith(ca.ca_bundle.read_bytes())
    assert Path(certifi.where()).read_bytes().rstrip(b"\n") in bundle  # real AWS still verifies
    context = ssl.create_default_context(cafile=str(ca.trust_bundle()))
    assert len(context.get_ca_certs()) > 100


def test_a_damaged_ca_is_a_clear_error(tmp_path: Any) -> None:
    LocalCA.load_or_create(tmp_path)
    (tmp_path / "ca-key.pem").write_text("not a key")
    with pytest.raises(ConfigurationError, match="damaged"):
        LocalCA.load_or_create(tmp_path)


def test_a_lost_or_edited_ca_pem_is_written_again_from_the_key_file(tmp_path: Any) -> None:
    pem = LocalCA.load_or_create(tmp_path).ca_bundle.read_bytes()
    (tmp_path / "ca.pem").unlink()
    assert LocalCA.load_or_create(tmp_path).ca_bundle.read_bytes() == pem
    (tmp_path / "ca.pem").write_text("edited")
    assert LocalCA.load_or_create(tmp_path).ca_bundle.read_bytes() == pem


def test_emulators_starting_together_share_one_ca(tmp_path: Any) -> None:
    folder = tmp_path / "ca"
    script = (
        "import sys; from pathlib import Path; from wsgate.local.tls import LocalCA; "
        "ca = LocalCA.load_or_create(Path(sys.argv[1])); "
        "sys.stdout.write(ca.ca_bundle.read_text())"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(folder)], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert len(set(outputs)) == 1 and outputs[0].startswith("-----BEGIN CERTIFICATE-----")
    assert (folder / "ca.pem").read_text() == outputs[0]
    assert sorted(p.name for p in folder.iterdir()) == ["ca-key.pem", "ca.pem"]  # no leftovers


def test_boto3_over_https_with_aws_ca_bundle_posts_to_a_plain_ws_client(
    tls_emulator: ThreadedEmulator, ca: LocalCA, monkeypatch: Any
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(ca.ca_bundle))
    https = f"https://127.0.0.1:{tls_emulator.port}/local"
    assert tls_emulator.emulator.https_endpoint == https
    with connect(tls_emulator.ws_url) as ws:  # plain ws:// on the same port
        target = connection_id(tls_emulator, set())
        tls_emulator.client(endpoint=https).post_to_connection(ConnectionId=target, Data=b"hi")
        assert ws.recv(10) == "hi"
        info = tls_emulator.client(endpoint=https).get_connection(ConnectionId=target)
        assert "ConnectedAt" in info


def test_an_untrusted_certificate_is_refused_by_boto3(
    tls_emulator: ThreadedEmulator, monkeypatch: Any
) -> None:
    monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
    client = tls_emulator.client(endpoint=f"https://127.0.0.1:{tls_emulator.port}/local")
    with pytest.raises(SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        client.post_to_connection(ConnectionId="nobody", Data=b"x")


def test_a_wss_client_connects_and_receives(
    tls_emulator: ThreadedEmulator, ca: LocalCA, recorder: Any
) -> None:
    context = ssl.create_default_context(cafile=str(ca.ca_bundle))
    url = f"wss://localhost:{tls_emulator.port}/local"
    with connect(url, ssl=context) as ws:
        target = connection_id(tls_emulator, set())
        tls_emulator.client().post_to_connection(ConnectionId=target, Data=b"over tls")
        assert ws.recv(10) == "over tls"
        ws.send("ping")
        event = recorder.wait("MESSAGE")[0]
    assert event["body"] == "ping"
    assert event["requestContext"]["domainName"] == f"localhost:{tls_emulator.port}"


def test_plain_http_still_answers_on_the_tls_port(tls_emulator: ThreadedEmulator) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", tls_emulator.port, timeout=10)
    try:
        conn.request("GET", "/local")
        assert conn.getresponse().status == 426  # Upgrade Required, as API Gateway
    finally:
        conn.close()


def _handshake(client_context: ssl.SSLContext, server: ssl.SSLContext, name: str) -> None:
    """A full TLS handshake in memory: the checks a client runs (chain, then the name)."""
    incoming, outgoing, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client = client_context.wrap_bio(incoming, outgoing, server_hostname=name)
    peer = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        for side in (client, peer):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        s_in.write(outgoing.read())
        incoming.write(s_out.read())
    client.do_handshake()  # raises unless the handshake completed


NAMES = ["localhost", "127.0.0.1", "::1", API_HOST, "other1234.execute-api.us-east-1.amazonaws.com"]


@pytest.mark.parametrize("name", NAMES)
def test_the_certificate_covers_loopback_and_the_api_hostnames(ca: LocalCA, name: str) -> None:
    client = ssl.create_default_context(cafile=str(ca.ca_bundle))
    _handshake(client, ca.server_context([API_HOST]), name)


@pytest.mark.parametrize("name", ["example.com", "x.execute-api.eu-west-1.amazonaws.com"])
def test_other_hostnames_fail_verification(ca: LocalCA, name: str) -> None:
    client = ssl.create_default_context(cafile=str(ca.ca_bundle))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(client, ca.server_context([API_HOST]), name)


def test_another_ca_does_not_verify(ca: LocalCA, tmp_path: Any) -> None:
    stranger = LocalCA.load_or_create(tmp_path / "other")
    client = ssl.create_default_context(cafile=str(stranger.ca_bundle))
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(client, ca.server_context(), "localhost")
