"""The boto3 transport and the lazily built ``apigatewaymanagementapi`` client.

Selectable with ``Sender(transport="boto3")``: the same retries, deadlines, payload check
and error classes as the default transport, because this module only makes one attempt
per call and maps botocore's errors to :mod:`wsgate.exceptions`. boto3 is imported on
first use, never when :mod:`wsgate.sender` is imported.

The client is configured for this workload: botocore's own retries off (wsgate retries,
bounded by the Lambda deadline), a connection pool as large as the thread pool, short
connect and read timeouts, TCP keep-alive.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from wsgate.exceptions import SendError, TransportError
from wsgate.sender.endpoint import parse_endpoint, resolve_endpoint
from wsgate.sender.protocols import CredentialsProvider
from wsgate.sender.transport import ConnectionInfo, error_for_status

__all__ = ["Boto3Transport", "get_management_client"]

_clients: dict[tuple[str, str, int], Any] = {}
_clients_lock = threading.Lock()


def _region(endpoint: str, region: str | None) -> str:
    return (
        region
        or parse_endpoint(endpoint).region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )


def get_management_client(
    endpoint: str | None = None,
    *,
    region: str | None = None,
    credentials: CredentialsProvider | None = None,
    max_pool_connections: int = 64,
    timeout: float = 10.0,
) -> Any:
    """The boto3 ``apigatewaymanagementapi`` client for an endpoint, built once and cached.

    Call it when you need an API wsgate does not wrap; ``ws_get_management_client()`` in
    :mod:`wsgate.gateway` returns this. The endpoint resolves as for a send.

    Raises:
        ConfigurationError: No endpoint can be resolved.
        ImportError: boto3 is not installed (it is on the Lambda runtime; ``wsgate[aws]``).
    """
    url = resolve_endpoint(endpoint)
    region = _region(url, region)
    key = (url, region, max_pool_connections)
    client = _clients.get(key) if credentials is None else None
    if client is not None:
        return client
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=max_pool_connections,
        connect_timeout=min(timeout, 5.0),
        read_timeout=timeout,
        tcp_keepalive=True,
        user_agent_extra="wsgate",
    )
    kwargs: dict[str, Any] = {}
    if credentials is not None:
        creds = credentials.get()
        kwargs = {
            "aws_access_key_id": creds.access_key,
            "aws_secret_access_key": creds.secret_key,
            "aws_session_token": creds.token,
        }
    with _clients_lock:
        client = _clients.get(key) if credentials is None else None
        if client is None:
            client = boto3.session.Session().client(
                "apigatewaymanagementapi",
                endpoint_url=url,
                region_name=region,
                config=config,
                **kwargs,
            )
            if credentials is None:
                _clients[key] = client
    return client


def _map_error(connection_id: str, exc: Exception) -> SendError:
    from botocore.exceptions import BotoCoreError, ClientError

    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        status = meta.get("HTTPStatusCode")
        code = str(error.get("Code", ""))
        if not isinstance(status, int):
            status = int(code) if code.isdigit() else 0
        return error_for_status(connection_id, status, code, str(error.get("Message") or ""))
    if isinstance(exc, BotoCoreError):
        return TransportError(connection_id, None, f"{type(exc).__name__}: {exc}")
    return SendError(connection_id, None, f"{type(exc).__name__}: {exc}")


class Boto3Transport:
    """Runs boto3 calls in a thread pool, one attempt each, with wsgate's error classes.

    Args:
        client: An ``apigatewaymanagementapi`` client to use for every endpoint (it is
            bound to its own ``endpoint_url``); by default one client per endpoint is built.
        region: Signing region for built clients.
        credentials: Keys for built clients (default: boto3's own chain).
        timeout: Read timeout of built clients.
        max_workers: Threads (and pooled HTTP connections) for concurrent calls.
    """

    def __init__(
        self,
        *,
        client: Any = None,
        region: str | None = None,
        credentials: CredentialsProvider | None = None,
        timeout: float = 10.0,
        max_workers: int = 64,
    ) -> None:
        self._client = client
        self._region = region
        self._credentials = credentials
        self._timeout = timeout
        self._max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._by_endpoint: dict[str, Any] = {}
        self._lock = threading.Lock()

    def client_for(self, endpoint: str) -> Any:
        """The boto3 client used for ``endpoint``."""
        if self._client is not None:
            return self._client
        client = self._by_endpoint.get(endpoint)
        if client is not None:
            return client
        client = self._by_endpoint[endpoint] = get_management_client(
            endpoint,
            region=self._region,
            credentials=self._credentials,
            max_pool_connections=self._max_workers,
            timeout=self._timeout,
        )
        return client

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        self._max_workers, thread_name_prefix="wsgate-boto3"
                    )
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    def _post(self, endpoint: str, connection_id: str, data: bytes) -> None:
        try:
            self.client_for(endpoint).post_to_connection(ConnectionId=connection_id, Data=data)
        except Exception as exc:
            raise _map_error(connection_id, exc) from exc

    def _get(self, endpoint: str, connection_id: str) -> ConnectionInfo:
        try:
            answer = self.client_for(endpoint).get_connection(ConnectionId=connection_id)
        except Exception as exc:
            raise _map_error(connection_id, exc) from exc
        identity = answer.get("Identity") or {}
        return ConnectionInfo.from_response(
            connection_id,
            {
                "connectedAt": answer.get("ConnectedAt"),
                "lastActiveAt": answer.get("LastActiveAt", answer.get("ConnectedAt")),
                "identity": {
                    "sourceIp": identity.get("SourceIp"),
                    "userAgent": identity.get("UserAgent"),
                },
            },
        )

    def _delete(self, endpoint: str, connection_id: str) -> None:
        try:
            self.client_for(endpoint).delete_connection(ConnectionId=connection_id)
        except Exception as exc:
            raise _map_error(connection_id, exc) from exc

    async def post(self, endpoint: str, connection_id: str, data: bytes) -> None:
        """PostToConnection (one attempt) in a worker thread."""
        await self._in_thread(self._post, endpoint, connection_id, data)

    async def get(self, endpoint: str, connection_id: str) -> ConnectionInfo:
        """GetConnection (one attempt) in a worker thread."""
        result: ConnectionInfo = await self._in_thread(self._get, endpoint, connection_id)
        return result

    async def delete(self, endpoint: str, connection_id: str) -> None:
        """DeleteConnection (one attempt) in a worker thread."""
        await self._in_thread(self._delete, endpoint, connection_id)

    async def aclose(self) -> None:
        """Stops the worker threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
