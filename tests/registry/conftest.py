"""Fixtures for the DynamoDB registry tests: a client per server, a fresh table per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from wsgate.aws.dynamodb import DynamoDBClient
from wsgate.testing.servers import LocalServer


def make_client(server: LocalServer, **config: Any) -> Any:
    """A DynamoDB client for a local server, with a small retry budget."""
    options: dict[str, Any] = {"retries": {"mode": "standard", "max_attempts": 3}}
    options.update(config)
    return boto3.client("dynamodb", config=Config(**options), **server.boto_kwargs)


def make_stdlib_client(server: LocalServer, **options: Any) -> DynamoDBClient:
    """wsgate's stdlib DynamoDB client for a local server, with a small retry budget."""
    options.setdefault("max_attempts", 3)
    client: DynamoDBClient = server.stdlib_client(**options)
    return client


@pytest.fixture(scope="session")
def dynalite_stdlib(dynalite_server: LocalServer) -> Iterator[DynamoDBClient]:
    client = make_stdlib_client(dynalite_server)
    yield client
    client.close()


@pytest.fixture(scope="session")
def moto_stdlib(moto_server: LocalServer) -> Iterator[DynamoDBClient]:
    client = make_stdlib_client(moto_server)
    yield client
    client.close()


@pytest.fixture(scope="session")
def dynalite_client(dynalite_server: LocalServer) -> Any:
    return make_client(dynalite_server, max_pool_connections=20)


@pytest.fixture(scope="session")
def moto_client(moto_server: LocalServer) -> Any:
    return make_client(moto_server, max_pool_connections=20)


def table_name() -> str:
    return f"wsgate-test-{uuid.uuid4().hex[:12]}"
