"""Shared fixtures: real services (Redis, coturn, PostgreSQL), the loopback ICE patch, and the
app on a real database with a clock the test moves by hand.

The database is SQLite unless the test's module (or the test) is marked `both_backends`: then
it runs twice, on SQLite and on a database of its own in the session's throw-away PostgreSQL.

Helpers live in tests/support/; this file only wires them to pytest, so every started process is
stopped by its PID at teardown, even when the test fails.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from scheduling.clock import ManualClock
from scheduling.db import make_engine, migrate
from tests.support.apiclient import Api
from tests.support.app import TEST_NOW, TEST_SECRET, redis_config
from tests.support.peers import loopback_host_addresses
from tests.support.services import (
    MIGRATED_TEMPLATE,
    PostgresDatabases,
    RunningService,
    psql,
    start_coturn,
    start_postgres,
    start_redis,
)
from web.app import create_app
from web.config import Config

BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_backends` that use the database run once per backend; those marked
    `postgresql_only` (what only PostgreSQL has, such as its round trips) on PostgreSQL."""
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("postgresql_only") is not None:
        metafunc.parametrize("backend", ("postgresql",), indirect=True)
    elif metafunc.definition.get_closest_marker("both_backends") is not None:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" (the default) or "postgresql" (tests marked `both_backends` get both)."""
    return str(getattr(request, "param", "sqlite"))


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    """The session's PostgreSQL server, started on first use, with a migrated template."""
    service = start_postgres()
    try:
        databases = PostgresDatabases(service)
        name = databases.create()
        asyncio.run(_migrate(databases.url(name)))
        psql(service, f'ALTER DATABASE "{name}" RENAME TO "{MIGRATED_TEMPLATE}"')
        yield databases
    finally:
        service.stop()
        shutil.rmtree(service.files["tempdir"], ignore_errors=True)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database for this test: a SQLite file, or a migrated PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3"
        return
    databases: PostgresDatabases = request.getfixturevalue("postgres_databases")
    name = databases.create(MIGRATED_TEMPLATE)
    try:
        yield databases.url(name)
    finally:
        databases.drop(name)


@pytest.fixture
def loopback_ice() -> Iterator[None]:
    """aioice gathers host candidates on 127.0.0.1 only, for this test only."""
    with loopback_host_addresses():
        yield


@pytest.fixture
def redis_service(tmp_path: Path) -> Iterator[RunningService]:
    """A private redis-server on a free loopback port (``.port``, ``.restart()``, ``.stop()``)."""
    service = start_redis(tmp_path)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def postgres_service() -> Iterator[RunningService]:
    """A private PostgreSQL on a free loopback port, `initdb` into a temp dir of its own."""
    service = start_postgres()
    try:
        yield service
    finally:
        service.stop()
        shutil.rmtree(service.files["tempdir"], ignore_errors=True)


@pytest.fixture
def turn_secret() -> str:
    """A fresh shared secret per test, as the deployment's static-auth-secret would be."""
    return secrets.token_urlsafe(32)


@pytest.fixture
def coturn(tmp_path: Path, turn_secret: str) -> Iterator[RunningService]:
    """coturn running a test copy of turnserver.conf on free loopback ports."""
    service = start_coturn(tmp_path, turn_secret)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(TEST_NOW)


@pytest.fixture
def app_config(database_url: str) -> Config:
    return Config(
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        dev_login=True,
    )


@pytest.fixture
async def api(aiohttp_client: Any, app_config: Config, clock: ManualClock) -> Api:
    client: TestClient = await aiohttp_client(create_app(app_config, clock=clock))
    return Api(client, TEST_SECRET, clock)


@pytest.fixture
async def two_nodes(
    aiohttp_client: Any, database_url: str, clock: ManualClock, redis_service: RunningService
) -> AsyncIterator[tuple[Api, Api]]:
    """Two apps sharing one database and one Redis: what one node changes, the other serves."""
    apps = [
        await aiohttp_client(
            create_app(redis_config(database_url, redis_service.port, node_id=n), clock=clock)
        )
        for n in ("node-a", "node-b")
    ]
    yield Api(apps[0], TEST_SECRET, clock), Api(apps[1], TEST_SECRET, clock)
