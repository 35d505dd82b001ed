"""Authorizers for ``$connect`` and the verified identity they give every later event.

Stdlib only at import: the JWT authorizer (:class:`JWTAuthorizer`, :class:`CognitoAuthorizer`,
PyJWT from the ``auth`` extra) is imported on first use.

Typical use::

    from wsgate import WebSocketApp
    from wsgate.auth import Principal
    from wsgate.exceptions import Unauthorized

    app = WebSocketApp()

    @app.authorizer(identity_sources=["route.request.querystring.token"])
    def authorize(request):
        ...
        return Principal(user_id, {"role": "admin"})

See ``docs/security.md`` for the attacks the JWT authorizer is tested against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wsgate.auth.authorizer import (
    AuthorizerRequest,
    IdentitySource,
    RequestAuthorizer,
    is_authorizer_event,
    request_authorizer,
)
from wsgate.auth.identity import (
    AuthorizerIdentity,
    Identity,
    identity_from_event,
    user_id_from_event,
)
from wsgate.auth.policy import (
    AuthorizerResponse,
    MethodArn,
    Principal,
    allow,
    authorizer_context,
    deny,
    evaluate_policy,
    validate_response,
)

if TYPE_CHECKING:
    from wsgate.auth.jwt import CognitoAuthorizer, JWTAuthorizer, JWTVerifier

__all__ = [
    "AuthorizerIdentity",
    "AuthorizerRequest",
    "AuthorizerResponse",
    "CognitoAuthorizer",
    "Identity",
    "IdentitySource",
    "JWTAuthorizer",
    "JWTVerifier",
    "MethodArn",
    "Principal",
    "RequestAuthorizer",
    "allow",
    "authorizer_context",
    "deny",
    "evaluate_policy",
    "identity_from_event",
    "is_authorizer_event",
    "request_authorizer",
    "user_id_from_event",
    "validate_response",
]

_LAZY = frozenset({"CognitoAuthorizer", "JWTAuthorizer", "JWTVerifier"})


def __getattr__(name: str) -> Any:
    # PyJWT and cryptography are heavy and optional: load them only when a JWT class is used.
    if name in _LAZY:
        from wsgate.auth import jwt as _jwt

        return getattr(_jwt, name)
    raise AttributeError(f"module 'wsgate.auth' has no attribute {name!r}")
