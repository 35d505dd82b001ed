"""AWS Signature Version 4 for the ``@connections`` calls, with the signing key cached per day.

A full SigV4 implementation (botocore's) derives the signing key with four HMACs for every
request and builds the canonical request through general-purpose header maps. For this one
API the request shape is fixed — ``host`` and ``x-amz-date`` (plus ``x-amz-security-token``
with temporary credentials) are the only signed headers, there is never a query string —
so a signature costs one SHA-256 of the canonical request and one HMAC with a key derived
once per (secret, day, region). ``tests/sender/test_sigv4.py`` checks every header and the
canonical request against ``botocore.auth.SigV4Auth``.

The canonical URI is the path **as it goes on the wire** (connection id already
percent-encoded, ``@`` left as is), encoded once more per SigV4's rules for every service
but S3: ``/prod/@connections/abc%3D`` is signed as ``/prod/%40connections/abc%253D``.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from wsgate.sender.credentials import Credentials

__all__ = ["EMPTY_SHA256", "SigV4Signer", "amz_date", "canonical_uri", "payload_hash"]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_ALGORITHM = "AWS4-HMAC-SHA256"


def payload_hash(data: bytes) -> str:
    """Hex SHA-256 of a body, as the canonical request's last line."""
    return hashlib.sha256(data).hexdigest() if data else EMPTY_SHA256


def amz_date(now: float | None = None) -> str:
    """The ``X-Amz-Date`` value (``YYYYMMDDTHHMMSSZ``) for ``now`` (epoch seconds)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4 as botocore applies it (also collapsing empty segments).
    out: list[str] = []
    for segment in path.split("/"):
        if segment and segment != ".":
            if segment == "..":
                if out:
                    out.pop()
            else:
                out.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and out else ""
    return first + "/".join(out) + last


def canonical_uri(wire_path: str) -> str:
    """The SigV4 canonical URI for a path exactly as sent on the wire."""
    if not wire_path:
        return "/"
    if "//" in wire_path or "/." in wire_path:
        wire_path = _remove_dot_segments(wire_path)
    from urllib.parse import quote  # unusual ids only: not on the import path

    return quote(wire_path, safe="/~")


class SigV4Signer:
    """Signs ``@connections`` requests for one region (service ``execute-api``).

    Args:
        region: The API's region, e.g. ``eu-west-1``.
        service: The signing name; ``execute-api`` for the Management API.
    """

    __slots__ = ("_key", "_key_id", "region", "service")

    def __init__(self, region: str, service: str = "execute-api") -> None:
        self.region = region
        self.service = service
        self._key_id: tuple[str, str] | None = None
        self._key = b""

    def signing_key(self, secret_key: str, datestamp: str) -> bytes:
        """The derived key for ``datestamp`` (``YYYYMMDD``); cached until day or secret change."""
        key_id = (secret_key, datestamp)
        if self._key_id != key_id:
            k = hmac.digest(("AWS4" + secret_key).encode(), datestamp.encode(), "sha256")
            k = hmac.digest(k, self.region.encode(), "sha256")
            k = hmac.digest(k, self.service.encode(), "sha256")
            self._key = hmac.digest(k, b"aws4_request", "sha256")
            self._key_id = key_id
        return self._key

    def canonical_request(
        self,
        method: str,
        canonical_path: str,
        host: str,
        date: str,
        body_sha256: str,
        token: str | None = None,
    ) -> str:
        """The canonical request (exposed for the botocore comparison test)."""
        if token:
            return (
                f"{method}\n{canonical_path}\n\nhost:{host}\nx-amz-date:{date}\n"
                f"x-amz-security-token:{token}\n\nhost;x-amz-date;x-amz-security-token\n"
                f"{body_sha256}"
            )
        return (
            f"{method}\n{canonical_path}\n\nhost:{host}\nx-amz-date:{date}\n\n"
            f"host;x-amz-date\n{body_sha256}"
        )

    def authorization(
        self,
        credentials: Credentials,
        method: str,
        canonical_path: str,
        host: str,
        date: str,
        body_sha256: str,
    ) -> str:
        """The ``Authorization`` header value for one request.

        Args:
            credentials: The keys to sign with (and the session token, if any, which the
                caller must also send as ``X-Amz-Security-Token``).
            method: ``POST``, ``GET`` or ``DELETE``.
            canonical_path: :func:`canonical_uri` of the wire path.
            host: The ``Host`` header exactly as sent (with ``:port`` when not default).
            date: The ``X-Amz-Date`` header exactly as sent.
            body_sha256: :func:`payload_hash` of the body.
        """
        token = credentials.token
        canonical = self.canonical_request(method, canonical_path, host, date, body_sha256, token)
        datestamp = date[:8]
        scope = f"{datestamp}/{self.region}/{self.service}/aws4_request"
        to_sign = f"{_ALGORITHM}\n{date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
        key = self.signing_key(credentials.secret_key, datestamp)
        signature = hmac.digest(key, to_sign.encode(), "sha256").hex()
        signed = "host;x-amz-date;x-amz-security-token" if token else "host;x-amz-date"
        return (
            f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
