"""The AWS services a template's functions call, local: DynamoDB and SQS, and how to reach them.

:class:`LocalServices` starts one ``moto_server`` (moto's server answers DynamoDB and SQS on
one port) on a free loopback port, or uses an endpoint already running (``--aws-endpoint``:
DynamoDB Local, LocalStack, a moto_server) and starts nothing. It creates the template's tables
and queues there. :func:`function_network` gathers what a function process needs to reach
them and the emulator: the ``AWS_ENDPOINT_URL_*`` variables the AWS SDKs read, the local CA to
trust, and the hooks that route the API's AWS hostname to the emulator.
"""

from __future__ import annotations

import atexit
import logging
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from wsgate.exceptions import ConfigurationError
from wsgate.local.hooks import NODE_REDIRECT, PYTHON_DIR, REDIRECT_VARIABLE, format_redirect_table

if TYPE_CHECKING:
    from wsgate.local.tls import LocalCA
    from wsgate.testing.servers import LocalServer

__all__ = ["FunctionNetwork", "LocalServices", "function_network"]

logger = logging.getLogger("wsgate.local")

#: Dummy credentials for the local servers (moto accepts any).
LOCAL_CREDENTIALS = {"aws_access_key_id": "wsgate-local", "aws_secret_access_key": "wsgate-local"}
TABLE_ACTIVE_TIMEOUT = 30.0


class TableLike(Protocol):
    """What :meth:`LocalServices.create_tables` reads of a ``TableSpec``."""

    @property
    def name(self) -> str: ...
    @property
    def create_table_kwargs(self) -> Mapping[str, Any]: ...


class QueueLike(Protocol):
    """What :meth:`LocalServices.create_queues` reads of a ``QueueSpec``."""

    @property
    def logical_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def attributes(self) -> Mapping[str, str]: ...


