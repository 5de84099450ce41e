"""Shared fixtures: real services (Redis, coturn) and the loopback ICE patch.

Helpers live in tests/services.py and tests/peers.py; this file only wires them to pytest so
every started process is stopped by its PID at teardown, even when the test fails.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.peers import loopback_host_addresses
from tests.services import RunningService, start_coturn, start_redis


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


# --- The app on a real SQLite file, with a clock the test moves by hand -------------------------

from datetime import UTC, datetime  # noqa: E402

from aiohttp.test_utils import TestClient  # noqa: E402

from scheduling.clock import ManualClock  # noqa: E402
from tests.apiclient import Api  # noqa: E402
from web.app import create_app  # noqa: E402
from web.config import Config  # noqa: E402

TEST_SECRET = "test-secret-not-for-production-0123456789"
# A Monday morning in Berlin: tests build events on the following days.
TEST_NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


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
async def api(aiohttp_client, app_config: Config, clock: ManualClock) -> Api:  # type: ignore[no-untyped-def]
    client: TestClient = await aiohttp_client(create_app(app_config, clock=clock))
    return Api(client, TEST_SECRET, clock)
