"""Authorizer emulation: run a REQUEST authorizer in front of ``$connect`` as API Gateway does.

Reference §4 and §10.9, step by step:

1. Every identity source must be present and non-empty, or the client gets **401** and the
   authorizer is not invoked.
2. The authorizer gets the §4.2 event: ``type: "REQUEST"``, ``methodArn``
   (``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect``), the handshake headers
   with ``Connection``/``Upgrade``/``content-length``, the query string, ``stageVariables: {}``
   and the CONNECT ``requestContext`` (connection id included).
3. It fails with the message ``"Unauthorized"`` → **401**; fails otherwise, times out, or
   answers with a malformed response, a non-scalar context or more than 8 KB → **500**;
   answers ``Deny`` or no ``Allow`` matching the method ARN → **403**.
4. On ``Allow``, ``{principalId, integrationLatency: <ms>, ...context stringified}`` becomes
   ``requestContext.authorizer`` of the CONNECT, MESSAGE and DISCONNECT events.

The emulator calls :func:`app_authorizer` (the app's own ``@app.authorizer``) or a
:class:`LocalAuthorizer` given with ``--authorizer module:attr``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wsgate.auth.authorizer import DEFAULT_IDENTITY_SOURCES, IdentitySource, RequestAuthorizer
from wsgate.auth.policy import MethodArn, authorizer_context, evaluate_policy, validate_response
from wsgate.exceptions import AuthorizerConfigurationError, ConfigurationError
from wsgate.local.eventgen import build_connect_event, forwarded_headers, make_id

if TYPE_CHECKING:
    from wsgate.local.server import Emulator
    from wsgate.local.session import Session

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "LocalAuthorizer",
    "Verdict",
    "app_authorizer",
    "build_authorizer_event",
]

logger = logging.getLogger("wsgate.local")

DEFAULT_ACCOUNT_ID = "123456789012"
_REPLACED_HEADERS = frozenset({"connection", "upgrade", "content-length"})

AuthorizerHandler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class Verdict:
    """The outcome of one authorizer run.

    Attributes:
        status: ``None`` when the connection may proceed, else the HTTP status (401/403/500).
        authorizer: ``requestContext.authorizer`` for later events (only when allowed).
        error_type: API Gateway's error type for a refusal (``UnauthorizedException``, ...).
        invoked: Whether the authorizer function ran (not when an identity source is missing).
        reason: Why, for the emulator's log only; never sent to the client.
    """

    status: int | None
    authorizer: dict[str, Any] | None = None
    error_type: str | None = None
    invoked: bool = True
    reason: str = ""


def build_authorizer_event(connect_event: Mapping[str, Any], method_arn: str) -> dict[str, Any]:
    """The REQUEST authorizer event (§4.2) for the CONNECT event of the same handshake."""
    headers = {
        k: v
        for k, v in connect_event.get("headers", {}).items()
        if k.lower() not in _REPLACED_HEADERS
    }
    multi = {
        k: list(v)
        for k, v in connect_event.get("multiValueHeaders", {}).items()
        if k.lower() not in _REPLACED_HEADERS
    }
    for name, value in (
        ("Connection", "upgrade"),
        ("content-length", "0"),
        ("Upgrade", "websocket"),
    ):
        headers[name] = value
        multi[name] = [value]
    event: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": headers,
        "multiValueHeaders": multi,
        "stageVariables": {},
        "requestContext": dict(connect_event.get("requestContext", {})),
    }
    for key in ("queryStringParameters", "multiValueQueryStringParameters"):
        if key in connect_event:
            event[key] = connect_event[key]
    return event


class LocalAuthorizer:
    """A REQUEST authorizer function with its identity sources, run the API Gateway way.

    Args:
        handler: ``handler(event, context)``, e.g. a :class:`~wsgate.auth.RequestAuthorizer`
            or any Lambda authorizer function.
        identity_sources: Checked before the call; taken from ``handler`` when it declares
            them (a ``RequestAuthorizer``), else the ``Authorization`` header.
        region: For the method ARN; ``AWS_REGION``/``AWS_DEFAULT_REGION`` or ``us-east-1``.
        account_id: For the method ARN.
        timeout: Seconds the function may run before the client gets 500.

    Raises:
        ConfigurationError: a malformed identity source.
    """

    def __init__(
        self,
        handler: AuthorizerHandler,
        identity_sources: Iterable[str] | None = None,
        *,
        region: str | None = None,
        account_id: str = DEFAULT_ACCOUNT_ID,
        timeout: float = 29.0,
    ) -> None:
        if identity_sources is None:
            declared = getattr(handler, "identity_source_expressions", None)
            identity_sources = declared if declared is not None else DEFAULT_IDENTITY_SOURCES
        self.handler = handler
        self.identity_sources = tuple(IdentitySource.parse(s) for s in identity_sources)
        if not self.identity_sources:
            raise ConfigurationError("an authorizer needs at least one identity source")
        self.region = region
        self.account_id = account_id
        self.timeout = timeout

    @classmethod
    def load(cls, target: str, **options: Any) -> LocalAuthorizer:
        """Import ``module:attr`` or ``path/to/file.py:attr`` (``--authorizer``).

        Raises:
            ConfigurationError: it cannot be imported, or is not callable.
        """
        from wsgate.local.invoke import load_app

        spec = load_app(target)
        handler = spec.handler
        if isinstance(spec.authorizer, RequestAuthorizer):
            handler = spec.authorizer  # module:attr named an app: run its authorizer
        return cls(handler, **options)

    def method_arn(self, api_id: str, stage: str) -> str:
        """``arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/$connect``."""
        region = (
            self.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )
        return str(MethodArn(region, self.account_id, api_id, stage))

    def run(self, event: Mapping[str, Any], lambda_context: Any = None) -> Verdict:
        """Decide one authorizer event, calling the function in this thread.

        Never raises: every failure is a :class:`Verdict` with its status.
        """
        missing = [s.expression for s in self.identity_sources if not s.is_present(event)]
        if missing:
            return Verdict(401, None, "UnauthorizedException", False, f"missing {missing}")
        started = time.perf_counter()
        try:
            result = self.handler(dict(event), lambda_context)
        except Exception as exc:
            return _failure(exc)
        latency = int((time.perf_counter() - started) * 1000)
        return self.decide(result, str(event.get("methodArn", "")), latency)

    @staticmethod
    def decide(result: object, method_arn: str, integration_latency: int) -> Verdict:
        """Turn the function's answer into a verdict (validation, then policy evaluation)."""
        try:
            response = validate_response(result)
            decision = evaluate_policy(response, method_arn)
        except AuthorizerConfigurationError as exc:
            return Verdict(500, None, "AuthorizerConfigurationException", True, exc.reason)
        if decision != "Allow":
            return Verdict(403, None, "AccessDeniedException", True, "policy does not allow")
        context = authorizer_context(
            response["principalId"], response.get("context"), integration_latency
        )
        return Verdict(None, context, None, True, "allowed")

    async def authorize(self, emulator: Emulator, session: Session) -> Verdict:
        """Run the authorizer for a pending handshake in the emulator's worker pool."""
        event = build_authorizer_event(
            _connect_event(emulator, session),
            self.method_arn(emulator.api_id, emulator.config.stage),
        )
        request_id = make_id()

        def call() -> Verdict:
            from wsgate.context import LambdaContext

            context = LambdaContext(
                aws_request_id=request_id,
                function_name=getattr(self.handler, "__name__", "authorizer"),
                deadline=time.time() + self.timeout,
            )
            return self.run(event, context)

        future = asyncio.wrap_future(emulator.invoker.call_sync(call, control=True))
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            return Verdict(500, None, "AuthorizerFailureException", True, "timed out")

    async def __call__(self, emulator: Emulator, session: Session) -> int | None:
        """The emulator's ``$connect`` hook: ``None`` to proceed, or the refusal status."""
        verdict = await self.authorize(emulator, session)
        if verdict.status is None:
            session.authorizer = verdict.authorizer
            return None
        log = logger.info if verdict.status != 500 else logger.warning
        log(
            "authorizer refused %s with %s: %s",
            session.connection_id,
            verdict.status,
            verdict.reason,
        )
        return verdict.status


