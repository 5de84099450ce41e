"""The constants every app under test shares: its JWT secret and the fixed clock's start;
and the settings of an app on the Redis broker, as the multi-node tests build them.

The fixed clock is for logic only; a test that hands a time, credential or ticket to a real
outside process (coturn, Chromium, Redis TTLs) starts from the real now instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from web.config import Config

TEST_SECRET: Final = "test-secret-not-for-production-0123456789"
# A Monday morning in Berlin: tests build events on the following days.
TEST_NOW: Final = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
# The repository's root, for tests that read its files (docs, configs, the static client).
REPO_ROOT: Final = Path(__file__).resolve().parents[2]


def redis_config(database_url: str, redis_port: int, **settings: Any) -> Config:
    """An app's settings on the Redis broker, with the test secret and the dev login."""
    return Config(
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        dev_login=True,
        broker="redis",
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
        **settings,
    )
