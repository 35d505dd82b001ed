"""Authorizer responses: the policy documents API Gateway expects from a REQUEST authorizer.

A WebSocket API runs its Lambda authorizer once, on ``$connect``. The authorizer answers with a
principal id, an IAM policy that must ``Allow`` ``execute-api:Invoke`` on the ``$connect``
method ARN, and an optional ``context`` of scalars that API Gateway stringifies and hands to
every later event of the connection as ``requestContext.authorizer``.

This module builds those answers (:func:`allow`, :func:`deny`, :class:`AuthorizerResponse`),
checks them the way API Gateway does (:func:`validate_response`, :func:`evaluate_policy`) and
renders the ``requestContext.authorizer`` map (:func:`authorizer_context`). Stdlib only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, TypeAlias

from wsgate.exceptions import AuthorizerConfigurationError

__all__ = [
    "MAX_RESULT_BYTES",
    "POLICY_VERSION",
    "AuthorizerResponse",
    "ContextValue",
    "MethodArn",
    "PolicyDecision",
    "Principal",
    "allow",
    "authorizer_context",
    "deny",
    "evaluate_policy",
    "stringify_context_value",
    "validate_context",
    "validate_response",
]

#: API Gateway refuses authorizer results larger than this (the "authorizer result size" quota).
MAX_RESULT_BYTES = 8192
POLICY_VERSION = "2012-10-17"
INVOKE_ACTION = "execute-api:Invoke"

#: What a context value may be: API Gateway refuses objects and arrays.
ContextValue: TypeAlias = str | int | float | bool | None
PolicyDecision: TypeAlias = Literal["Allow", "Deny"]

_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):execute-api:(?P<region>[a-z0-9-]+):(?P<account>\d{12}|\*):"
    r"(?P<api_id>[^/]+)/(?P<stage>[^/]+)/(?P<route>.+)$"
)


@dataclass(frozen=True)
class MethodArn:
    """The ARN API Gateway passes to the authorizer as ``methodArn``.

    For a WebSocket ``$connect`` it is
    ``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect`` (no HTTP verb).
    """

    region: str
    account_id: str
    api_id: str
    stage: str
    route_key: str = "$connect"
    partition: str = "aws"

    def __str__(self) -> str:
        return (
            f"arn:{self.partition}:execute-api:{self.region}:{self.account_id}:"
            f"{self.api_id}/{self.stage}/{self.route_key}"
        )

    @classmethod
    def parse(cls, arn: str) -> MethodArn:
        """Split a method ARN into its parts.

        Raises:
            AuthorizerConfigurationError: ``arn`` is not an ``execute-api`` method ARN.
        """
        match = _ARN_RE.match(arn)
        if match is None:
            raise AuthorizerConfigurationError(f"not an execute-api method ARN: {arn[:200]!r}")
        return cls(
            region=match["region"],
            account_id=match["account"],
            api_id=match["api_id"],
            stage=match["stage"],
            route_key=match["route"],
            partition=match["partition"],
        )

    def api_wildcard(self) -> str:
        """The ARN of every route of every stage of this API (``.../{apiId}/*``)."""
        return f"arn:{self.partition}:execute-api:{self.region}:{self.account_id}:{self.api_id}/*"


@dataclass(frozen=True)
class Principal:
    """What an authorize function returns to let a client connect.

    Attributes:
        principal_id: The verified identity (a user id, a token subject). Becomes
            ``requestContext.authorizer.principalId`` in every later event.
        context: Extra scalars for later events (strings, numbers, booleans, ``None``).
            API Gateway stringifies the values.
        usage_identifier_key: The API key to meter the connection against, when the API's key
            source is ``AUTHORIZER``.
    """

    principal_id: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    usage_identifier_key: str | None = None


@dataclass(frozen=True)
class AuthorizerResponse:
    """A complete authorizer answer: principal, decision, resource and context.

    Build one with :func:`allow` or :func:`deny`; :meth:`to_dict` gives the JSON API Gateway
    reads.
    """

    principal_id: str
    effect: PolicyDecision
    resource: str | Sequence[str]
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    usage_identifier_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The response as API Gateway expects it.

        Raises:
            AuthorizerConfigurationError: the context holds a non-scalar value, or the result is
                larger than 8 KB.
        """
        resource = self.resource if isinstance(self.resource, str) else list(self.resource)
        result: dict[str, Any] = {
            "principalId": self.principal_id,
            "policyDocument": {
                "Version": POLICY_VERSION,
                "Statement": [
                    {"Action": INVOKE_ACTION, "Effect": self.effect, "Resource": resource}
                ],
            },
        }
        if self.context:
            result["context"] = validate_context(self.context)
        if self.usage_identifier_key is not None:
            result["usageIdentifierKey"] = self.usage_identifier_key
        _check_size(result)
        return result


def allow(
    principal_id: str,
    method_arn: str | MethodArn,
    context: Mapping[str, ContextValue] | None = None,
    *,
    usage_identifier_key: str | None = None,
) -> dict[str, Any]:
    """An ``Allow`` response for ``method_arn`` (the ``$connect`` route the event names).

    Call it at the end of an authorizer that has verified the caller.

    Raises:
        AuthorizerConfigurationError: non-scalar context values, or a result over 8 KB.
    """
    return AuthorizerResponse(
        principal_id, "Allow", str(method_arn), context or {}, usage_identifier_key
    ).to_dict()


def deny(
    principal_id: str,
    method_arn: str | MethodArn,
    context: Mapping[str, ContextValue] | None = None,
) -> dict[str, Any]:
    """A ``Deny`` response: the client gets 403 and no connection.

    Raises:
        AuthorizerConfigurationError: non-scalar context values, or a result over 8 KB.
    """
    return AuthorizerResponse(principal_id, "Deny", str(method_arn), context or {}).to_dict()


def validate_context(context: Mapping[Any, Any]) -> dict[str, ContextValue]:
    """Check that a context holds only string keys and scalar values; return a plain copy.

    Raises:
        AuthorizerConfigurationError: a key is not a string, or a value is an object or array
            (API Gateway answers 500 for those).
    """
    checked: dict[str, ContextValue] = {}
    for key, value in context.items():
        if not isinstance(key, str):
            raise AuthorizerConfigurationError(f"context key {key!r} is not a string")
        if value is not None and not isinstance(value, str | int | float | bool):
            raise AuthorizerConfigurationError(
                f"context value for {key!r} is a {type(value).__name__}; only strings, numbers, "
                "booleans and null are allowed"
            )
        if isinstance(value, float) and value != value:  # NaN is not JSON
            raise AuthorizerConfigurationError(f"context value for {key!r} is NaN")
        checked[key] = value
    return checked


def validate_response(response: object) -> dict[str, Any]:
    """Check an authorizer's raw answer the way API Gateway does before it evaluates it.

    Returns the response as a plain dict. Call it on whatever the authorizer function returned.

    Raises:
        AuthorizerConfigurationError: not an object, no string ``principalId``, no usable
            ``policyDocument``, a non-scalar ``context`` value, or a result over 8 KB.
    """
    if not isinstance(response, Mapping):
        raise AuthorizerConfigurationError(
            f"authorizer returned a {type(response).__name__}, not an object"
        )
    principal = response.get("principalId")
    if not isinstance(principal, str | int) or isinstance(principal, bool):
        raise AuthorizerConfigurationError("authorizer response has no principalId")
    document = response.get("policyDocument")
    if not isinstance(document, Mapping):
        raise AuthorizerConfigurationError("authorizer response has no policyDocument")
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, Mapping) for s in statements):
        raise AuthorizerConfigurationError("policyDocument.Statement is not a list of objects")
    for statement in statements:
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise AuthorizerConfigurationError("a policy statement has no Effect Allow or Deny")
    context = response.get("context")
    if context is not None:
        if not isinstance(context, Mapping):
            raise AuthorizerConfigurationError("authorizer context is not an object")
        validate_context(context)
    key = response.get("usageIdentifierKey")
    if key is not None and not isinstance(key, str):
        raise AuthorizerConfigurationError("usageIdentifierKey is not a string")
    plain = dict(response)
    _check_size(plain)
    return plain


def evaluate_policy(response: Mapping[str, Any], method_arn: str) -> PolicyDecision:
    """Decide a validated response for ``method_arn`` with IAM's rules.

    An explicit ``Deny`` that matches wins; otherwise an ``Allow`` must match both the action
    (``execute-api:Invoke``, ``execute-api:*`` or ``*``) and the resource (``*`` and ``?``
    wildcards; ``NotAction``/``NotResource`` honoured). No match is an implicit deny.

    Raises:
        AuthorizerConfigurationError: the response is malformed (see :func:`validate_response`).
    """
    document = validate_response(response)["policyDocument"]
    statements = document["Statement"]
    if isinstance(statements, Mapping):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not (_matches_action(statement) and _matches_resource(statement, method_arn)):
            continue
        if statement["Effect"] == "Deny":
            return "Deny"
        allowed = True
    return "Allow" if allowed else "Deny"


def stringify_context_value(value: ContextValue) -> str | None:
    """Render a context value as API Gateway does: ``True`` → ``"true"``, ``123`` → ``"123"``.

    ``None`` stays ``None`` (observed as ``null`` in later events). The same rule as
    :func:`wsgate.fields.stringify_context_value`, which reads those events.
    """
    from wsgate.fields import stringify_context_value as stringify

    return stringify(value)


def authorizer_context(
    principal_id: str | int,
    context: Mapping[str, ContextValue] | None,
    integration_latency: int,
) -> dict[str, Any]:
    """The ``requestContext.authorizer`` map of later events.

    ``{"principalId": ..., "integrationLatency": <ms, a number>, **stringified context}``; the
    principal id and latency win over same-named context keys.
    """
    rendered: dict[str, Any] = {
        key: stringify_context_value(value) for key, value in (context or {}).items()
    }
    rendered["principalId"] = str(principal_id)
    rendered["integrationLatency"] = integration_latency
    return rendered


def _check_size(result: Mapping[str, Any]) -> None:
    try:
        encoded = json.dumps(result, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise AuthorizerConfigurationError(f"authorizer response is not JSON: {exc}") from None
    if len(encoded) > MAX_RESULT_BYTES:
        raise AuthorizerConfigurationError(
            f"authorizer response is {len(encoded)} bytes; the limit is {MAX_RESULT_BYTES}"
        )


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


@lru_cache(maxsize=256)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    parts = ("." if ch == "?" else ".*" if ch == "*" else re.escape(ch) for ch in glob)
    return re.compile("".join(parts), re.IGNORECASE if ignore_case else 0)


def _any_match(globs: list[str], value: str, *, ignore_case: bool) -> bool:
    return any(_pattern(glob, ignore_case).fullmatch(value) for glob in globs)


def _matches_action(statement: Mapping[str, Any]) -> bool:
    # IAM action names are case-insensitive.
    if "NotAction" in statement:
        return not _any_match(_as_list(statement["NotAction"]), INVOKE_ACTION, ignore_case=True)
    return _any_match(_as_list(statement.get("Action")), INVOKE_ACTION, ignore_case=True)


def _matches_resource(statement: Mapping[str, Any], method_arn: str) -> bool:
    if "NotResource" in statement:
        return not _any_match(_as_list(statement["NotResource"]), method_arn, ignore_case=False)
    return _any_match(_as_list(statement.get("Resource")), method_arn, ignore_case=False)
