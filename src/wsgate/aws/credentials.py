"""AWS credentials for signing: Lambda's environment first, botocore's chain as a fallback.

On Lambda the execution role's credentials are in ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``, so the send path reads three
environment variables and imports nothing. Only when they are absent (a laptop with a
profile, an EC2 role, SSO) does :class:`DefaultCredentials` import botocore and ask its
credential chain, which also refreshes expiring credentials.
"""

from __future__ import annotations

import os
import threading
import time

from wsgate.aws.record import Record
from wsgate.exceptions import ConfigurationError

TYPE_CHECKING = False  # typing is not imported on the send path
if TYPE_CHECKING:
    from typing import Any

    from wsgate.aws.protocols import CredentialsProvider

__all__ = ["Credentials", "CredentialsProvider", "DefaultCredentials", "StaticCredentials"]

_ENV_RECHECK = 1.0


class Credentials(Record):
    """One set of AWS credentials, as used for one signature."""

    __slots__ = ("access_key", "secret_key", "token")
    __match_args__ = ("access_key", "secret_key", "token")

    access_key: str
    secret_key: str
    token: str | None

    def __init__(self, access_key: str, secret_key: str, token: str | None = None) -> None:
        object.__setattr__(self, "access_key", access_key)
        object.__setattr__(self, "secret_key", secret_key)
        object.__setattr__(self, "token", token)

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(access_key={self.access_key!r}, secret_key='***')"


class StaticCredentials:
    """Fixed credentials (tests, the emulator, explicit keys)."""

    def __init__(self, access_key: str, secret_key: str, token: str | None = None) -> None:
        self._credentials = Credentials(access_key, secret_key, token)

    def get(self) -> Credentials:
        """Returns the fixed credentials."""
        return self._credentials


class DefaultCredentials:
    """Environment variables, else botocore's credential chain (imported lazily).

    Args:
        refresh_interval: How long (seconds) credentials from botocore are reused before the
            chain is asked again; botocore itself refreshes expiring role credentials.
    """

    def __init__(self, refresh_interval: float = 60.0) -> None:
        self._refresh_interval = refresh_interval
        self._lock = threading.Lock()
        self._cached: Credentials | None = None
        self._from_env = False
        self._cached_at = 0.0
        self._env_checked_at = -_ENV_RECHECK
        self._botocore: Any = None

    def get(self) -> Credentials:
        """Returns current credentials.

        The environment is read at most once per second (the signature path calls this for
        every request); credentials from botocore are reused for ``refresh_interval``.

        Raises:
            ConfigurationError: No credentials anywhere (no env vars, no profile, no role).
        """
        now = time.monotonic()
        cached = self._cached
        if (
            cached is not None
            and now - self._env_checked_at < _ENV_RECHECK
            and (self._from_env or now - self._cached_at < self._refresh_interval)
        ):
            return cached
        self._env_checked_at = now
        env = os.environ
        access = env.get("AWS_ACCESS_KEY_ID")
        secret = env.get("AWS_SECRET_ACCESS_KEY")
        if access and secret:
            token = env.get("AWS_SESSION_TOKEN") or None
            if (
                cached is None
                or cached.access_key != access
                or cached.secret_key != secret
                or cached.token != token
            ):
                cached = self._cached = Credentials(access, secret, token)
            self._from_env = True
            return cached
        if self._from_env:  # the variables are gone: ask the chain
            self._from_env = False
            cached = self._cached = None
        if cached is not None and now - self._cached_at < self._refresh_interval:
            return cached
        with self._lock:
            return self._from_botocore(now)

    def _from_botocore(self, now: float) -> Credentials:
        if self._botocore is None:
            try:
                import botocore.session
            except ImportError as exc:  # pragma: no cover - botocore ships with Lambda
                raise ConfigurationError(
                    "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or "
                    "install botocore for the default credential chain"
                ) from exc
            self._botocore = botocore.session.get_session().get_credentials()
        if self._botocore is None:
            raise ConfigurationError(
                "no AWS credentials found (environment, shared config, or instance role); "
                "pass credentials= to the Sender or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
            )
        frozen = self._botocore.get_frozen_credentials()
        self._cached = Credentials(frozen.access_key, frozen.secret_key, frozen.token or None)
        self._cached_at = now
        return self._cached


def __getattr__(name: str) -> object:
    # The protocol lives in wsgate.aws.protocols (it needs typing; the request path does not).
    if name == "CredentialsProvider":
        from wsgate.aws.protocols import CredentialsProvider

        return CredentialsProvider
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
