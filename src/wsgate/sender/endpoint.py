"""Which management endpoint a send goes to, and what it looks like on the wire.

Resolution order (docs/architecture.md): the explicit argument → ``WSGATE_ENDPOINT`` → the
endpoint stored with the connection → the event being handled now
(:func:`wsgate.context.current_event`). Custom domains get a :class:`CustomDomainWarning`
once per endpoint: the Management API only answers on the ``execute-api`` host (a custom
domain's base path rarely matches the stage, which gives a 403).
"""

from __future__ import annotations

import os
import re
import threading
import warnings

from wsgate.aws.record import Record
from wsgate.exceptions import ConfigurationError

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "CustomDomainWarning",
    "Endpoint",
    "event_endpoint",
    "is_custom_domain",
    "parse_endpoint",
    "resolve_endpoint",
]

# Matched against lower-cased host names (no IGNORECASE: it triples the compile time, which
# is paid at import).
_EXECUTE_API = re.compile(
    r"^[a-z0-9]+\.execute-api(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$"
)
_checked: set[str] = set()  # endpoints already checked for a custom domain
_checked_lock = threading.Lock()


class CustomDomainWarning(UserWarning):
    """The management endpoint is a custom domain rather than the ``execute-api`` host."""


class Endpoint(Record):
    """A parsed management endpoint.

    Attributes:
        url: The endpoint as given, without a trailing slash.
        scheme: ``https`` or ``http``.
        host: The host name or address to connect to.
        port: The TCP port.
        host_header: The ``Host`` header (``host`` or ``host:port`` when the port is not the
            scheme's default), which is also what SigV4 signs.
        path_prefix: The stage path as it goes on the wire (``/prod``; ``""`` for none).
        region: The region in an ``execute-api`` host name, else ``None``.
        canonical_prefix: ``path_prefix`` as SigV4's canonical URI writes it, when that is
            a plain quoting of it (no dot segments or empty segments), else ``None``.
    """

    __slots__ = (
        "canonical_prefix",
        "host",
        "host_header",
        "path_prefix",
        "port",
        "region",
        "scheme",
        "url",
    )
    __match_args__ = (
        "url",
        "scheme",
        "host",
        "port",
        "host_header",
        "path_prefix",
        "region",
        "canonical_prefix",
    )

    url: str
    scheme: str
    host: str
    port: int
    host_header: str
    path_prefix: str
    region: str | None
    canonical_prefix: str | None

    def __init__(
        self,
        url: str,
        scheme: str,
        host: str,
        port: int,
        host_header: str,
        path_prefix: str,
        region: str | None,
        canonical_prefix: str | None = None,
    ) -> None:
        values = (url, scheme, host, port, host_header, path_prefix, region, canonical_prefix)
        for name, value in zip(self.__match_args__, values, strict=True):
            object.__setattr__(self, name, value)

    @property
    def is_tls(self) -> bool:
        """Whether requests go over TLS."""
        return self.scheme == "https"


_parsed: dict[str, Endpoint] = {}
# The usual endpoint, split without urllib.parse (which costs ~5 ms to import, ipaddress
# included): anything else goes through urlsplit. tests/sender/test_endpoint.py checks that
# both give the same parts.
_PLAIN_URL = re.compile(
    r"(https?|HTTPS?)://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?"
).fullmatch
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9_.~/-]*").fullmatch

URLParts = tuple[str, str | None, int | None, str, str, str]


def split_url(url: str) -> URLParts:
    """``(scheme, hostname, port, path, query, fragment)`` as ``urlsplit`` gives them.

    Raises:
        ValueError: As ``urlsplit`` and its ``port`` do (a bad port, brackets).
    """
    match = _PLAIN_URL(url)
    if match is not None and (match[3] is None or int(match[3]) <= 65535):
        port = int(match[3]) if match[3] is not None else None
        return match[1].lower(), match[2].lower(), port, match[4] or "", "", ""
    return split_url_general(url)


