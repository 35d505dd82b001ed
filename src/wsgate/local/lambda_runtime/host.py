"""All functions of a template, each with its own :class:`FunctionPool`."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from wsgate.exceptions import ConfigurationError
from wsgate.local.lambda_runtime.launch import FunctionLike
from wsgate.local.lambda_runtime.pool import FunctionPool

__all__ = ["FunctionHost"]


class FunctionHost:
    """All functions of a template: one :class:`FunctionPool` per function logical id.

    Pools are made on first use; keyword arguments go to every :class:`FunctionPool`.
    """

    def __init__(self, functions: Mapping[str, FunctionLike], **pool_kwargs: Any) -> None:
        self.functions = dict(functions)
        self.pool_kwargs = pool_kwargs
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()
        self._closed = False

    def pool(self, logical_id: str) -> FunctionPool:
        """The pool of one function.

        Raises:
            KeyError: No function has this logical id.
            ConfigurationError: Its runtime is not supported, or the host is closed.
        """
        with self._lock:
            if self._closed:
                raise ConfigurationError("the function host is closed")
            pool = self._pools.get(logical_id)
            if pool is None:
                pool = FunctionPool(self.functions[logical_id], **self.pool_kwargs)
                self._pools[logical_id] = pool
            return pool

    def prepare(self) -> None:
        """:meth:`FunctionPool.prepare` every function (startup checks, SDK install).

        Raises:
            ConfigurationError: A runtime is not supported or a code root is missing.
        """
        for logical_id in self.functions:
            self.pool(logical_id).prepare()

    def restart(self, logical_ids: Sequence[str] | None = None) -> None:
        """Restart some (default: all) functions' pools (``--reload``)."""
        with self._lock:
            pools = [p for k, p in self._pools.items() if logical_ids is None or k in logical_ids]
        for pool in pools:
            pool.restart()

    def close(self) -> None:
        """Close every pool (kills every instance)."""
        with self._lock:
            self._closed = True
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
