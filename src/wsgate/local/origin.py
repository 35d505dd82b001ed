"""Keep other web sites out of the emulator's HTTP side (Management API and dashboard).

A local dev server is reachable from every page the developer's browser opens. Two classic
attacks follow, and the emulator refuses both with 403 ``ForbiddenException``:

- **Cross-site requests.** A page on ``https://evil.example`` can ``POST`` to
  ``http://127.0.0.1:3001/_wsgate/api/broadcast`` (a "simple" request needs no CORS preflight)
  and make every local client receive its message, or flip the fault switches. Browsers always
  send ``Origin`` with such requests; a state-changing request whose ``Origin`` is not the
  emulator's own is refused. Clients that are not browsers (boto3, curl) send no ``Origin``.
- **DNS rebinding.** ``evil.example`` re-resolves to 127.0.0.1, and its page then reads the
  dashboard API as if same-origin (connection ids, user ids). A request whose ``Host`` is a
  domain name is refused, with a log line, unless it is a name a local setup really uses:
  ``localhost`` (and ``*.localhost``), ``host.docker.internal`` (a container calling the
  host), names ending in ``.local`` (mDNS) and single-label names such as a hosts-file alias
  (no attacker can own one). While the emulator listens on loopback, an address other than
  loopback is refused too; listening beyond loopback, any address literal and the listen name
  itself pass (an address cannot be rebound), and the check stays on.

The WebSocket endpoint is not filtered: API Gateway accepts any ``Origin`` too, and apps that
care check ``event.headers["Origin"]`` in ``$connect``.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Collection
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from wsgate.local.http import aws_error

if TYPE_CHECKING:
    from wsgate.local.http import HttpRequest

__all__ = ["cross_site_refusal", "is_loopback_host"]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Names local setups use that no attacker can register on the public DNS.
_LOCAL_NAMES = frozenset({"host.docker.internal"})
_LOCAL_SUFFIXES = (".local",)

logger = logging.getLogger("wsgate.local")
_logged_hosts: set[str] = set()  # each refused Host is logged once (bounded below)


def is_loopback_host(host: str) -> bool:
    """Whether a host name or address (no port) is loopback: ``localhost``, 127/8, ``::1``."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _rebound(hostname: str, bound_host: str = "127.0.0.1") -> bool:
    # A rebinding attack needs a domain the attacker controls, so a dotted name (or an address)
    # that is not loopback. Single-label names ("localhost", a hosts-file alias) cannot be one.
    hostname = hostname.lower().rstrip(".")
    if is_loopback_host(hostname):
        return False
    if hostname in _LOCAL_NAMES or hostname.endswith(_LOCAL_SUFFIXES):
        return False
    if not is_loopback_host(bound_host) and (
        _is_address(hostname) or hostname == bound_host.lower()
    ):
        return False
    return "." in hostname or ":" in hostname


def _log_refused(host: str) -> None:
    if host in _logged_hosts or len(_logged_hosts) >= 100:
        return
    _logged_hosts.add(host)
    logger.warning(
        "refused a request for Host %r (DNS-rebinding protection): use localhost, an address "
        "of this machine, host.docker.internal or a *.local name",
        host,
    )


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
    if hostname.lower().rstrip(".") not in allowed and _rebound(hostname, bound_host):
        _log_refused(host)
        return aws_error(403, "ForbiddenException", keep_alive=False)
    origin = request.header("origin")
    if origin is not None and request.method.upper() not in _SAFE_METHODS:
        parts = urlsplit(origin)
        if origin == "null" or parts.netloc.lower() != host.lower():
            return aws_error(403, "ForbiddenException", keep_alive=False)
    return None
