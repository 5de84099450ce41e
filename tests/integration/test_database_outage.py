"""A database that is missing, refuses us, or goes away while serving.

At start-up (`duet migrate`, `duet serve`) it is one sentence naming the database and what to
check, and exit code 1, not a traceback. While serving, losing PostgreSQL turns `/readyz` and
every request that needs it into 503 problem+json with Retry-After, and when it is back the same
process answers normally again: nothing to restart.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import event

from scheduling.clock import ManualClock
from tests.support.apiclient import ORGANIZER, Api
from tests.support.app import REPO_ROOT, TEST_NOW, TEST_SECRET
from tests.support.rooms import eventually
from tests.support.seed import WINTER_FAIR
from tests.support.services import RunningService, free_port, postgres_url, psql
from web.app import create_app
from web.config import Config
from web.keys import ENGINE


def duet(command: str, database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`duet <command>` as an operator runs it, with only the database URL to go on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DUET_")} | {
        "DUET_DATABASE_URL": database_url,
        "DUET_JWT_SECRET": TEST_SECRET,
        "DUET_SECRET_FILE": str(tmp_path / "jwt_secret"),
        "DUET_HOST": "127.0.0.1",
        "DUET_PORT": str(free_port()),
    }
    return subprocess.run(
        [sys.executable, "-m", "web.cli", command],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    """Exit code 1, nothing on stdout, and stderr is a single line: the sentence."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("duet: ") and lines[0].endswith("."), lines[0]
    return lines[0]


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_an_unreachable_postgresql_at_start_is_one_sentence_and_exit_1(
    command: str, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+asyncpg://duet:secret@127.0.0.1:{port}/duet"
    sentence = one_sentence(duet(command, url, tmp_path))
    assert f"127.0.0.1:{port}" in sentence and "connection refused" in sentence, sentence
    assert "secret" not in sentence  # the password is never printed


@pytest.fixture
def password_server(postgres_service: RunningService) -> RunningService:
    """The test server with one role that must log in with a password (the others: trust)."""
    psql(postgres_service, "CREATE ROLE duet_app LOGIN PASSWORD 'right-password'")
    psql(postgres_service, "CREATE DATABASE duet OWNER duet_app")
    hba = postgres_service.files["data"] / "pg_hba.conf"
    hba.write_text(
        "local all all trust\n"
        "host all duet_app 127.0.0.1/32 scram-sha-256\n"
        "host all all 127.0.0.1/32 trust\n"
    )
    psql(postgres_service, "SELECT pg_reload_conf()")
    return postgres_service


def test_a_wrong_password_or_database_at_start_is_one_sentence_and_exit_1(
    password_server: RunningService, tmp_path: Path
) -> None:
    where = f"127.0.0.1:{password_server.port}"
    wrong = f"postgresql+asyncpg://duet_app:wrong@{where}/duet"
    sentence = one_sentence(duet("migrate", wrong, tmp_path))
    assert where in sentence and "duet_app" in sentence and "password" in sentence, sentence

    missing = f"postgresql+asyncpg://duet_app:right-password@{where}/nowhere"
    sentence = one_sentence(duet("migrate", missing, tmp_path))
    assert where in sentence and "'nowhere'" in sentence, sentence

    # The same server and role with the right password: the refusals above were about them.
    right = f"postgresql+asyncpg://duet_app:right-password@{where}/duet"
    done = duet("migrate", right, tmp_path)
    assert done.returncode == 0, done.stderr


def test_a_sqlite_path_that_cannot_be_a_file_is_one_sentence_and_exit_1(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    sentence = one_sentence(duet("serve", f"sqlite+aiosqlite:///{blocker}/duet.sqlite3", tmp_path))
    assert "SQLite" in sentence and str(blocker) in sentence, sentence


@pytest.fixture
async def served(
    aiohttp_client: Any, postgres_service: RunningService
) -> AsyncIterator[tuple[Api, RunningService]]:
    config = Config(
        database_url=postgres_url(postgres_service), jwt_secret=TEST_SECRET, dev_login=True
    )
    clock = ManualClock(TEST_NOW)
    client: TestClient = await aiohttp_client(create_app(config, clock=clock))
    yield Api(client, TEST_SECRET, clock), postgres_service


async def unavailable(api: Api, method: str, path: str, json: Any = None) -> dict[str, Any]:
    resp = await api.client.request(
        method, path, json=json, headers={"Authorization": f"Bearer {api.token(ORGANIZER)}"}
    )
    body = await resp.json(content_type=None)
    assert resp.status == 503, body
    assert resp.content_type == "application/problem+json"
    assert int(resp.headers["Retry-After"]) > 0
    assert body["status"] == 503 and body["detail"].endswith(".")
    return body


async def test_losing_postgresql_while_serving_is_503_and_coming_back_needs_no_restart(
    served: tuple[Api, RunningService],
) -> None:
    api, server = served
    first = await api.call(ORGANIZER, "POST", "/api/v1/events", WINTER_FAIR, expect=201)
    assert (await api.client.get("/readyz")).status == 200

    server.stop()
    ready = await api.client.get("/readyz")
    assert ready.status == 503 and "Retry-After" in ready.headers
    assert (await ready.json(content_type=None))["code"] == "not_ready"
    problem = await unavailable(api, "GET", "/api/v1/events")
    assert problem["code"] == "database_unavailable"
    await unavailable(api, "POST", "/api/v1/events", WINTER_FAIR)
    assert (await api.client.get("/healthz")).status == 200  # the process itself is fine

    server.start()
    assert (await api.client.get("/readyz")).status == 200
    listed = await api.call(ORGANIZER, "GET", "/api/v1/events")
    assert [e["id"] for e in listed["events"]] == [first["id"]]  # the refused create left nothing
    await api.call(ORGANIZER, "POST", "/api/v1/events", WINTER_FAIR, expect=201)


async def test_a_pooled_connection_the_server_closed_is_replaced_without_an_error(
    served: tuple[Api, RunningService],
) -> None:
    """No ping per checkout (it cost three round trips): a connection PostgreSQL closed, as
    when an operator terminates backends, is noticed when the close arrives and replaced."""
    api, server = served
    pooled: list[Any] = []  # the asyncpg connections handed back to the pool
    pool = api.client.app[ENGINE].sync_engine.pool
    event.listen(pool, "checkin", lambda _dbapi, record: pooled.append(record.driver_connection))
    await api.call(ORGANIZER, "POST", "/api/v1/events", WINTER_FAIR, expect=201)
    assert pooled
    await asyncio.to_thread(
        psql,
        server,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
    )
    await eventually(lambda: all(c.is_closed() for c in pooled), "the closes noticed")
    listed = await api.call(ORGANIZER, "GET", "/api/v1/events")  # 200, not 503
    assert len(listed["events"]) == 1
    await api.call(ORGANIZER, "POST", "/api/v1/events", WINTER_FAIR, expect=201)


async def test_a_sqlite_file_gone_while_serving_is_503_not_a_server_error(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    """SQLite's failure to open its file reads the same way: unavailable, try again later."""
    db_dir = tmp_path / "data"
    config = Config(
        database_url=f"sqlite+aiosqlite:///{db_dir}/duet.sqlite3", jwt_secret=TEST_SECRET
    )
    clock = ManualClock(TEST_NOW)
    api = Api(await aiohttp_client(create_app(config, clock=clock)), TEST_SECRET, clock)
    await api.call(ORGANIZER, "POST", "/api/v1/events", WINTER_FAIR, expect=201)
    await api.client.app[ENGINE].dispose()  # pooled connections hold the old file open
    shutil.rmtree(db_dir)
    problem = await unavailable(api, "GET", "/api/v1/events")
    assert problem["code"] == "database_unavailable"
