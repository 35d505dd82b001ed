"""JSON Web Key Sets for the JWT authorizer: from a file, a dict, or a URL with a cache.

A key set maps a key id (``kid``) to a public key and pins which algorithms that key may be
used with, by key type, so a token cannot pick an algorithm the key was not made for (the
"algorithm confusion" attack: an HS256 token "signed" with an RSA public key).

:class:`RemoteKeySet` fetches with the standard library (``urllib``), a bounded timeout and a
response size cap, keeps the keys for ``ttl`` seconds, refetches early when a token names an
unknown ``kid`` (key rotation), and never fetches more than once per ``min_refresh_interval``
however many bad tokens arrive. Needs PyJWT (the ``auth`` extra).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

from wsgate.exceptions import AuthorizerConfigurationError, ConfigurationError, Unauthorized

__all__ = ["KeySet", "RemoteKeySet", "algorithms_for_jwk"]

logger = logging.getLogger("wsgate.auth")

#: RSA keys shorter than this are refused (NIST SP 800-131A: 2048 bits at least).
MIN_RSA_BITS = 2048
_EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512", "secp256k1": "ES256K"}
_RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})


def algorithms_for_jwk(jwk: Mapping[str, Any]) -> frozenset[str]:
    """The signature algorithms a JWK may verify, decided by its key type (and ``alg``).

    ``RSA`` → RS*/PS*; ``EC`` → the one ES* of its curve; ``OKP`` → EdDSA. Symmetric (``oct``)
    keys are never accepted from a key set: an HMAC secret must not be published.
    """
    kty = jwk.get("kty")
    if kty == "RSA":
        allowed = _RSA_ALGORITHMS
    elif kty == "EC" and jwk.get("crv") in _EC_ALGORITHMS:
        allowed = frozenset({_EC_ALGORITHMS[jwk["crv"]]})
    elif kty == "OKP" and jwk.get("crv") in ("Ed25519", "Ed448"):
        allowed = frozenset({"EdDSA"})
    else:
        return frozenset()
    declared = jwk.get("alg")
    if isinstance(declared, str):
        allowed = allowed & {declared}
    use = jwk.get("use")
    if use is not None and use != "sig":
        return frozenset()
    return allowed


class KeySet:
    """A fixed set of public keys, from a JWKS dict or a JWKS file.

    Args:
        jwks: The parsed JWKS (``{"keys": [...]}``).

    Raises:
        ConfigurationError: not a JWKS, or no key in it can verify signatures.
    """

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = _parse_jwks(jwks)
        if not self._keys:
            raise ConfigurationError("the JWKS holds no usable signing key")
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], Any] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> KeySet:
        """Load a JWKS JSON file.

        Raises:
            ConfigurationError: the file cannot be read or is not a usable JWKS.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"cannot read JWKS file {path}: {exc}") from None
        if not isinstance(data, Mapping):
            raise ConfigurationError(f"JWKS file {path} does not hold a JSON object")
        return cls(data)

    def _current(self, kid: str) -> Mapping[str, Any] | None:
        return self._keys.get(kid)

    def key_for(self, kid: str, algorithm: str) -> Any:
        """The verification key for a token's ``kid`` and ``alg``.

        Raises:
            Unauthorized: no key with this ``kid``, or the key may not be used with
                ``algorithm``.
            AuthorizerConfigurationError: the keys could not be loaded (remote sets).
        """
        jwk = self._current(kid)
        if jwk is None:
            raise Unauthorized(f"unknown key id {kid[:64]!r}")
        if algorithm not in algorithms_for_jwk(jwk):
            raise Unauthorized(f"algorithm {algorithm[:16]!r} is not allowed for key {kid[:64]!r}")
        with self._lock:
            cached = self._cache.get((kid, algorithm))
            if cached is None or cached[0] is not jwk:
                try:
                    cached = (jwk, jwt.PyJWK(dict(jwk), algorithm=algorithm).key)
                except jwt.PyJWTError as exc:
                    raise Unauthorized(f"key {kid[:64]!r} is unusable: {exc}") from None
                size = getattr(cached[1], "key_size", None)
                if jwk.get("kty") == "RSA" and isinstance(size, int) and size < MIN_RSA_BITS:
                    raise Unauthorized(f"RSA key {kid[:64]!r} has {size} bits; {MIN_RSA_BITS}+")
                self._cache[(kid, algorithm)] = cached
        return cached[1]


