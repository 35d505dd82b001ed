"""Writing a REQUEST authorizer for a WebSocket API's ``$connect`` route.

Write a function that takes an :class:`AuthorizerRequest` and returns a :class:`Principal`
(or raises :class:`~wsgate.exceptions.Unauthorized` / :class:`~wsgate.exceptions.AccessDenied`),
and wrap it with :func:`request_authorizer` — or register it with ``@app.authorizer`` on a
:class:`~wsgate.router.WebSocketApp`. The result is a Lambda handler that speaks API Gateway's
authorizer protocol::

    from wsgate.auth import Principal, request_authorizer
    from wsgate.exceptions import Unauthorized

    @request_authorizer(identity_sources=["route.request.querystring.token"])
    def authorize(request):
        user = lookup(request.query["token"])
        if user is None:
            raise Unauthorized("unknown token")
        return Principal(user.id, {"plan": user.plan})

How outcomes map (docs/aws-behaviour.md §4.3):

===============================================  ============================================
the function                                     the client sees
===============================================  ============================================
returns a ``Principal`` / principal id ``str``   the connection proceeds to ``$connect``
raises ``Unauthorized`` or returns ``None``      401 (the Lambda fails with ``"Unauthorized"``)
raises ``AccessDenied``                          403 (a ``Deny`` policy is returned)
raises anything else                             500
returns a context with objects/arrays            500
===============================================  ============================================

The identity sources are declared once: the emulator checks them before calling the function
(missing or empty → 401 without a call, as API Gateway does) and the deployment template
writes them into the authorizer resource.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from wsgate.auth.policy import AuthorizerResponse, MethodArn, Principal, validate_response
from wsgate.exceptions import (
    AccessDenied,
    AuthorizerConfigurationError,
    ConfigurationError,
    Unauthorized,
)

__all__ = [
    "AuthorizeFunction",
    "AuthorizerRequest",
    "IdentitySource",
    "RequestAuthorizer",
    "is_authorizer_event",
    "request_authorizer",
]

logger = logging.getLogger("wsgate.auth")

SourceKind: TypeAlias = Literal["header", "querystring", "stageVariables", "context"]
AuthorizeResult: TypeAlias = "Principal | AuthorizerResponse | Mapping[str, Any] | str | None"
AuthorizeFunction: TypeAlias = Callable[["AuthorizerRequest"], AuthorizeResult]

_PREFIXES: tuple[tuple[str, SourceKind], ...] = (
    ("route.request.header.", "header"),
    ("route.request.querystring.", "querystring"),
    ("stageVariables.", "stageVariables"),
    ("context.", "context"),
)
DEFAULT_IDENTITY_SOURCES = ("route.request.header.Authorization",)


@dataclass(frozen=True)
class IdentitySource:
    """One identity source of a WebSocket REQUEST authorizer.

    API Gateway checks every identity source before calling the authorizer: if any is missing
    or empty, the client gets 401 and the function is not invoked.

    Attributes:
        kind: ``"header"``, ``"querystring"``, ``"stageVariables"`` or ``"context"``.
        name: The header, parameter, variable or context field name.
    """

    kind: SourceKind
    name: str

    @classmethod
    def parse(cls, expression: str) -> IdentitySource:
        """Parse ``route.request.header.Authorization`` and its siblings.

        Raises:
            ConfigurationError: not one of the four WebSocket identity source forms.
        """
        if isinstance(expression, str):
            for prefix, kind in _PREFIXES:
                name = expression[len(prefix) :]
                if expression.startswith(prefix) and name and name.strip() == name:
                    return cls(kind, name)
        raise ConfigurationError(
            f"invalid identity source {expression!r}: expected route.request.header.NAME, "
            "route.request.querystring.NAME, stageVariables.NAME or context.NAME"
        )

    @property
    def expression(self) -> str:
        """The source as written in a template (``route.request.header.Authorization``)."""
        prefix = next(p for p, kind in _PREFIXES if kind == self.kind)
        return prefix + self.name

    def values(self, event: Mapping[str, Any]) -> list[str]:
        """Every value of this source in a CONNECT or authorizer event (empty when absent).

        Header names match case-insensitively; ``multiValueHeaders`` wins over ``headers``.
        """
        if self.kind == "header":
            return _lookup(event, "multiValueHeaders", "headers", self.name, ignore_case=True)
        if self.kind == "querystring":
            return _lookup(
                event,
                "multiValueQueryStringParameters",
                "queryStringParameters",
                self.name,
                ignore_case=False,
            )
        if self.kind == "stageVariables":
            return _lookup(event, "", "stageVariables", self.name, ignore_case=False)
        request_context = event.get("requestContext")
        value = request_context.get(self.name) if isinstance(request_context, Mapping) else None
        return [str(value)] if isinstance(value, str | int | float) else []

    def is_present(self, event: Mapping[str, Any]) -> bool:
        """Whether the source has a non-empty value (API Gateway's pre-check)."""
        return any(value.strip() for value in self.values(event))


def _lookup(
    event: Mapping[str, Any], multi_key: str, single_key: str, name: str, *, ignore_case: bool
) -> list[str]:
    for key, as_list in ((multi_key, True), (single_key, False)):
        table = event.get(key) if key else None
        if not isinstance(table, Mapping):
            continue
        found = [v for k, v in table.items() if k == name or (ignore_case and _ieq(k, name))]
        values: list[str] = []
        for item in found:
            items = item if as_list and isinstance(item, list) else [item]
            values.extend(v for v in items if isinstance(v, str))
        if values:
            return values
    return []


def _ieq(a: object, b: str) -> bool:
    return isinstance(a, str) and a.lower() == b.lower()


def is_authorizer_event(event: object) -> bool:
    """Whether a Lambda event is an API Gateway REQUEST authorizer call (not a route event)."""
    return (
        isinstance(event, Mapping)
        and event.get("type") == "REQUEST"
        and isinstance(event.get("methodArn"), str)
    )


class AuthorizerRequest:
    """A read-only view of the event API Gateway sends a REQUEST authorizer.

    Its shape: docs/aws-behaviour.md §4.2.

    Attributes:
        raw: The event dict as received.
        lambda_context: The Lambda context object, when one was given.
    """

    __slots__ = ("lambda_context", "raw")

    def __init__(self, raw: Mapping[str, Any], lambda_context: Any = None) -> None:
        self.raw = raw
        self.lambda_context = lambda_context

    @property
    def method_arn(self) -> str:
        """The ``$connect`` method ARN the policy must allow."""
        value = self.raw.get("methodArn")
        return value if isinstance(value, str) else ""

    @property
    def request_context(self) -> Mapping[str, Any]:
        """``requestContext``: the same fields as the CONNECT event's, connection id included."""
        value = self.raw.get("requestContext")
        return value if isinstance(value, Mapping) else {}

    @property
    def connection_id(self) -> str | None:
        """The id the connection will have if it is allowed."""
        value = self.request_context.get("connectionId")
        return value if isinstance(value, str) else None

    @property
    def source_ip(self) -> str | None:
        """``requestContext.identity.sourceIp``."""
        identity = self.request_context.get("identity")
        value = identity.get("sourceIp") if isinstance(identity, Mapping) else None
        return value if isinstance(value, str) else None

    @property
    def headers(self) -> dict[str, str]:
        """Handshake headers, keys lower-cased (the last value wins for repeated headers)."""
        result: dict[str, str] = {}
        for key in ("headers", "multiValueHeaders"):
            table = self.raw.get(key)
            if isinstance(table, Mapping):
                for name, value in table.items():
                    if isinstance(value, list) and value and isinstance(value[-1], str):
                        value = value[-1]
                    if isinstance(name, str) and isinstance(value, str):
                        result[name.lower()] = value
        return result

    @property
    def query(self) -> dict[str, str]:
        """Query string parameters (empty when the URL had none)."""
        table = self.raw.get("queryStringParameters")
        if not isinstance(table, Mapping):
            return {}
        return {k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, str)}

    @property
    def stage_variables(self) -> dict[str, str]:
        """``stageVariables`` (usually empty)."""
        table = self.raw.get("stageVariables")
        if not isinstance(table, Mapping):
            return {}
        return {k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, str)}

    def header(self, name: str) -> str | None:
        """One header by case-insensitive name, or ``None``."""
        return self.headers.get(name.lower())

    def identity(self, source: IdentitySource | str) -> list[str]:
        """Every value of an identity source in this request."""
        if isinstance(source, str):
            source = IdentitySource.parse(source)
        return source.values(self.raw)


