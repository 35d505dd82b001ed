"""The default transport: signed ``@connections`` requests over :mod:`wsgate.aws.http`.

No third-party package and no asyncio on this path: the selectors-based client of
:mod:`wsgate.aws.http` (+ ``ssl`` for https), the cached-key SigV4 signer, and
credentials from Lambda's environment. :class:`Sender` drives it synchronously
(:meth:`HttpTransport.call`, :meth:`HttpTransport.post_many`), in the calling thread; the
async ``post``/``get``/``delete`` of the Transport protocol run one attempt in a worker
thread for code that drives transports itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from heapq import heappop, heappush

from wsgate.aws.credentials import Credentials, DefaultCredentials
from wsgate.aws.http import Batch, ConnectionPool
from wsgate.aws.response import HttpResponse
from wsgate.aws.sigv4 import (
    ALGORITHM,
    EMPTY_SHA256,
    SigV4Signer,
    amz_date,
    canonical_uri,
    hmac_states,
    payload_hash,
)
from wsgate.exceptions import ConnectionGoneError, SendError, TransportError
from wsgate.sender.endpoint import Endpoint, parse_endpoint
from wsgate.sender.transport import RETRYABLE, ConnectionInfo, error_for_status

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    import ssl

    from wsgate.aws.retry import RetryPolicy
    from wsgate.sender.broadcast import BroadcastResult
    from wsgate.sender.protocols import CredentialsProvider

__all__ = ["HttpTransport"]

_USER_AGENT = "wsgate/0.1"
_PLAIN_ID = re.compile(r"[A-Za-z0-9_=-]+\Z").match


class _RequestTemplate:
    """The constant parts of one (method, endpoint, second, credentials) request, pre-built.

    Within one second, a request differs from the last one only by the connection id and
    the signature (and the body, which changes rarely: a broadcast sends one object). So the
    head is three byte strings around the id and the signature, the canonical request is a
    SHA-256 state of everything before the id plus the bytes after it, and the string to
    sign lacks only the canonical request's hash. ``test_sigv4.py`` compares the result with
    botocore's for many ids, bodies and credentials through one template.
    """

    __slots__ = (
        "body",
        "canonical",
        "canonical_end",
        "canonical_head",
        "creds",
        "date",
        "end",
        "inner",
        "method",
        "middle",
        "outer",
        "start",
    )

    def __init__(
        self, method: str, ep: Endpoint, signer: SigV4Signer, date: str, creds: Credentials
    ) -> None:
        self.method = method
        self.date = date
        self.creds = creds
        token = creds.token
        scope = signer.scope(date[:8])
        signed = "host;x-amz-date;x-amz-security-token" if token else "host;x-amz-date"
        # The day's signing key as pre-fed HMAC states; the inner one also holds the constant
        # start of the string to sign.
        self.inner, self.outer = hmac_states(signer.signing_key(creds.secret_key, date[:8]))
        self.inner.update(f"{ALGORITHM}\n{date}\n{scope}\n".encode())
        self.canonical = hashlib.sha256(f"{method}\n{ep.canonical_prefix}/%40connections/".encode())
        token_line = f"x-amz-security-token:{token}\n" if token else ""
        self.canonical_head = (
            f"\n\nhost:{ep.host_header}\nx-amz-date:{date}\n{token_line}\n{signed}\n"
        ).encode()
        token_header = f"X-Amz-Security-Token: {token}\r\n" if token else ""
        self.start = f"{method} {ep.path_prefix}/@connections/".encode("latin-1")
        self.middle = (
            f" HTTP/1.1\r\nHost: {ep.host_header}\r\nX-Amz-Date: {date}\r\n{token_header}"
            f"Authorization: {ALGORITHM} Credential={creds.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature="
        ).encode("latin-1")
        self.body: bytes | None = None
        self.canonical_end = b""
        self.end = b""

    def set_body(self, body: bytes, body_sha256: str) -> None:
        """Fills in the body-dependent parts: payload hash and ``Content-Length``."""
        self.canonical_end = self.canonical_head + body_sha256.encode()
        length = f"Content-Length: {len(body)}\r\n" if body or self.method == "POST" else ""
        self.end = f"\r\nUser-Agent: {_USER_AGENT}\r\n{length}\r\n".encode() + body
        self.body = body


class HttpTransport:
    """Signs and sends Management API calls with the stdlib selectors client.

    It is ``synchronous``: :class:`~wsgate.sender.Sender` calls :meth:`call`,
    :meth:`get_info` and :meth:`post_many` in the caller's thread, without an event loop.
    Subclasses inherit that engine (override :meth:`attempt` to change one attempt); a
    subclass that replaces the ``async`` methods instead must set ``synchronous = False``.

    Args:
        region: Signing region; by default the region in the ``execute-api`` host name,
            else ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else ``us-east-1`` (the emulator
            does not check it).
        credentials: Where keys come from; default: Lambda's env vars, then botocore's chain.
        ssl_context: For https endpoints; default verifies certificate and host name.
        timeout: Seconds from request to complete response.
        connect_timeout: Seconds for TCP connect plus TLS handshake.
        idle_timeout: Idle keep-alive connections older than this are not reused.
        max_idle: Idle connections kept per host.
    """

    #: The capability :class:`~wsgate.sender.Sender` looks for: this transport runs whole
    #: calls (with retries) and broadcasts itself, synchronously.
    synchronous = True

    def __init__(
        self,
        *,
        region: str | None = None,
        credentials: CredentialsProvider | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        idle_timeout: float = 30.0,
        max_idle: int = 512,
    ) -> None:
        self._region = region
        self._credentials = credentials if credentials is not None else DefaultCredentials()
        self.pool = ConnectionPool(
            ssl_context=ssl_context,
            connect_timeout=connect_timeout,
            read_timeout=timeout,
            idle_timeout=idle_timeout,
            max_idle=max_idle,
        )
        self._signers: dict[str, SigV4Signer] = {}
        self._by_endpoint: dict[str, SigV4Signer] = {}
        self._date_second = -1
        self._date = ""
        self._body: bytes | None = None
        self._body_hash = EMPTY_SHA256
        self._templates: dict[tuple[str, str], _RequestTemplate] = {}

    def _signer(self, endpoint: Endpoint) -> SigV4Signer:
        signer = self._by_endpoint.get(endpoint.url)
        if signer is not None:
            return signer
        region = (
            self._region
            or endpoint.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )
        signer = self._signers.get(region)
        if signer is None:
            signer = self._signers[region] = SigV4Signer(region)
        if len(self._by_endpoint) < 256:
            self._by_endpoint[endpoint.url] = signer
        return signer

    def _request(self, method: str, ep: Endpoint, connection_id: str, body: bytes) -> bytes:
        now = time.time()
        second = int(now)
        if second != self._date_second:
            self._date = amz_date(second)
            self._date_second = second
        date = self._date
        if body is not self._body:
            # A broadcast sends the same bytes object to everyone: hash it once.
            self._body_hash = payload_hash(body)
            self._body = body
        creds = self._credentials.get()
        if ep.canonical_prefix is not None and _PLAIN_ID(connection_id):
            # The usual id (base64-ish: letters, digits, '-', '_', '='): only '=' needs
            # escaping, and the canonical URI escapes the '%' and the '@' once more.
            template = self._templates.get((method, ep.url))
            if template is None or template.date is not date or template.creds is not creds:
                template = self._template(method, ep, date, creds)
            if template.body is not body:
                template.set_body(body, self._body_hash)
            quoted = connection_id.replace("=", "%3D")
            digest = template.canonical.copy()
            digest.update(quoted.replace("%", "%25").encode())
            digest.update(template.canonical_end)
            inner = template.inner.copy()  # HMAC's inner hash, fed the string to sign
            inner.update(digest.hexdigest().encode())
            outer = template.outer.copy()
            outer.update(inner.digest())
            signature = outer.hexdigest().encode()
            return b"".join(
                (template.start, quoted.encode(), template.middle, signature, template.end)
            )
        from urllib.parse import quote  # unusual ids only: not on the import path

        wire_path = f"{ep.path_prefix}/@connections/{quote(connection_id, safe='')}"
        auth = self._signer(ep).authorization(
            creds, method, canonical_uri(wire_path), ep.host_header, date, self._body_hash
        )
        token = f"X-Amz-Security-Token: {creds.token}\r\n" if creds.token else ""
        length = f"Content-Length: {len(body)}\r\n" if body or method == "POST" else ""
        head = (
            f"{method} {wire_path} HTTP/1.1\r\nHost: {ep.host_header}\r\n"
            f"X-Amz-Date: {date}\r\n{token}Authorization: {auth}\r\n"
            f"User-Agent: {_USER_AGENT}\r\n{length}\r\n"
        ).encode("latin-1")
        return head + body if body else head

    def _template(
        self, method: str, ep: Endpoint, date: str, creds: Credentials
    ) -> _RequestTemplate:
        if len(self._templates) >= 256:
            self._templates.clear()
        template = _RequestTemplate(method, ep, self._signer(ep), date, creds)
        self._templates[(method, ep.url)] = template
        return template

    # --- synchronous calls: what Sender uses (no event loop, no thread hand-off) ----------

    def attempt(
        self,
        method: str,
        endpoint: str,
        connection_id: str,
        body: bytes = b"",
        stop: float | None = None,
    ) -> HttpResponse:
        """One attempt of one call in the calling thread: the response, whatever its status.

        ``stop`` is a ``time.monotonic()`` time after which the attempt is abandoned.

        Raises:
            TransportError: Connecting, sending or receiving failed, timed out or hit ``stop``.
        """
        ep = parse_endpoint(endpoint)
        request = self._request(method, ep, connection_id, body)
        with Batch(self.pool) as batch:
            batch.start((ep.scheme, ep.host, ep.port), request, None)
            while True:
                timeout = None
                if stop is not None:
                    timeout = stop - time.monotonic()
                    if timeout <= 0:
                        raise TransportError(connection_id, None, "deadline reached")
                for _, outcome in batch.poll(timeout):
                    if isinstance(outcome, Exception):
                        raise _transport_error(connection_id, endpoint, outcome) from outcome
                    return outcome

    def call(
        self,
        method: str,
        endpoint: str,
        connection_id: str,
        body: bytes,
        policy: RetryPolicy,
        deadline: float | None,
        stop: float | None = None,
    ) -> HttpResponse:
        """One call with retries (429, 5xx, network) in the calling thread; returns a 2xx answer.

        Raises:
            SendError: The matching subclass, once the policy or the deadline gives up.
        """
        attempt = 1
        while True:
            try:
                response = self.attempt(method, endpoint, connection_id, body, stop)
            except TransportError as exc:
                error: SendError = exc
            else:
                if 200 <= response.status < 300:
                    return response
                error = self._error(connection_id, response)
            if not isinstance(error, RETRYABLE):
                raise error
            delay = policy.backoff(attempt, deadline)
            if delay is None:
                raise error
            time.sleep(delay)
            attempt += 1

    def get_info(
        self,
        endpoint: str,
        connection_id: str,
        policy: RetryPolicy,
        deadline: float | None,
        stop: float | None = None,
    ) -> ConnectionInfo:
        """GetConnection with retries, in the calling thread.

        Raises:
            SendError: The matching subclass, once the policy or the deadline gives up.
        """
        response = self.call("GET", endpoint, connection_id, b"", policy, deadline, stop)
        return ConnectionInfo.from_json(connection_id, response.body)

    def post_many(
        self,
        work: list[tuple[str, str]],
        data: bytes,
        policy: RetryPolicy,
        deadline: float | None,
        max_concurrency: int,
        result: BroadcastResult,
    ) -> None:
        """PostToConnection to every ``(endpoint, id)`` of ``work``; fills ``result`` in place.

        At most ``max_concurrency`` requests are in flight; the next one is written as soon
        as an answer arrives. Retryable failures wait out their backoff in a timer heap
        without holding a slot. At the ``deadline`` nothing new starts: in-flight and
        waiting recipients fail with "deadline reached while sending", the rest with
        "deadline reached before sending". Never raises for a recipient's failure.
        """
        sent, gone, failed = result.sent, result.gone, result.failed
        items = iter(work)
        waiting: list[tuple[float, int, str, str]] = []  # (due, seq, endpoint, id): retries
        attempts: dict[str, int] = {}
        seq = 0
        more = True
        request = self._request
        routes: dict[
            str, tuple[Endpoint, tuple[str, str, int]]
        ] = {}  # endpoint → (parsed, pool key)
        with Batch(self.pool) as batch:
            start = batch.start
            poll = batch.poll
            while True:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    for _, cid in batch.tokens():
                        failed[cid] = TransportError(cid, None, "deadline reached while sending")
                    for _, _, _, cid in waiting:
                        failed[cid] = TransportError(cid, None, "deadline reached while sending")
                    for _, cid in items:
                        failed[cid] = TransportError(cid, None, "deadline reached before sending")
                    return
                while waiting and waiting[0][0] <= now and batch.active < max_concurrency:
                    _, _, endpoint, cid = heappop(waiting)
                    ep, key = routes[endpoint]
                    start(key, request("POST", ep, cid, data), (endpoint, cid))
                while more and batch.active < max_concurrency:
                    for endpoint, cid in items:
                        try:
                            route = routes.get(endpoint)
                            if route is None:
                                ep = parse_endpoint(endpoint)
                                route = routes[endpoint] = (ep, (ep.scheme, ep.host, ep.port))
                            ep, key = route
                            start(key, request("POST", ep, cid, data), (endpoint, cid))
                        except Exception as exc:  # one bad recipient must not lose the others
                            failed[cid] = SendError(cid, None, f"{type(exc).__name__}: {exc}")
                        break
                    else:
                        more = False
                if not batch.active and not waiting:
                    return  # (``items`` is exhausted too, or a start would be active)
                timeout: float | None = None  # an answer will come (or a request time out)
                if waiting and batch.active < max_concurrency:
                    timeout = max(0.0, waiting[0][0] - now)  # a free slot for the next retry
                if deadline is not None and (timeout is None or timeout > deadline - now):
                    timeout = deadline - now
                for token, outcome in poll(timeout):
                    endpoint, cid = token
                    if type(outcome) is HttpResponse:
                        status = outcome.status
                        if 200 <= status < 300:
                            sent.append(cid)
                            continue
                        error = self._error(cid, outcome)
                    else:
                        error = _transport_error(cid, endpoint, outcome)  # type: ignore[arg-type]
                    if isinstance(error, RETRYABLE):
                        attempt = attempts.get(cid, 1)
                        delay = policy.backoff(attempt, deadline)
                        if delay is not None:
                            attempts[cid] = attempt + 1
                            seq += 1
                            heappush(waiting, (time.monotonic() + delay, seq, endpoint, cid))
                            continue
                    if isinstance(error, ConnectionGoneError):
                        gone.append(cid)
                    else:
                        failed[cid] = error

    @staticmethod
    def _error(connection_id: str, response: HttpResponse) -> SendError:
        message = ""
        if response.body:
            try:
                parsed = json.loads(response.body)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                value = parsed.get("message", parsed.get("Message"))
                message = value if isinstance(value, str) else ""
        error_type = response.headers.get("x-amzn-errortype")
        return error_for_status(connection_id, response.status, error_type, message)

    # --- the Transport protocol (async), for code that drives transports itself ---------

    async def _async_attempt(
        self, method: str, endpoint: str, connection_id: str, body: bytes
    ) -> HttpResponse:
        import asyncio

        return await asyncio.to_thread(self.attempt, method, endpoint, connection_id, body)

    async def post(self, endpoint: str, connection_id: str, data: bytes) -> None:
        """PostToConnection (one attempt); see :class:`~wsgate.sender.transport.Transport`."""
        response = await self._async_attempt("POST", endpoint, connection_id, data)
        if not 200 <= response.status < 300:
            raise self._error(connection_id, response)

    async def get(self, endpoint: str, connection_id: str) -> ConnectionInfo:
        """GetConnection (one attempt); see :class:`~wsgate.sender.transport.Transport`."""
        response = await self._async_attempt("GET", endpoint, connection_id, b"")
        if response.status != 200:
            raise self._error(connection_id, response)
        return ConnectionInfo.from_json(connection_id, response.body)

    async def delete(self, endpoint: str, connection_id: str) -> None:
        """DeleteConnection (one attempt); see :class:`~wsgate.sender.transport.Transport`."""
        response = await self._async_attempt("DELETE", endpoint, connection_id, b"")
        if not 200 <= response.status < 300:
            raise self._error(connection_id, response)

    def close(self) -> None:
        """Closes the idle keep-alive connections."""
        self.pool.close()

    async def aclose(self) -> None:
        """Closes the idle keep-alive connections (the Transport protocol's hook)."""
        self.pool.close()


def _transport_error(connection_id: str, endpoint: str, exc: Exception) -> TransportError:
    if isinstance(exc, TimeoutError):
        return TransportError(connection_id, None, f"timed out ({endpoint})")
    return TransportError(connection_id, None, f"{type(exc).__name__}: {exc} ({endpoint})")
