"""A ready JWT authorizer for ``$connect`` (PyJWT; install the ``auth`` extra).

Three ways to get keys, each with its algorithms pinned so a token cannot choose its own::

    from wsgate.auth.jwt import JWTAuthorizer, CognitoAuthorizer

    # A shared secret (HS256; at least 32 bytes).
    authorize = JWTAuthorizer(secret=os.environ["JWT_SECRET"], issuer="https://me", audience="app")

    # Public keys from a JWKS URL (cached, refreshed on an unknown kid) or a JWKS file.
    authorize = JWTAuthorizer(jwks_url="https://idp.example/.well-known/jwks.json",
                              issuer="https://idp.example/", audience="my-api")

    # A Cognito user pool: only the pool id and the app client id.
    authorize = CognitoAuthorizer("eu-west-1_AbCdEf123", "4k9...client-id")

Each is a :class:`~wsgate.auth.authorizer.RequestAuthorizer`: a Lambda handler for the
authorizer function, and what ``@app.authorizer`` accepts. The token is read from the first
identity source (default the ``Authorization`` header, ``Bearer`` prefix optional). Every
refusal is a 401; an unreachable key set is a 500. ``exp`` is required by default; ``exp``,
``nbf`` and ``iat`` are checked with a small leeway; ``alg: none`` is never accepted.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt

from wsgate.auth.authorizer import DEFAULT_IDENTITY_SOURCES, AuthorizerRequest, RequestAuthorizer
from wsgate.auth.jwks import KeySet, RemoteKeySet
from wsgate.auth.policy import ContextValue, Principal
from wsgate.exceptions import ConfigurationError, Unauthorized

__all__ = ["CognitoAuthorizer", "JWTAuthorizer", "JWTVerifier"]

HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
_MIN_SECRET_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_BEARER_RE = re.compile(r"^bearer(?:\s+|$)", re.IGNORECASE)
_POOL_RE = re.compile(r"^(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)_[0-9A-Za-z]+$")


class JWTVerifier:
    """Verifies a compact JWT and returns its claims.

    Give exactly one key source: ``secret`` (HMAC), ``jwks_url``, ``jwks_file`` or ``jwks``.

    Args:
        secret: The shared HMAC secret (at least as long as the hash: 32 bytes for HS256).
        jwks_url: A JWKS URL; fetched lazily, cached ``jwks_ttl`` seconds.
        jwks_file: A JWKS JSON file.
        jwks: A JWKS dict, or a :class:`~wsgate.auth.jwks.KeySet`.
        algorithms: The algorithms accepted. Default ``["HS256"]`` with a secret, else
            ``["RS256", "ES256"]``. ``none`` is always refused.
        issuer: The required ``iss`` (a string or several).
        audience: The required ``aud`` (a string or several); ``None`` skips the check but a
            token that carries ``aud`` is then refused (PyJWT's rule).
        leeway: Seconds of clock skew tolerated on ``exp``/``nbf``/``iat``.
        required_claims: Claims that must be present.
        max_token_bytes: Longer tokens are refused before any parsing.
        jwks_timeout: Seconds to wait for the JWKS server.
        jwks_ttl: Seconds a fetched JWKS is trusted.

    Raises:
        ConfigurationError: no or several key sources, a short secret, ``none`` or an
            algorithm that does not fit the key source.
    """

    def __init__(
        self,
        *,
        secret: str | bytes | None = None,
        jwks_url: str | None = None,
        jwks_file: str | Path | None = None,
        jwks: Mapping[str, Any] | KeySet | None = None,
        algorithms: Iterable[str] | None = None,
        issuer: str | Sequence[str] | None = None,
        audience: str | Iterable[str] | None = None,
        leeway: float = 30.0,
        required_claims: Iterable[str] = ("exp",),
        max_token_bytes: int = 16 * 1024,
        jwks_timeout: float = 3.0,
        jwks_ttl: float = 3600.0,
    ) -> None:
        given = [s is not None for s in (secret, jwks_url, jwks_file, jwks)]
        if sum(given) != 1:
            raise ConfigurationError(
                "give exactly one of secret=, jwks_url=, jwks_file= or jwks= to JWTVerifier"
            )
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._keys: KeySet | None = None
        if jwks_url is not None:
            self._keys = RemoteKeySet(jwks_url, timeout=jwks_timeout, ttl=jwks_ttl)
        elif jwks_file is not None:
            self._keys = KeySet.from_file(jwks_file)
        elif isinstance(jwks, KeySet):
            self._keys = jwks
        elif jwks is not None:
            self._keys = KeySet(jwks)
        default = ("HS256",) if self._secret is not None else ("RS256", "ES256")
        self.algorithms = frozenset(algorithms if algorithms is not None else default)
        self._check_algorithms()
        self.issuer = issuer
        self.audience = (
            audience if audience is None or isinstance(audience, str) else list(audience)
        )
        self.leeway = leeway
        self.required_claims = list(required_claims)
        self.max_token_bytes = max_token_bytes
        #: Whether ``aud`` is checked by PyJWT (Cognito checks it itself, per ``token_use``).
        self.verify_aud = True

    def _check_algorithms(self) -> None:
        if not self.algorithms:
            raise ConfigurationError("no JWT algorithm allowed")
        if any(a.lower() == "none" for a in self.algorithms):
            raise ConfigurationError("the 'none' JWT algorithm is never allowed")
        if self._secret is not None:
            wrong = self.algorithms - HMAC_ALGORITHMS
            if wrong:
                raise ConfigurationError(
                    f"a shared secret can only verify HS*, not {sorted(wrong)}"
                )
            for algorithm in self.algorithms:
                if len(self._secret) < _MIN_SECRET_BYTES[algorithm]:
                    raise ConfigurationError(
                        f"the {algorithm} secret must be at least "
                        f"{_MIN_SECRET_BYTES[algorithm]} bytes"
                    )
        elif self.algorithms & HMAC_ALGORITHMS:
            raise ConfigurationError("HS* needs secret=; public key sets verify RS/PS/ES/EdDSA")

    @property
    def key_set(self) -> KeySet | None:
        """The key set (``None`` for a shared secret)."""
        return self._keys

    def verify(self, token: str) -> dict[str, Any]:
        """Verify ``token``'s signature and claims; return the claims.

        Raises:
            Unauthorized: anything wrong with the token (format, algorithm, key id, signature,
                expiry, not-before, issuer, audience, missing claims).
            AuthorizerConfigurationError: the key set could not be fetched.
        """
        if not isinstance(token, str) or not token:
            raise Unauthorized("empty token")
        if len(token) > self.max_token_bytes:
            raise Unauthorized(f"token longer than {self.max_token_bytes} bytes")
        if not _TOKEN_RE.match(token):
            raise Unauthorized("not a signed compact JWT")
        header = _header(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            raise Unauthorized(f"algorithm {str(algorithm)[:16]!r} is not accepted")
        if "crit" in header:
            raise Unauthorized("critical header extensions are not supported")
        key: Any
        if self._keys is None:
            key = self._secret
        else:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise Unauthorized("token has no key id (kid)")
            key = self._keys.key_for(kid, algorithm)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": self.required_claims, "verify_aud": self.verify_aud},
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"{type(exc).__name__}: {exc}") from None
        return claims


def _header(token: str) -> dict[str, Any]:
    # Read the header once ourselves (PyJWT parses the whole token again when it verifies);
    # the token already matched the compact-JWS pattern.
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, TypeError):
        raise Unauthorized("malformed token header") from None
    if not isinstance(header, dict):
        raise Unauthorized("malformed token header")
    return header


def context_from_claims(
    claims: Mapping[str, Any], names: Iterable[str] | None = None
) -> dict[str, ContextValue]:
    """The claims an authorizer can pass on as context: scalars, and lists of scalars joined.

    Objects are left out (API Gateway refuses them); a list such as ``cognito:groups`` becomes
    ``"admin,editors"``.
    """
    selected = claims.keys() if names is None else [n for n in names if n in claims]
    context: dict[str, ContextValue] = {}
    for name in selected:
        value = claims[name]
        if value is None or isinstance(value, str | int | float | bool):
            context[name] = value
        elif isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
            context[name] = ",".join(str(v) for v in value)
    return context


class JWTAuthorizer(RequestAuthorizer):
    """A REQUEST authorizer that lets in holders of a valid JWT.

    The principal id is the ``principal_claim`` (``sub``); the context holds the token's
    scalar claims (or only ``context_claims``), which later events carry in
    ``requestContext.authorizer``.

    Args:
        identity_sources: Where the token is; the first one is read. Default the
            ``Authorization`` header (a ``Bearer`` prefix is removed).
        principal_claim: The claim that becomes ``principalId``.
        context_claims: The claims copied into the context; ``None`` copies every scalar.
        check: Extra check on the verified claims; raise ``Unauthorized`` or ``AccessDenied``.
        user_id_key: See :class:`~wsgate.auth.authorizer.RequestAuthorizer`.
        verifier: A ready :class:`JWTVerifier`; otherwise the remaining keyword arguments
            build one.

    Raises:
        ConfigurationError: see :class:`JWTVerifier`.
    """

    def __init__(
        self,
        *,
        identity_sources: Iterable[str] = DEFAULT_IDENTITY_SOURCES,
        principal_claim: str = "sub",
        context_claims: Iterable[str] | None = None,
        check: Callable[[dict[str, Any]], None] | None = None,
        user_id_key: str | None = None,
        verifier: JWTVerifier | None = None,
        **verifier_options: Any,
    ) -> None:
        super().__init__(self._authorize, identity_sources, user_id_key=user_id_key)
        self.verifier = verifier if verifier is not None else JWTVerifier(**verifier_options)
        self.principal_claim = principal_claim
        self.context_claims = None if context_claims is None else tuple(context_claims)
        self.check = check
        self.__name__ = type(self).__name__

    def token_from(self, request: AuthorizerRequest) -> str:
        """The token in the request's first identity source.

        Raises:
            Unauthorized: absent, empty, or given more than once with different values.
        """
        source = self.identity_sources[0]
        values = {value.strip() for value in source.values(request.raw)}
        values.discard("")
        if not values:
            raise Unauthorized(f"no token in {source.expression}")
        if len(values) > 1:
            raise Unauthorized(f"{source.expression} given more than once")
        token = values.pop()
        if source.kind == "header":
            token = _BEARER_RE.sub("", token, count=1)
        if not token:
            raise Unauthorized("empty token")
        return token

    def _authorize(self, request: AuthorizerRequest) -> Principal:
        claims = self.verifier.verify(self.token_from(request))
        principal = claims.get(self.principal_claim)
        if not isinstance(principal, str) or not principal:
            raise Unauthorized(f"token has no {self.principal_claim!r} claim")
        if self.check is not None:
            self.check(claims)
        return Principal(principal, context_from_claims(claims, self.context_claims))


class CognitoAuthorizer(JWTAuthorizer):
    """A JWT authorizer for an Amazon Cognito user pool, from the pool id and client id alone.

    The issuer is ``https://cognito-idp.{region}.amazonaws.com/{pool_id}`` and the keys come
    from ``{issuer}/.well-known/jwks.json`` (RS256). ID tokens must carry ``aud`` = a client id;
    access tokens must carry ``client_id`` = a client id; ``token_use`` must be one accepted.

    Args:
        user_pool_id: ``{region}_{id}``, e.g. ``eu-west-1_AbCdEf123``.
        client_id: The app client id (or several).
        token_use: ``"id"``, ``"access"``, or ``None`` for both.
        jwks_url: Override of the derived JWKS URL (tests, VPC endpoints).
        **options: Passed on to :class:`JWTAuthorizer` (``identity_sources``, ``check``, ...).

    Raises:
        ConfigurationError: a malformed pool id, no client id, or an unknown ``token_use``.
    """

    def __init__(
        self,
        user_pool_id: str,
        client_id: str | Iterable[str],
        *,
        token_use: str | None = None,
        jwks_url: str | None = None,
        **options: Any,
    ) -> None:
        match = _POOL_RE.match(user_pool_id)
        if match is None:
            raise ConfigurationError(f"not a Cognito user pool id: {user_pool_id!r}")
        self.client_ids = frozenset([client_id] if isinstance(client_id, str) else client_id)
        if not self.client_ids or not all(self.client_ids):
            raise ConfigurationError("a Cognito authorizer needs the app client id")
        if token_use not in (None, "id", "access"):
            raise ConfigurationError(f"token_use must be 'id', 'access' or None: {token_use!r}")
        self.token_use = token_use
        self.issuer = f"https://cognito-idp.{match['region']}.amazonaws.com/{user_pool_id}"
        self.jwks_url = jwks_url or f"{self.issuer}/.well-known/jwks.json"
        verifier = JWTVerifier(
            jwks_url=self.jwks_url,
            algorithms=["RS256"],
            issuer=self.issuer,
            audience=None,
            required_claims=("exp", "iat", "token_use", "sub"),
            leeway=options.pop("leeway", 30.0),
        )
        # aud only exists on ID tokens, so it is checked here per token_use, not by PyJWT.
        verifier.verify_aud = False
        self._user_check = options.pop("check", None)
        super().__init__(verifier=verifier, check=self._check_cognito, **options)

    def _check_cognito(self, claims: dict[str, Any]) -> None:
        use = claims.get("token_use")
        if use not in ("id", "access") or (self.token_use and use != self.token_use):
            raise Unauthorized(f"token_use {str(use)[:16]!r} is not accepted")
        client = claims.get("aud") if use == "id" else claims.get("client_id")
        if not isinstance(client, str) or client not in self.client_ids:
            raise Unauthorized("token was issued to another app client")
        if self._user_check is not None:
            self._user_check(claims)
