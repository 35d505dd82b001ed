"""AWS Signature Version 4: one implementation for every request wsgate signs or verifies.

The pieces follow the SigV4 specification step by step — canonical URI, query and headers,
canonical request, string to sign, signing key, signature — so that the sender (the
``@connections`` calls), the DynamoDB client and the emulator's signature check
(:mod:`wsgate.local.sigv4_verify`) all build the same canonical request from the same code.
The signing key is derived once per (secret, day, region, service) and cached; the sender's
hottest path goes further and keeps pre-fed HMAC states (:func:`hmac_states`). Tests compare
every request kind with ``botocore.auth.SigV4Auth``.

For the ``@connections`` API the request shape is fixed — ``host`` and ``x-amz-date`` (plus
``x-amz-security-token`` with temporary credentials) are the only signed headers, there is
never a query string. The canonical URI is the path **as it goes on the wire** (connection id
already percent-encoded, ``@`` left as is), encoded once more per SigV4's rules for every
service but S3: ``/prod/@connections/abc%3D`` is signed as ``/prod/%40connections/abc%253D``.

Sources: "Create a signed AWS API request" and "Elements of an AWS API request signature"
(AWS Identity and Access Management User Guide, docs.aws.amazon.com/IAM/latest/UserGuide/
create-signed-request.html).
"""

from __future__ import annotations

import hashlib
import hmac
import time

from wsgate.aws.credentials import Credentials

TYPE_CHECKING = False  # typing is not imported on the request path
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "SigV4Signer",
    "amz_date",
    "canonical_headers",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "derive_signing_key",
    "hmac_states",
    "payload_hash",
    "string_to_sign",
]

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
ALGORITHM = "AWS4-HMAC-SHA256"
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


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


def canonical_query(query: str) -> str:
    """The canonical query string of a query exactly as sent (pairs sorted, already encoded)."""
    if not query:
        return ""
    pairs = [pair.partition("=")[::2] for pair in query.split("&")]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_headers(headers: Iterable[tuple[str, str]]) -> tuple[str, str]:
    """``(canonical headers block, signed headers list)`` for ``(name, value)`` pairs.

    Names are lower-cased and sorted; values of one name are joined with ``,`` and their
    runs of white space squeezed to one space, as SigV4 specifies.
    """
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(" ".join(value.split()))
    names = sorted(values)
    block = "".join(f"{name}:{','.join(values[name])}\n" for name in names)
    return block, ";".join(names)


def canonical_request(
    method: str,
    canonical_path: str,
    query: str,
    headers_block: str,
    signed_headers: str,
    body_sha256: str,
) -> str:
    """The canonical request: the six lines SigV4 hashes (see :func:`canonical_headers`)."""
    return (
        f"{method.upper()}\n{canonical_path}\n{query}\n{headers_block}\n{signed_headers}\n"
        f"{body_sha256}"
    )


def string_to_sign(date: str, scope: str, canonical: str) -> str:
    """The string to sign for one canonical request (``scope``: day/region/service/aws4_request)."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{date}\n{scope}\n{digest}"


def derive_signing_key(secret_key: str, datestamp: str, region: str, service: str) -> bytes:
    """The SigV4 signing key: four chained HMAC-SHA256 over day, region, service, terminator."""
    k = hmac.digest(("AWS4" + secret_key).encode(), datestamp.encode(), "sha256")
    k = hmac.digest(k, region.encode(), "sha256")
    k = hmac.digest(k, service.encode(), "sha256")
    return hmac.digest(k, b"aws4_request", "sha256")


def hmac_states(key: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256 (RFC 2104) with ``key`` as two SHA-256 states that already hold the padded
    key: copy the inner one, feed the message, and feed its digest to a copy of the outer one.
    A signature is then two state copies instead of a full HMAC set-up."""
    padded = key.ljust(64, b"\0")
    return hashlib.sha256(padded.translate(_IPAD)), hashlib.sha256(padded.translate(_OPAD))


class SigV4Signer:
    """Signs requests for one region and service, with the day's signing key cached.

    Args:
        region: The API's region, e.g. ``eu-west-1``.
        service: The signing name: ``execute-api`` (Management API), ``dynamodb``.
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
            self._key = derive_signing_key(secret_key, datestamp, self.region, self.service)
            self._key_id = key_id
        return self._key

    def scope(self, datestamp: str) -> str:
        """The credential scope for ``datestamp``: ``date/region/service/aws4_request``."""
        return f"{datestamp}/{self.region}/{self.service}/aws4_request"

    def canonical_request(
        self,
        method: str,
        canonical_path: str,
        host: str,
        date: str,
        body_sha256: str,
        token: str | None = None,
    ) -> str:
        """The canonical request of an ``@connections`` call (``host``, ``x-amz-date`` and the
        token signed, no query), exposed for the botocore comparison test."""
        pairs = [("host", host), ("x-amz-date", date)]
        if token:
            pairs.append(("x-amz-security-token", token))
        block, signed = canonical_headers(pairs)
        return canonical_request(method, canonical_path, "", block, signed, body_sha256)

    def sign(
        self,
        credentials: Credentials,
        method: str,
        canonical_path: str,
        query: str,
        headers: Iterable[tuple[str, str]],
        date: str,
        body_sha256: str,
    ) -> str:
        """The ``Authorization`` header value for a request whose ``headers`` are all signed.

        Args:
            credentials: The keys to sign with.
            method: The HTTP method.
            canonical_path: :func:`canonical_uri` of the wire path.
            query: :func:`canonical_query` of the query string ("" for none).
            headers: Every header to sign, as sent (``host`` and ``x-amz-date`` included,
                ``x-amz-security-token`` too when the credentials carry a token).
            date: The ``X-Amz-Date`` header exactly as sent.
            body_sha256: :func:`payload_hash` of the body.
        """
        block, signed = canonical_headers(headers)
        canonical = canonical_request(method, canonical_path, query, block, signed, body_sha256)
        scope = self.scope(date[:8])
        key = self.signing_key(credentials.secret_key, date[:8])
        signature = hmac.digest(key, string_to_sign(date, scope, canonical).encode(), "sha256")
        return (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature.hex()}"
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
        """The ``Authorization`` header value for one ``@connections`` call.

        Args:
            credentials: The keys to sign with (and the session token, if any, which the
                caller must also send as ``X-Amz-Security-Token``).
            method: ``POST``, ``GET`` or ``DELETE``.
            canonical_path: :func:`canonical_uri` of the wire path.
            host: The ``Host`` header exactly as sent (with ``:port`` when not default).
            date: The ``X-Amz-Date`` header exactly as sent.
            body_sha256: :func:`payload_hash` of the body.
        """
        pairs = [("host", host), ("x-amz-date", date)]
        if credentials.token:
            pairs.append(("x-amz-security-token", credentials.token))
        return self.sign(credentials, method, canonical_path, "", pairs, date, body_sha256)
