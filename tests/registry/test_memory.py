"""The contract suite on the in-memory registry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from wsgate.registry.memory import MemoryRegistry
from wsgate.testing.contract import RegistryContract


class TestMemoryRegistry(RegistryContract):
    @pytest.fixture
    def registry(self) -> Iterator[MemoryRegistry]:
        registry = MemoryRegistry()
        yield registry
        registry.close()
