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

TYPE_CHECKING = False  # nothing is imported until a name is used: a cold ``$connect`` that
# reads the verified identity loads only ``wsgate.auth.identity``
if TYPE_CHECKING:
    from typing import Any

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
    from wsgate.auth.jwt import CognitoAuthorizer, JWTAuthorizer, JWTVerifier
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

_MODULES = {
    "AuthorizerRequest": "authorizer",
    "IdentitySource": "authorizer",
    "RequestAuthorizer": "authorizer",
    "is_authorizer_event": "authorizer",
    "request_authorizer": "authorizer",
    "AuthorizerIdentity": "identity",
    "Identity": "identity",
    "identity_from_event": "identity",
    "user_id_from_event": "identity",
    # PyJWT and cryptography are heavy and optional: loaded only when a JWT class is used.
    "CognitoAuthorizer": "jwt",
    "JWTAuthorizer": "jwt",
    "JWTVerifier": "jwt",
    "AuthorizerResponse": "policy",
    "MethodArn": "policy",
    "Principal": "policy",
    "allow": "policy",
    "authorizer_context": "policy",
    "deny": "policy",
    "evaluate_policy": "policy",
    "validate_response": "policy",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'wsgate.auth' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"wsgate.auth.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
