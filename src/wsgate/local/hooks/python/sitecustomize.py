"""wsgate: connect to the hostnames in ``WSGATE_REDIRECT`` at the local emulator instead.

Put this file's directory first on a function's ``PYTHONPATH``: Python imports
``sitecustomize`` at startup. With ``WSGATE_REDIRECT=host=address:port,...`` set,
``socket.getaddrinfo`` answers ``address:port`` for each listed host (any port), so boto3,
urllib3, ``http.client`` and asyncio reach the emulator while TLS still verifies the
certificate against the original hostname. Without the variable it changes nothing. Any other
``sitecustomize`` further down ``sys.path`` still runs. Standard library only.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _table(text: str) -> dict[str, tuple[str, int]]:
    table: dict[str, tuple[str, int]] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        name, _, target = entry.partition("=")
        address, _, port = target.rpartition(":")
        address = address.strip("[]")
        if name and address and port.isdigit() and 0 < int(port) < 65536:
            table[name.lower().rstrip(".")] = (address, int(port))
        else:
            print(f"wsgate: ignoring bad WSGATE_REDIRECT entry {entry!r}", file=sys.stderr)
    return table


def _install(table: dict[str, tuple[str, int]]) -> None:
    import socket

    original = socket.getaddrinfo

    def getaddrinfo(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> Any:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
        if isinstance(name, str):
            target = table.get(name.lower().rstrip("."))
            if target is not None:
                return original(target[0], target[1], family, type, proto, flags)
        return original(host, port, family, type, proto, flags)

    getaddrinfo.__wrapped__ = original  # type: ignore[attr-defined]
    socket.getaddrinfo = getaddrinfo


def _chain() -> None:
    """Run the ``sitecustomize`` this one shadows, if there is one further down the path."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None or spec.origin == os.path.abspath(__file__):
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_redirects = _table(os.environ.get("WSGATE_REDIRECT", ""))
if _redirects:
    _install(_redirects)
_chain()