def split_url_general(url: str) -> URLParts:
    """:func:`split_url` by ``urllib.parse.urlsplit`` (any URL)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port
    return parts.scheme.lower(), parts.hostname, port, parts.path, parts.query, parts.fragment


def _quote_path(path: str) -> str:
    if _UNRESERVED_PATH(path):
        return path  # what quote(path, safe="/~") returns for these characters
    from urllib.parse import quote

    return quote(path, safe="/~")


def _plain_path(prefix: str) -> bool:
    # SigV4 removes dot segments and empty segments before quoting; a prefix without them
    # can be quoted on its own, once.
    return all(seg not in ("", ".", "..") for seg in prefix.split("/")[1:]) if prefix else True


def parse_endpoint(url: str) -> Endpoint:
    """Parses (and caches) a management endpoint URL.

    Raises:
        ConfigurationError: Not an ``http(s)://host[:port][/stage]`` URL, or it has a query.
    """
    cached = _parsed.get(url)
    if cached is not None:
        return cached
    try:
        scheme, hostname, port, path, query, fragment = split_url(url.strip())
    except ValueError as exc:
        raise ConfigurationError(f"invalid management endpoint {url!r}: {exc}") from exc
    if scheme in ("wss", "ws"):
        raise ConfigurationError(
            f"invalid management endpoint {url!r}: use https:// (the WebSocket URL "
            "wss://{api}/{stage} becomes https://{api}/{stage} for the Management API)"
        )
    if scheme not in ("http", "https") or not hostname:
        raise ConfigurationError(
            f"invalid management endpoint {url!r}: expected https://{{api-id}}.execute-api."
            "{region}.amazonaws.com/{stage} or http://127.0.0.1:PORT/{stage}"
        )
    if query or fragment:
        raise ConfigurationError(f"invalid management endpoint {url!r}: no query or fragment")
    default_port = 443 if scheme == "https" else 80
    host = hostname
    port = port or default_port
    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if port == default_port else f"{bracketed}:{port}"
    prefix = path.rstrip("/")
    match = _EXECUTE_API.match(host.lower())
    endpoint = Endpoint(
        url=url.strip().rstrip("/"),
        scheme=scheme,
        host=host,
        port=port,
        host_header=host_header,
        path_prefix=prefix,
        region=match.group(1).lower() if match else None,
        canonical_prefix=_quote_path(prefix) if _plain_path(prefix) else None,
    )
    if len(_parsed) < 1024:
        _parsed[url] = endpoint
    return endpoint


def is_custom_domain(url: str) -> bool:
    """True when ``url``'s host is neither ``*.execute-api.*.amazonaws.com`` nor loopback."""
    host = parse_endpoint(url).host
    if _EXECUTE_API.match(host.lower()) or host.lower() == "localhost":
        return False
    import ipaddress  # only on this cold path: keeps the send path's import light

    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def warn_if_custom_domain(url: str) -> None:
    """Emits :class:`CustomDomainWarning` once per endpoint when it is a custom domain."""
    if url in _checked:
        return
    with _checked_lock:
        if url in _checked:
            return
        _checked.add(url)  # checked once per endpoint, warned at most once
    if not is_custom_domain(url):
        return
    warnings.warn(
        f"management endpoint {url!r} is a custom domain: the @connections API answers on "
        "https://{api-id}.execute-api.{region}.amazonaws.com/{stage}; through a custom "
        "domain the path must be the base-path mapping, and a mismatch answers 403",
        CustomDomainWarning,
        stacklevel=4,
    )


def event_endpoint(event: Any) -> str | None:
    """The management endpoint for a wsgate event (or a raw event dict), if it has one.

    For a custom domain the ``execute-api`` form built from ``apiId`` is used instead, since
    ``https://{domainName}/{stage}`` is wrong whenever the base path differs from the stage.
    """
    raw = getattr(event, "raw", event)
    ctx = raw.get("requestContext") if isinstance(raw, dict) else None
    if not isinstance(ctx, dict):
        return None
    domain, stage = ctx.get("domainName"), ctx.get("stage")
    if not isinstance(domain, str) or not isinstance(stage, str) or not domain:
        return None
    # The emulator puts its own loopback host:port in domainName and serves plain HTTP.
    local = domain.rsplit(":", 1)[0] in ("localhost", "127.0.0.1", "[::1]")
    url = f"{'http' if local else 'https'}://{domain}/{stage}"
    if local:
        return url
    api_id = ctx.get("apiId")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if is_custom_domain(url) and isinstance(api_id, str) and api_id and region:
        return f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"
    return url


def _current_event_endpoint() -> str | None:
    try:
        from wsgate.context import current_event
    except ImportError:  # the core is optional for the sender
        return None
    event = current_event()
    return None if event is None else event_endpoint(event)


def resolve_endpoint(explicit: str | None, stored: str | None = None) -> str:
    """Picks the endpoint for one call, in the documented order.

    Args:
        explicit: The endpoint given to the Sender (or the call).
        stored: The endpoint stored with the connection record, if any.

    Raises:
        ConfigurationError: Nothing resolvable; the message says how to configure one.
    """
    url = explicit or os.environ.get("WSGATE_ENDPOINT") or stored or _current_event_endpoint()
    if not url:
        raise ConfigurationError(
            "no management endpoint: pass Sender(endpoint='https://{api-id}.execute-api."
            "{region}.amazonaws.com/{stage}'), set WSGATE_ENDPOINT, store the endpoint with "
            "the connection, or send from inside a WebSocket handler (the event names it)"
        )
    parse_endpoint(url)
    warn_if_custom_domain(url)
    return url
