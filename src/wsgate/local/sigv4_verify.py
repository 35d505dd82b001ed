"""SigV4 verification for the emulator's Management API (``wsgate serve --verify-signatures``).

API Gateway refuses ``@connections`` calls that are not signed with Signature Version 4 by a
principal allowed to ``execute-api:ManageConnections``. By default the emulator accepts any
request, as most emulators do; with ``verify_signatures`` it recomputes the signature of every
management request from the known credentials and refuses, as AWS would, with **403**:

=====================================  =================================================
request                                ``x-amzn-ErrorType``
=====================================  =================================================
no ``Authorization`` header            ``MissingAuthenticationTokenException``
not ``AWS4-HMAC-SHA256``, or a part    ``IncompleteSignatureException``
missing (Credential, SignedHeaders,
Signature, X-Amz-Date)
unknown access key / wrong token       ``UnrecognizedClientException``
scope not ``execute-api``, date skew   ``InvalidSignatureException``
over 5 minutes, signature mismatch
=====================================  =================================================

The canonical request is built by the same code that signs wsgate's own requests
(:mod:`wsgate.aws.sigv4`: path URI-encoded once more, query pairs sorted, signed headers
trimmed and joined, as botocore builds it), so unmodified boto3 clients and wsgate's own
sender pass. Stdlib only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from calendar import timegm
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from wsgate.aws.credentials import Credentials
from wsgate.aws.sigv4 import (
    EMPTY_SHA256,
    canonical_headers,
    canonical_query,
    canonical_request,
    canonical_uri,
    derive_signing_key,
    string_to_sign,
)

__all__ = [
    "Credentials",
    "SignatureRejection",
    "credentials_from_environment",
    "rejection_response",
    "verify_sigv4",
]

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "execute-api"
MAX_SKEW_SECONDS = 300.0


@dataclass(frozen=True)
class SignatureRejection:
    """Why a request was refused: what API Gateway would answer (always a 403)."""

    error_type: str
    message: str
    status: int = 403


def credentials_from_environment(environ: Mapping[str, str] | None = None) -> list[Credentials]:
    """The key pair the emulator trusts: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``.

    ``wsgate serve`` sets dummy ones when none are configured, so a signed client configured
    like the app is accepted.
    """
    env = os.environ if environ is None else environ
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        return []
    return [Credentials(key, secret, env.get("AWS_SESSION_TOKEN") or None)]


def _reject(error_type: str, message: str) -> SignatureRejection:
    return SignatureRejection(error_type, message)


def _parse_authorization(value: str) -> dict[str, str] | None:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        return None
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, item = part.strip().partition("=")
        if sep:
            fields[name.strip()] = item.strip()
    return fields


def verify_sigv4(
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    credentials: Iterable[Credentials],
    *,
    now: float | None = None,
    max_skew: float = MAX_SKEW_SECONDS,
) -> SignatureRejection | None:
    """Check one request's SigV4 ``Authorization`` header.

    Args:
        method: The HTTP method.
        target: The request target as sent (path and query, still percent-encoded).
        headers: Every header as sent, in order (repeated names allowed).
        body: The request body.
        credentials: The key pairs that may sign.
        now: The current time (epoch seconds); the clock by default.
        max_skew: Largest difference between ``X-Amz-Date`` and now.

    Returns:
        ``None`` when the signature is valid, else the rejection to send.
    """
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(value)
    authorization = values.get("authorization")
    if not authorization:
        return _reject("MissingAuthenticationTokenException", "Missing Authentication Token")
    fields = _parse_authorization(authorization[0])
    amz_date = (values.get("x-amz-date") or [""])[0]
    if (
        fields is None
        or len(authorization) != 1
        or not all(fields.get(k) for k in ("Credential", "SignedHeaders", "Signature"))
        or not amz_date
    ):
        return _reject(
            "IncompleteSignatureException",
            "Authorization header requires 'Credential', 'Signature', 'SignedHeaders' and "
            "'X-Amz-Date' parameters.",
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[3] != SERVICE or scope[4] != "aws4_request":
        return _reject(
            "InvalidSignatureException",
            f"Credential should be scoped to correct service: '{SERVICE}'.",
        )
    access_key, date, region = scope[0], scope[1], scope[2]
    known = {c.access_key: c for c in credentials}
    credential = known.get(access_key)
    if credential is None:
        return _reject(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if (
        credential.token is not None
        and (values.get("x-amz-security-token") or [""])[0] != credential.token
    ):
        return _reject(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    try:
        signed_at = timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return _reject("IncompleteSignatureException", f"Invalid X-Amz-Date {amz_date[:32]!r}")
    current = time.time() if now is None else now
    if amz_date[:8] != date:
        return _reject("InvalidSignatureException", "Date in Credential scope does not match.")
    if abs(current - signed_at) > max_skew:
        return _reject(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is outside the {int(max_skew)} second window.",
        )
    signed_headers = fields["SignedHeaders"].split(";")
    if "host" not in signed_headers or signed_headers != sorted(set(signed_headers)):
        return _reject("InvalidSignatureException", "'Host' must be a signed header.")
    pairs: list[tuple[str, str]] = []
    for name in signed_headers:
        if name not in values:
            return _reject("InvalidSignatureException", f"Signed header {name!r} is missing.")
        pairs.extend((name, value) for value in values[name])
    payload_hash = (values.get("x-amz-content-sha256") or [""])[0]
    actual_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_SHA256
    if not payload_hash:
        payload_hash = actual_hash
    elif payload_hash != "UNSIGNED-PAYLOAD" and payload_hash != actual_hash:
        return _reject("InvalidSignatureException", "The payload hash does not match.")
    path, _, query = target.partition("?")
    block, signed = canonical_headers(pairs)
    canonical = canonical_request(
        method, canonical_uri(path), canonical_query(query), block, signed, payload_hash
    )
    to_sign = string_to_sign(amz_date, "/".join(scope[1:]), canonical)
    key = derive_signing_key(credential.secret_key, date, region, SERVICE)
    expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["Signature"]):
        return _reject(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.",
        )
    return None


def rejection_response(rejection: SignatureRejection, *, keep_alive: bool = True) -> bytes:
    """The HTTP response API Gateway sends for a rejected signature (JSON ``message``)."""
    from wsgate.local.http import response

    headers = [
        ("x-amzn-RequestId", str(uuid.uuid4())),
        ("x-amzn-ErrorType", rejection.error_type),
    ]
    body = json.dumps({"message": rejection.message}).encode()
    return response(
        rejection.status, body, headers, keep_alive=keep_alive, content_type="application/json"
    )
