"""Keep other web sites out of the emulator's HTTP side (Management API and dashboard).

A local dev server is reachable from every page the developer's browser opens. Two classic
attacks follow, and the emulator refuses both with 403 ``ForbiddenException``:

- **Cross-site requests.** A page on ``https://evil.example`` can ``POST`` to
  ``http://127.0.0.1:3001/_wsgate/api/broadcast`` (a "simple" request needs no CORS preflight)
  and make every local client receive its message, or flip the fault switches. Browsers always
  send ``Origin`` with such requests; a state-changing request whose ``Origin`` is not the
  emulator's own is refused. Clients that are not browsers (boto3, curl) send no ``Origin``.
- **DNS rebinding.** ``evil.example`` re-resolves to 127.0.0.1, and its page then reads the
  dashboard API as if same-origin (connection ids, user ids). While the emulator listens on
  loopback, a request whose ``Host`` is a domain name or an address other than loopback is
  refused (single-label names such as a hosts-file alias pass: no attacker can own one).

The WebSocket endpoint is not filtered: API Gateway accepts any ``Origin`` too, and apps that
care check ``event.headers["Origin"]`` in ``$connect``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from wsgate.local.http import aws_error

if TYPE_CHECKING:
    from wsgate.local.http import HttpRequest

__all__ = ["cross_site_refusal", "is_loopback_host"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_loopback_host(host: str) -> bool:
    """Whether a host name or address (no port) is loopback: ``localhost``, 127/8, ``::1``."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _rebound(hostname: str) -> bool:
    # A rebinding attack needs a domain the attacker controls, so a dotted name (or an address)
    # that is not loopback. Single-label names ("localhost", a hosts-file alias) cannot be one.
    if is_loopback_host(hostname):
        return False
    return "." in hostname or ":" in hostname


def _hostname(authority: str) -> str:
    return urlsplit(f"//{authority}").hostname or ""


def cross_site_refusal(
    request: HttpRequest, bound_host: str, *, allowed: Collection[str] = ()
) -> bytes | None:
    """A 403 for a cross-site or rebound request; ``None`` when it may proceed.

    Args:
        request: The HTTP request (not a WebSocket upgrade).
        bound_host: The address the emulator listens on (``EmulatorConfig.host``).
        allowed: Lower-case hostnames accepted as ``Host`` although dotted: the API's own
            ``{apiId}.execute-api.{region}.amazonaws.com`` names, which function processes
            are routed to the emulator (``EmulatorConfig.api_hostnames``).
    """
    host = request.header("host") or ""
    hostname = _hostname(host)
    if is_loopback_host(bound_host) and hostname not in allowed and _rebound(hostname):
        return aws_error(403, "ForbiddenException", keep_alive=False)
    origin = request.header("origin")
    if origin is not None and request.method.upper() not in _SAFE_METHODS:
        parts = urlsplit(origin)
        if origin == "null" or parts.netloc.lower() != host.lower():
            return aws_error(403, "ForbiddenException", keep_alive=False)
    return None