async def app_authorizer(emulator: Emulator, session: Session) -> int | None:
    """The default hook: run the app's ``@app.authorizer``, if it has one (re-read on reload)."""
    app = emulator.app
    config = getattr(app, "authorizer", None) if app is not None else None
    if config is None:
        return None
    local = LocalAuthorizer(config, timeout=emulator.config.integration_timeout)
    return await local(emulator, session)


def _failure(exc: Exception) -> Verdict:
    # API Gateway keys on the error message: exactly "Unauthorized" means 401
    # (docs/aws-behaviour.md §4.3).
    if str(exc) == "Unauthorized":
        return Verdict(401, None, "UnauthorizedException", True, "Unauthorized")
    logger.error("authorizer failed", exc_info=exc)
    return Verdict(500, None, "AuthorizerFailureException", True, type(exc).__name__)


def _connect_event(emulator: Emulator, session: Session) -> dict[str, Any]:
    request = session.http_request
    headers = forwarded_headers(request.headers, source_ip=session.source_ip, port=emulator.port)
    return build_connect_event(
        connection_id=session.connection_id,
        connected_at=session.connected_at_ms,
        stage=emulator.config.stage,
        api_id=emulator.api_id,
        domain_name=session.domain_name,
        headers=headers,
        query=request.query_pairs(),
        source_ip=session.source_ip,
        user_agent=session.user_agent,
    )
