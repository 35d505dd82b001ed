"""The credentials protocol users may implement (kept apart: it needs :mod:`typing`).

:mod:`typing` costs ~5 ms to import on a small Lambda and nothing on the request path needs
it at run time; :mod:`wsgate.aws.credentials` loads this module on first access to the name.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from wsgate.aws.credentials import Credentials

__all__ = ["CredentialsProvider"]


@runtime_checkable
class CredentialsProvider(Protocol):
    """Anything that hands out current credentials (called for every signature: be cheap)."""

    def get(self) -> Credentials:
        """Returns credentials valid now, or raises :class:`ConfigurationError`."""
        ...
