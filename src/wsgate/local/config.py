"""Settings of the local emulator, and its fault-injection switches."""

from __future__ import annotations

import random
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

__all__ = ["EmulatorConfig", "Faults"]

#: API Gateway quotas (docs/aws-behaviour.md §5).
MAX_FRAME_BYTES = 32 * 1024
MAX_MESSAGE_BYTES = 128 * 1024
MAX_POST_BYTES = 131_072


class Faults:
    """Fault-injection switches, all off by default; safe to change from any thread at runtime.

    Attributes:
        drop_disconnect: Share (0..1) of ``$disconnect`` invocations silently skipped.
        throttle: Share of management calls answered ``429 LimitExceededException``.
        server_error: Share of management calls answered ``500``.
        latency_ms: Extra latency added to every management call.
        random_close: Share of client messages after which the emulator drops that connection
            abruptly (close code 1006 in ``$disconnect``), as a flaky network would.
    """

    FIELDS = ("drop_disconnect", "throttle", "server_error", "latency_ms", "random_close")

    def __init__(self, seed: int | None = None, **values: float) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.drop_disconnect = 0.0
        self.throttle = 0.0
        self.server_error = 0.0
        self.latency_ms = 0.0
        self.random_close = 0.0
        self.update(values)

    def update(self, values: dict[str, Any]) -> None:
        """Set some switches from a mapping (e.g. the dashboard's JSON).

        Raises:
            ValueError: An unknown switch, a non-number, a share outside 0..1 or a negative
                latency; nothing is changed then.
        """
        clean: dict[str, float] = {}
        for name, value in values.items():
            if name not in self.FIELDS:
                raise ValueError(f"unknown fault switch {name!r}")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"fault switch {name!r} needs a number, got {value!r}")
            number = float(value)
            if name == "latency_ms":
                if number < 0:
                    raise ValueError("latency_ms must be >= 0")
            elif not 0.0 <= number <= 1.0:
                raise ValueError(f"fault switch {name!r} is a share between 0 and 1")
            clean[name] = number
        with self._lock:
            for name, number in clean.items():
                setattr(self, name, number)

    def as_dict(self) -> dict[str, float]:
        """Return the current switches."""
        with self._lock:
            return {name: float(getattr(self, name)) for name in self.FIELDS}

    def roll(self, share: float) -> bool:
        """Return True with probability ``share``."""
        if share <= 0.0:
            return False
        with self._lock:
            return self._random.random() < share


@dataclass
class EmulatorConfig:
    """How ``wsgate serve`` behaves; the defaults are API Gateway's.

    Attributes:
        host: Address to listen on (loopback by default).
        port: TCP port; ``0`` picks a free one (read it back from ``Emulator.port``).
        stage: Stage name: the WebSocket path ``/{stage}`` and the management API prefix.
        api_id: ``requestContext.apiId``; random when empty.
        integration_timeout: Seconds a handler may run before the client gets the
            ``Endpoint request timed out`` frame (API Gateway: 29 s).
        idle_timeout: Seconds without data frames in either direction before the emulator
            closes the connection (API Gateway: 10 min).
        max_duration: Maximum connection lifetime in seconds (API Gateway: 2 h).
        max_workers: Size of the handler thread pool.
        compression: Accept ``permessage-deflate`` when a client offers it.
        dashboard: Serve the dashboard and its JSON API under ``/_wsgate/``.
        static_dir: Folder whose web files (html, js, css, images) are served at ``/``; by
            default the app's folder when it holds an ``index.html``.
        faults: The fault-injection switches.
        verify_signatures: Require SigV4-signed Management API requests, signed with the
            emulator's ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` (403 otherwise, as AWS;
            see :mod:`wsgate.local.sigv4_verify`). The dashboard's actions follow the same rule.
        tls: Server context for TLS on the same port (``https://``, ``wss://``), e.g. from
            :meth:`wsgate.local.tls.LocalCA.server_context`; ``None`` (``--no-tls``) closes a
            TLS handshake at once with a log line.
        first_byte_timeout: Seconds a new connection may stay silent before it is closed.
        tls_handshake_timeout: Seconds a TLS handshake may take.
        api_hostnames: The API's AWS hostnames (``{apiId}.execute-api.{region}.amazonaws.com``)
            accepted as ``Host`` besides loopback names: functions that build the endpoint
            from them are routed to the emulator (see :mod:`wsgate.local.hooks`).
        request_timeout: Seconds an HTTP request (head and body) may take to arrive from its
            first byte; then ``408`` and the connection is closed (slowloris).
        keep_alive_timeout: Seconds an HTTP connection may wait for its next request.
        emf_metrics: Leave the app's metrics as EMF lines on stdout (as deployed); by
            default the emulator shows them on the dashboard instead.
        dashboard_actions: Whether the dashboard may send, broadcast, disconnect and change
            faults. ``None`` (the default): on loopback only; off loopback it is read-only.
    """

    host: str = "127.0.0.1"
    port: int = 3001
    stage: str = "local"
    api_id: str = ""
    integration_timeout: float = 29.0
    idle_timeout: float = 600.0
    max_duration: float = 7200.0
    max_workers: int = 32
    compression: bool = True
    dashboard: bool = True
    static_dir: str | None = None
    faults: Faults = field(default_factory=Faults)
    in_process_sends: bool = True
    switch_interval: float | None = 0.0005
    verify_signatures: bool = False
    tls: ssl.SSLContext | None = None
    first_byte_timeout: float = 10.0
    tls_handshake_timeout: float = 10.0
    api_hostnames: frozenset[str] = frozenset()
    request_timeout: float = 10.0
    keep_alive_timeout: float = 60.0
    dashboard_actions: bool | None = None
    emf_metrics: bool = False
