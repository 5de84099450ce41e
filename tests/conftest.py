"""Shared fixtures: real services (Redis, coturn), the loopback ICE patch, and the app on a real
SQLite file with a clock the test moves by hand.

Helpers live in tests/support/; this file only wires them to pytest, so every started process is
stopped by its PID at teardown, even when the test fails.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from scheduling.clock import ManualClock
from tests.support.apiclient import Api
from tests.support.app import TEST_NOW, TEST_SECRET
from tests.support.peers import loopback_host_addresses
from tests.support.services import RunningService, start_coturn, start_postgres, start_redis
from web.app import create_app
from web.config import Config


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
def app_config(tmp_path: Path) -> Config:
    return Config(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        jwt_secret=TEST_SECRET,
        dev_login=True,
    )


@pytest.fixture
async def api(aiohttp_client: Any, app_config: Config, clock: ManualClock) -> Api:
    client: TestClient = await aiohttp_client(create_app(app_config, clock=clock))
    return Api(client, TEST_SECRET, clock)
