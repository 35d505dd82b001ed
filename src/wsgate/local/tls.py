"""A local certificate authority, so the emulator's port can answer TLS that clients verify.

Apps build their Management API endpoint as ``https://{domainName}/{stage}`` or
``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}``; both need a certificate the
function's SDK accepts. :class:`LocalCA` keeps one CA per user (created once, in
``~/.cache/wsgate/ca/`` or ``$WSGATE_CA_DIR``) and issues short-lived server certificates for
loopback and the API's hostnames from it. Functions are told to trust the CA through
``AWS_CA_BUNDLE`` (botocore) and ``NODE_EXTRA_CA_CERTS`` (Node.js); a browser or curl can trust
:attr:`LocalCA.ca_bundle` too (see docs/emulator.md).

Needs ``cryptography`` (the ``local`` extra).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wsgate.exceptions import ConfigurationError

__all__ = ["CA_DIR_VARIABLE", "LocalCA", "api_hostname", "default_ca_dir"]

logger = logging.getLogger("wsgate.local")

#: Environment variable naming the directory of the local CA.
CA_DIR_VARIABLE = "WSGATE_CA_DIR"
CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
TRUST_FILE = "trust.pem"
CA_DAYS = 3650
SERVER_DAYS = 30
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def default_ca_dir() -> Path:
    """``$WSGATE_CA_DIR``, else ``$XDG_CACHE_HOME/wsgate/ca``, else ``~/.cache/wsgate/ca``."""
    if env := os.environ.get(CA_DIR_VARIABLE):
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "wsgate" / "ca"


def api_hostname(api_id: str, region: str) -> str:
    """The hostname AWS gives a WebSocket API: ``{api_id}.execute-api.{region}.amazonaws.com``."""
    return f"{api_id}.execute-api.{region}.amazonaws.com".lower()


@dataclass(frozen=True)
class LocalCA:
    """A certificate authority kept on disk for local TLS.

    Attributes:
        directory: Where ``ca.pem`` and ``ca-key.pem`` (mode 0600) live.
        ca_bundle: The CA certificate (PEM): what clients are told to trust.
    """

    directory: Path
    ca_bundle: Path

    @classmethod
    def load_or_create(cls, directory: Path | None = None) -> LocalCA:
        """Load the CA in ``directory`` (default :func:`default_ca_dir`), creating it once.

        ``ca-key.pem`` (mode 0600) holds the key and the certificate and is created in one
        step (a temporary file hard-linked into place), so emulators starting at the same time
        end up with the same CA; ``ca.pem`` is (re)written from it when missing or different.

        Raises:
            ConfigurationError: The directory cannot be written, or holds a damaged CA.
        """
        folder = Path(directory) if directory is not None else default_ca_dir()
        cert_path, key_path = folder / CA_CERT_FILE, folder / CA_KEY_FILE
        try:
            if not key_path.exists() and _create_ca(folder, key_path):
                logger.info("created a local certificate authority in %s", folder)
            ca = cls(folder, cert_path)
            _cert, _key, cert_pem = ca._load()  # fail now, not at the first handshake
            if not cert_path.exists() or cert_path.read_bytes() != cert_pem:
                _write_atomically(cert_path, cert_pem, 0o644)
        except OSError as exc:
            raise ConfigurationError(f"local CA in {folder}: {exc}") from exc
        return ca

    def _load(self) -> tuple[Any, Any, bytes]:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        data = (self.directory / CA_KEY_FILE).read_bytes()
        start = data.find(b"-----BEGIN CERTIFICATE-----")
        try:
            if start < 0:
                raise ValueError("no certificate after the key")
            cert = x509.load_pem_x509_certificate(data[start:])
            key = serialization.load_pem_private_key(data[:start], password=None)
        except ValueError as exc:
            raise ConfigurationError(
                f"local CA in {self.directory} is damaged ({exc}); delete the folder to make a "
                "new one (and trust the new ca.pem again)"
            ) from exc
        return cert, key, data[start:]

    def trust_bundle(self) -> Path:
        """A PEM file with this CA *and* the usual public CAs, for ``AWS_CA_BUNDLE`` and co.

        botocore uses ``AWS_CA_BUNDLE`` instead of its own bundle, ``requests`` does the same
        with ``REQUESTS_CA_BUNDLE``, and OpenSSL with ``SSL_CERT_FILE`` (Node.js, by contrast,
        adds ``NODE_EXTRA_CA_CERTS`` to its own), so the local CA alone would make calls to
        real services fail verification. The public part is certifi's bundle (what botocore
        and requests use) followed by OpenSSL's default file (the system's store, which may
        hold an organisation's own CAs). Rewritten on each call (atomically).
        """
        sources: list[Path] = []
        try:
            import certifi

            sources.append(Path(certifi.where()))
        except ImportError:
            pass
        if cafile := ssl.get_default_verify_paths().cafile:
            sources.append(Path(cafile))
        parts = [self.ca_bundle.read_bytes().rstrip(b"\n") + b"\n"]
        for source in dict.fromkeys(sources):
            try:
                parts.append(source.read_bytes().rstrip(b"\n") + b"\n")
            except OSError:
                continue  # a default path that is not there on this system
        path = self.directory / TRUST_FILE
        _write_atomically(path, b"".join(parts), 0o644)
        return path

    def server_context(self, hostnames: Sequence[str] = ()) -> ssl.SSLContext:
        """A server-side context with a fresh certificate for loopback plus ``hostnames``.

        For every ``*.execute-api.{region}.amazonaws.com`` name among ``hostnames`` the
        certificate also covers that wildcard, so any API id of the region verifies.
        """
        names = list(dict.fromkeys([*LOOPBACK_NAMES, *(h.lower() for h in hostnames)]))
        for name in list(names):
            head, dot, rest = name.partition(".")
            if dot and rest.startswith("execute-api.") and head != "*":
                names.append(f"*.{rest}")
        pem = self.issue(list(dict.fromkeys(names)))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.set_alpn_protocols(["http/1.1"])  # a browser offering h2 gets HTTP/1.1
        with tempfile.TemporaryDirectory(prefix="wsgate-tls-") as folder:
            path = Path(folder) / "server.pem"
            path.touch(0o600)
            path.write_bytes(pem)
            context.load_cert_chain(path)
        return context

    def issue(self, names: Sequence[str], days: int = SERVER_DAYS) -> bytes:
        """A server certificate for ``names`` signed by this CA: key + certificate, PEM."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        ca_cert, ca_key, _pem = self._load()
        assert isinstance(ca_cert, x509.Certificate)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        key = ec.generate_private_key(ec.SECP256R1())
        san: list[x509.GeneralName] = []
        for name in names:
            try:
                san.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                san.append(x509.DNSName(name))
        now = datetime.datetime.now(datetime.UTC)
        ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wsgate local")]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ) + cert.public_bytes(serialization.Encoding.PEM)


def _create_ca(folder: Path, key_path: Path) -> bool:
    """Make a CA into ``key_path`` unless another process just did; whether this one did."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    user = os.environ.get("USER") or os.environ.get("USERNAME") or "local"
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wsgate local development CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"wsgate local CA ({user})"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Written 0600 from the start (mkstemp), then linked into place: link never replaces an
    # existing file, so when two processes race, the first CA stays and both use it.
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".ca-key-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key_pem + cert.public_bytes(serialization.Encoding.PEM))
        os.link(temporary, key_path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temporary)
    return True


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".wsgate-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
