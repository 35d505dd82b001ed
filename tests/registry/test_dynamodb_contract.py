"""The contract suite on the DynamoDB registry, on dynalite and on moto_server, with boto3's
client and with wsgate's stdlib client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from wsgate.registry.dynamodb import DynamoDBRegistry
from wsgate.testing.contract import RegistryContract

from .conftest import table_name

pytestmark = pytest.mark.dynamodb


def _registry(client: Any, **options: Any) -> Iterator[DynamoDBRegistry]:
    # A small scan page so the 1,050-connection test reads several pages.
    registry = DynamoDBRegistry(table_name(), client=client, scan_page_size=300, **options)
    registry.create_table()
    yield registry
    registry.delete_table()
    registry.close()


class TestDynamoDBOnDynalite(RegistryContract):
    @pytest.fixture
    def registry(self, dynalite_client: Any) -> Iterator[DynamoDBRegistry]:
        yield from _registry(dynalite_client)


class TestDynamoDBOnMoto(RegistryContract):
    @pytest.fixture
    def registry(self, moto_client: Any) -> Iterator[DynamoDBRegistry]:
        yield from _registry(moto_client)


class TestDynamoDBParallelScanOnDynalite(RegistryContract):
    """The same contract with ``all``/``count``/``cleanup`` scanning 3 segments in parallel."""

    @pytest.fixture
    def registry(self, dynalite_client: Any) -> Iterator[DynamoDBRegistry]:
        yield from _registry(dynalite_client, scan_segments=3)


class TestDynamoDBStdlibOnDynalite(RegistryContract):
    @pytest.fixture
    def registry(self, dynalite_stdlib: Any) -> Iterator[DynamoDBRegistry]:
        yield from _registry(dynalite_stdlib)


class TestDynamoDBStdlibOnMoto(RegistryContract):
    @pytest.fixture
    def registry(self, moto_stdlib: Any) -> Iterator[DynamoDBRegistry]:
        yield from _registry(moto_stdlib)


class TestDynamoDBStdlibParallelScanOnDynalite(RegistryContract):
    @pytest.fixture
    def registry(self, dynalite_stdlib: Any) -> Iterator[DynamoDBRegistry]:
        yield from _registry(dynalite_stdlib, scan_segments=3)