def _parse_jwks(jwks: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        raise ConfigurationError("a JWKS must be an object with a 'keys' list")
    usable: dict[str, Mapping[str, Any]] = {}
    for jwk in keys:
        if not isinstance(jwk, Mapping) or not isinstance(jwk.get("kid"), str):
            continue
        if algorithms_for_jwk(jwk):
            usable[jwk["kid"]] = jwk
    return usable


class RemoteKeySet(KeySet):
    """A JWKS fetched from a URL (``https://.../.well-known/jwks.json``) and cached.

    Thread-safe. The first fetch happens on the first token, not at construction, so a cold
    Lambda does not pay for it at import.

    Args:
        url: An ``https://`` (or ``http://``) URL; other schemes are refused.
        timeout: Seconds to wait for the server (connect and each read).
        ttl: Seconds a fetched key set is trusted before it is refetched.
        min_refresh_interval: The least number of seconds between two fetches, so a flood
            of tokens with invented ``kid`` values cannot turn into a flood of requests.
        max_bytes: The largest response accepted.
        clock: Monotonic clock (injectable for tests of the TTL logic).

    Raises:
        ConfigurationError: the URL is not http(s).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 3.0,
        ttl: float = 3600.0,
        min_refresh_interval: float = 30.0,
        max_bytes: int = 512 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigurationError(f"JWKS URL must be http(s): {url!r}")
        self.url = url
        self.timeout = timeout
        self.ttl = ttl
        self.min_refresh_interval = min_refresh_interval
        self.max_bytes = max_bytes
        self._clock = clock
        self._keys: dict[str, Mapping[str, Any]] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._fetch_lock = threading.Lock()
        self._lock = threading.Lock()
        self._cache = {}
        self.fetch_count = 0

    def _current(self, kid: str) -> Mapping[str, Any] | None:
        now = self._clock()
        fresh = self._fetched_at is not None and now - self._fetched_at < self.ttl
        if fresh and kid in self._keys:
            return self._keys[kid]
        with self._fetch_lock:
            now = self._clock()
            recently = (
                self._attempted_at is not None
                and now - self._attempted_at < self.min_refresh_interval
            )
            if not recently:
                self._attempted_at = now
                try:
                    self._keys = self._fetch()
                    self._fetched_at = now
                except AuthorizerConfigurationError as exc:
                    if not self._keys:
                        raise
                    # Keep serving the last good keys: an outage must not lock every user out.
                    logger.warning("JWKS refresh failed, using cached keys: %s", exc.reason)
            if not self._keys:
                raise AuthorizerConfigurationError(f"no JWKS could be fetched from {self.url}")
            return self._keys.get(kid)

    def _fetch(self) -> dict[str, Mapping[str, Any]]:
        self.fetch_count += 1
        request = urllib.request.Request(
            self.url, headers={"Accept": "application/json", "User-Agent": "wsgate-jwks/1"}
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                body = response.read(self.max_bytes + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()  # an error response still holds its socket
            raise AuthorizerConfigurationError(
                f"JWKS fetch from {self.url} failed: {exc}"
            ) from None
        if len(body) > self.max_bytes:
            raise AuthorizerConfigurationError(f"JWKS at {self.url} is over {self.max_bytes} bytes")
        try:
            data = json.loads(body)
            keys = _parse_jwks(data)
        except (ValueError, ConfigurationError) as exc:
            raise AuthorizerConfigurationError(f"JWKS at {self.url} is invalid: {exc}") from None
        if not keys:
            raise AuthorizerConfigurationError(f"JWKS at {self.url} holds no usable signing key")
        return keys


class _HTTPOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to http(s): never to ``ftp:`` or ``file:``."""

    def redirect_request(
        self, req: Any, fp: Any, code: Any, msg: Any, headers: Any, newurl: Any
    ) -> Any:
        if urlsplit(newurl).scheme not in ("http", "https"):
            fp.close()
            raise urllib.error.URLError(f"refusing redirect to {newurl!r}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HTTPOnlyRedirects)