class RequestAuthorizer:
    """A REQUEST authorizer: your authorize function plus its identity sources.

    Call the instance as a Lambda handler (``handler(event, context) -> dict``). The emulator
    and the template generator read :attr:`identity_sources`.

    Args:
        func: Takes an :class:`AuthorizerRequest`; returns a :class:`Principal`, a principal
            id, an :class:`AuthorizerResponse`, a raw response dict, or ``None`` (refused).
        identity_sources: Where the credential comes from; at least one.
        user_id_key: The context key that holds the user id; ``None`` means ``principalId``.

    Raises:
        ConfigurationError: no identity source, or one that is malformed.
    """

    def __init__(
        self,
        func: AuthorizeFunction,
        identity_sources: Iterable[str] = DEFAULT_IDENTITY_SOURCES,
        *,
        user_id_key: str | None = None,
    ) -> None:
        if isinstance(identity_sources, str):
            identity_sources = [identity_sources]
        sources = tuple(IdentitySource.parse(source) for source in identity_sources)
        if not sources:
            raise ConfigurationError("an authorizer needs at least one identity source")
        self.func = func
        self.identity_sources = sources
        self.user_id_key = user_id_key
        self.__name__ = getattr(func, "__name__", type(self).__name__)
        self.__doc__ = getattr(func, "__doc__", None)

    @property
    def identity_source_expressions(self) -> list[str]:
        """The identity sources as a template writes them."""
        return [source.expression for source in self.identity_sources]

    def missing_identity_sources(self, event: Mapping[str, Any]) -> list[str]:
        """The identity sources absent or empty in ``event`` (API Gateway's pre-check)."""
        return [s.expression for s in self.identity_sources if not s.is_present(event)]

    def authorize(self, event: Mapping[str, Any], lambda_context: Any = None) -> dict[str, Any]:
        """Run the function on an authorizer event and return API Gateway's response dict.

        Raises:
            Unauthorized: identity sources missing, or the function refused the credentials.
            AuthorizerConfigurationError: the event is not an authorizer event, or the function
                answered in a form API Gateway would refuse.
            Exception: whatever else the function raised (API Gateway answers 500).
        """
        if not is_authorizer_event(event):
            raise AuthorizerConfigurationError("not a REQUEST authorizer event (no methodArn)")
        missing = self.missing_identity_sources(event)
        if missing:
            raise Unauthorized(f"missing identity source {', '.join(missing)}")
        request = AuthorizerRequest(event, lambda_context)
        try:
            result = self.func(request)
        except AccessDenied as exc:
            logger.info("authorizer denied %s: %s", request.connection_id, exc.reason)
            return AuthorizerResponse("denied", "Deny", request.method_arn).to_dict()
        return self._response(result, request)

    def _response(self, result: object, request: AuthorizerRequest) -> dict[str, Any]:
        if result is None:
            raise Unauthorized("authorize function returned None")
        if isinstance(result, str):
            result = Principal(result)
        if isinstance(result, Principal):
            if not result.principal_id:
                raise AuthorizerConfigurationError("empty principal id")
            return AuthorizerResponse(
                result.principal_id,
                "Allow",
                request.method_arn,
                result.context,
                result.usage_identifier_key,
            ).to_dict()
        if isinstance(result, AuthorizerResponse):
            return result.to_dict()
        return validate_response(result)

    def __call__(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        """The Lambda handler API Gateway invokes.

        Refusals leave the Lambda with the error message ``"Unauthorized"`` exactly, which is
        what makes API Gateway answer 401; the reason is logged, never returned.
        """
        try:
            return self.authorize(event, context)
        except Unauthorized as exc:
            logger.info("authorizer refused the connection: %s", exc.reason or "unauthorized")
            raise Unauthorized() from None

    def method_arn_for(self, event: Mapping[str, Any]) -> MethodArn:
        """The parsed ``methodArn`` of an authorizer event.

        Raises:
            AuthorizerConfigurationError: the event carries no valid method ARN.
        """
        return MethodArn.parse(AuthorizerRequest(event).method_arn)


def request_authorizer(
    func: AuthorizeFunction | None = None,
    *,
    identity_sources: Iterable[str] = DEFAULT_IDENTITY_SOURCES,
    user_id_key: str | None = None,
) -> Any:
    """Decorator: turn an authorize function into a :class:`RequestAuthorizer` Lambda handler.

    Usable bare (``@request_authorizer``) or with arguments
    (``@request_authorizer(identity_sources=["route.request.querystring.token"])``).

    Raises:
        ConfigurationError: a malformed identity source.
    """

    def wrap(f: AuthorizeFunction) -> RequestAuthorizer:
        return RequestAuthorizer(f, identity_sources, user_id_key=user_id_key)

    return wrap(func) if func is not None else wrap
