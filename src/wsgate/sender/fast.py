"""Former name of :mod:`wsgate.sender.http_transport`; kept so old imports keep working."""

from __future__ import annotations

from wsgate.sender.http_transport import HttpTransport

__all__ = ["HttpTransport"]
