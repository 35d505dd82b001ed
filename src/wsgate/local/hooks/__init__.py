"""Hooks loaded into function processes: route the API's AWS hostnames to the local emulator.

AWS's own Node.js sample builds ``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}``
and passes it to the SDK client as an explicit endpoint, which no ``AWS_ENDPOINT_URL_*``
variable overrides. Inside a function process these hooks make connections to the hostnames
listed in :data:`REDIRECT_VARIABLE` go to the emulator's port instead, leaving the hostname
itself in place, so TLS still sends it (SNI) and checks the certificate against it:

- Python: :data:`PYTHON_DIR` holds a ``sitecustomize.py``; put the directory first on the
  function's ``PYTHONPATH``. It wraps ``socket.getaddrinfo`` (and chains to any other
  ``sitecustomize`` further down the path).
- Node.js: :data:`NODE_REDIRECT` is a CommonJS file for ``NODE_OPTIONS=--require <file>``. It
  wraps ``net.Socket.prototype.connect``, which ``http``, ``https``, ``tls``, ``http2`` and
  ``fetch`` all end in.

Both are dependency-free and do nothing when the variable is unset or empty. The table is
``host=address:port`` entries joined by commas, e.g.
``WSGATE_REDIRECT=abc123.execute-api.us-east-1.amazonaws.com=127.0.0.1:3001``; every port of
a listed host goes to the given port (API Gateway only answers on 443 anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

__all__ = [
    "NODE_REDIRECT",
    "PYTHON_DIR",
    "REDIRECT_VARIABLE",
    "format_redirect_table",
    "parse_redirect_table",
]

#: The environment variable both hooks read.
REDIRECT_VARIABLE = "WSGATE_REDIRECT"
#: The directory holding the Python ``sitecustomize.py`` hook.
PYTHON_DIR = Path(__file__).resolve().parent / "python"
#: The Node.js hook, for ``--require``.
NODE_REDIRECT = Path(__file__).resolve().parent / "node" / "redirect.cjs"


def format_redirect_table(hostnames: Iterable[str], host: str, port: int) -> str:
    """The :data:`REDIRECT_VARIABLE` value sending every name in ``hostnames`` to host:port.

    Raises:
        ValueError: A hostname is empty or holds ``=``, ``,``, ``:`` or whitespace.
    """
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    entries = []
    for name in dict.fromkeys(h.lower().rstrip(".") for h in hostnames):
        if not name or any(c in name for c in "=,: \t\r\n"):
            raise ValueError(f"cannot redirect hostname {name!r}")
        entries.append(f"{name}={target}")
    return ",".join(entries)


def parse_redirect_table(text: str) -> Mapping[str, tuple[str, int]]:
    """Read a :data:`REDIRECT_VARIABLE` value as the hooks do: hostname -> (address, port).

    Raises:
        ValueError: An entry is not ``host=address:port``.
    """
    table: dict[str, tuple[str, int]] = {}
    for entry in filter(None, (e.strip() for e in text.split(","))):
        name, _, target = entry.partition("=")
        address, _, port = target.rpartition(":")
        address = address.strip("[]")
        if not (name and address and port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(f"bad {REDIRECT_VARIABLE} entry {entry!r}: want host=address:port")
        table[name.lower().rstrip(".")] = (address, int(port))
    return table