class LocalServices:
    """DynamoDB (and SQS) for the functions: one moto server, or a given endpoint.

    Use as a context manager or call :meth:`start` and :meth:`stop`.

    Args:
        endpoint: URL of a server already running; ``None`` starts a moto server.
        region: Region of the tables and queues (the functions' ``AWS_REGION``).
        start_timeout: Seconds the moto server may take to answer.
    """

    def __init__(
        self, *, endpoint: str | None = None, region: str = "us-east-1", start_timeout: float = 60.0
    ) -> None:
        if endpoint is not None:
            parts = urlsplit(endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigurationError(f"--aws-endpoint {endpoint!r}: want http(s)://host:port")
        self._given = endpoint.rstrip("/") if endpoint else None
        self.region = region
        self._start_timeout = start_timeout
        self._server: LocalServer | None = None

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` of the server in use.

        Raises:
            ConfigurationError: Not started (and no endpoint given).
        """
        if self._given is not None:
            return self._given
        if self._server is None:
            raise ConfigurationError("LocalServices is not started")
        return self._server.endpoint_url

    @property
    def owns_server(self) -> bool:
        """Whether a moto server was started here (``False`` with ``endpoint=``)."""
        return self._server is not None

    def start(self) -> None:
        """Start the moto server, or check that the given endpoint accepts connections.

        Raises:
            ConfigurationError: moto_server is missing or did not start; the given endpoint
                refuses connections.
        """
        if self._given is not None:
            parts = urlsplit(self._given)
            port = parts.port or (443 if parts.scheme == "https" else 80)
            try:
                socket.create_connection((parts.hostname, port), timeout=5).close()
            except OSError as exc:
                raise ConfigurationError(f"--aws-endpoint {self._given}: {exc}") from exc
            logger.info("AWS services at %s (--aws-endpoint)", self._given)
            return
        if self._server is not None:
            return
        from wsgate.testing.servers import ServerStartError, start_moto_server

        try:
            self._server = start_moto_server(timeout=self._start_timeout)
        except ServerStartError as exc:
            raise ConfigurationError(
                f"local AWS services: {exc} (pip install 'moto[server]')"
            ) from exc
        atexit.register(self.stop)  # never leave the server behind, even if stop is forgotten
        logger.info("local DynamoDB and SQS (moto_server) at %s", self._server.endpoint_url)

    def stop(self) -> None:
        """Stop the moto server started here (nothing with ``endpoint=``). Safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            atexit.unregister(self.stop)
            server.stop()

    def __enter__(self) -> LocalServices:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` aimed at :attr:`endpoint` (dummy credentials)."""
        import boto3

        session = boto3.session.Session(
            aws_access_key_id=LOCAL_CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=LOCAL_CREDENTIALS["aws_secret_access_key"],
            region_name=self.region,
        )
        make: Any = session.client
        return make(service, endpoint_url=self.endpoint)

    def create_tables(self, tables: Iterable[TableLike]) -> list[str]:
        """Create each table with its keys and indexes; a table that exists is kept as it is.

        ``TimeToLiveSpecification`` (a CloudFormation property, its own API call) is applied
        after the table is created.

        Returns:
            The names of the tables, created or already there.

        Raises:
            ConfigurationError: A table's definition is refused (the message names it).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        dynamodb = self.client("dynamodb")
        names: list[str] = []
        try:
            for table in tables:
                kwargs = dict(table.create_table_kwargs)
                kwargs.setdefault("TableName", table.name)
                name = str(kwargs["TableName"])
                try:
                    self._create_table(dynamodb, name, kwargs)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ResourceInUseException":
                        raise ConfigurationError(f"table {name}: {exc}") from exc
                    logger.info("table %s exists; kept as it is", name)
                except BotoCoreError as exc:
                    raise ConfigurationError(f"table {name} at {self.endpoint}: {exc}") from exc
                names.append(name)
        finally:
            dynamodb.close()
        return names

    @staticmethod
    def _create_table(dynamodb: Any, name: str, kwargs: dict[str, Any]) -> None:
        ttl = kwargs.pop("TimeToLiveSpecification", None)
        if "BillingMode" not in kwargs and "ProvisionedThroughput" not in kwargs:
            kwargs["BillingMode"] = "PAY_PER_REQUEST"  # CloudFormation would refuse; be kind
        dynamodb.create_table(**kwargs)
        _wait_active(dynamodb, name)
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=dict(ttl))
        logger.info("created table %s", name)

    def create_queues(self, queues: Iterable[QueueLike]) -> dict[str, str]:
        """Create each queue with its attributes; a queue that exists is kept as it is.

        Returns:
            Logical id -> queue URL.

        Raises:
            ConfigurationError: A queue's definition is refused (the message names it).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        sqs = self.client("sqs")
        urls: dict[str, str] = {}
        try:
            for queue in queues:
                try:
                    urls[queue.logical_id] = _create_queue(sqs, queue)
                except (ClientError, BotoCoreError) as exc:
                    raise ConfigurationError(
                        f"queue {queue.name} at {self.endpoint}: {exc}"
                    ) from exc
        finally:
            sqs.close()
        return urls


def _create_queue(sqs: Any, queue: QueueLike) -> str:
    from botocore.exceptions import ClientError

    attributes = {k: str(v) for k, v in queue.attributes.items()}
    try:
        url = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
        logger.info("queue %s ready", queue.name)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if "QueueNameExists" not in code and "QueueAlreadyExists" not in code:
            raise
        url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        logger.info("queue %s exists with other attributes; kept as it is", queue.name)
    return str(url)


def _wait_active(dynamodb: Any, name: str) -> None:
    deadline = time.monotonic() + TABLE_ACTIVE_TIMEOUT
    while time.monotonic() < deadline:
        if dynamodb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.1)
    raise ConfigurationError(f"table {name} not ACTIVE after {TABLE_ACTIVE_TIMEOUT:.0f} s")


@dataclass(frozen=True)
class FunctionNetwork:
    """What a function process needs to reach the local services and the emulator.

    Attributes:
        env: Variables for the function's environment: ``AWS_ENDPOINT_URL_DYNAMODB`` and
            ``AWS_ENDPOINT_URL_SQS`` (read by boto3 and the JavaScript SDK v3),
            ``AWS_CA_BUNDLE`` (botocore), ``REQUESTS_CA_BUNDLE`` (requests) and
            ``SSL_CERT_FILE`` (OpenSSL's default, so Python's ``ssl``/``urllib``), each the local
            CA plus the public ones (:meth:`LocalCA.trust_bundle`), ``NODE_EXTRA_CA_CERTS``
            (Node.js: the local CA, added to its own), and ``WSGATE_REDIRECT``, the hooks'
            hostname table.
        python_path: Directories to put first on ``PYTHONPATH`` (the ``sitecustomize`` hook).
        node_options: Words to add to ``NODE_OPTIONS`` (``--require`` the redirect hook),
            joined with spaces; a path holding spaces comes double-quoted, as Node.js reads
            ``NODE_OPTIONS``.
    """

    env: Mapping[str, str]
    python_path: tuple[str, ...]
    node_options: tuple[str, ...]


def _node_option_word(path: str) -> str:
    # NODE_OPTIONS is split at spaces; Node.js reads a double-quoted word as one.
    return f'"{path}"' if any(c.isspace() for c in path) else path


def function_network(
    *,
    emulator_port: int,
    api_hostnames: Sequence[str],
    ca: LocalCA | None,
    services: LocalServices | None,
    emulator_host: str = "127.0.0.1",
) -> FunctionNetwork:
    """Build the environment that points a function process at the local stack.

    Args:
        emulator_port: The emulator's port (TLS and plain on the same port).
        api_hostnames: Hostnames routed to the emulator inside the function, usually
            ``[api_hostname(api_id, region)]`` from :mod:`wsgate.local.tls`.
        ca: The local CA the emulator's certificate comes from; ``None`` when TLS is off.
        services: The local AWS services; ``None`` leaves the SDKs' endpoints alone.
        emulator_host: Address functions connect to (a wildcard listen address means
            loopback here).
    """
    env: dict[str, str] = {}
    if services is not None:
        env["AWS_ENDPOINT_URL_DYNAMODB"] = services.endpoint
        env["AWS_ENDPOINT_URL_SQS"] = services.endpoint
    if ca is not None:
        trust = str(ca.trust_bundle())  # these three replace the default store: keep it too
        env["AWS_CA_BUNDLE"] = trust  # botocore
        env["REQUESTS_CA_BUNDLE"] = trust  # requests
        env["SSL_CERT_FILE"] = trust  # OpenSSL's default: Python's ssl, urllib, aiohttp
        env["NODE_EXTRA_CA_CERTS"] = str(ca.ca_bundle)  # added to Node's own
    host = "127.0.0.1" if emulator_host in ("", "0.0.0.0") else emulator_host
    host = "::1" if host == "::" else host
    if api_hostnames:
        env[REDIRECT_VARIABLE] = format_redirect_table(api_hostnames, host, emulator_port)
    return FunctionNetwork(
        env=env,
        python_path=(str(PYTHON_DIR),),
        node_options=("--require", _node_option_word(str(NODE_REDIRECT))),
    )
