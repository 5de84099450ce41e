"""Liveness and readiness: a load balancer must stop sending people to a node without its data.

`/healthz` only says the process answers; `/readyz` must fail (503 problem+json) when the database
cannot be opened, made real here by removing or replacing the SQLite file under a running app.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator

from scheduling.clock import ManualClock
from tests.support.app import TEST_NOW, TEST_SECRET
from web.app import create_app
from web.config import Config
from web.keys import ENGINE
from web.openapi import openapi_document


@pytest.fixture
async def node(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[tuple[TestClient, Path]]:
    """The app on a database file in a directory of its own, which the tests then take away."""
    db_dir = tmp_path / "data"
    config = Config(
        database_url=f"sqlite+aiosqlite:///{db_dir}/duet.sqlite3", jwt_secret=TEST_SECRET
    )
    client: TestClient = await aiohttp_client(create_app(config, clock=ManualClock(TEST_NOW)))
    yield client, db_dir


async def not_ready(client: TestClient) -> dict[str, Any]:
    """GET /readyz must be 503 problem+json, in the shape the OpenAPI document declares."""
    resp = await client.get("/readyz")
    body = await resp.json(content_type=None)
    assert resp.status == 503, body
    assert resp.content_type == "application/problem+json"
    doc = openapi_document()
    schema = doc["paths"]["/readyz"]["get"]["responses"]["503"]["content"][
        "application/problem+json"
    ]["schema"]
    Draft202012Validator(schema | {"components": doc["components"]}).validate(body)
    assert body["code"] == "not_ready" and body["detail"].endswith(".")
    return body


async def test_healthz_and_readyz_answer_on_a_working_node(
    node: tuple[TestClient, Path],
) -> None:
    client, _ = node
    for path, status in (("/healthz", "ok"), ("/readyz", "ready")):
        resp = await client.get(path)  # probes carry no token, and need none
        assert resp.status == 200 and (await resp.json()) == {"status": status}
    # A bad token is refused everywhere, probes included, rather than silently ignored.
    resp = await client.get("/readyz", headers={"Authorization": "Bearer not-a-token"})
    assert resp.status == 401


async def test_readyz_fails_when_the_database_directory_is_gone(
    node: tuple[TestClient, Path],
) -> None:
    client, db_dir = node
    assert (await client.get("/readyz")).status == 200
    shutil.rmtree(db_dir)
    # Pooled connections still hold the unlinked file open; new ones must open the path.
    await client.app[ENGINE].dispose()
    await not_ready(client)
    # Liveness is about the process, not its dependencies: it keeps answering.
    assert (await client.get("/healthz")).status == 200


async def test_readyz_fails_when_the_database_path_is_not_a_file(
    node: tuple[TestClient, Path],
) -> None:
    client, db_dir = node
    await client.app[ENGINE].dispose()
    for leftover in db_dir.iterdir():
        leftover.unlink()
    (db_dir / "duet.sqlite3").mkdir()  # e.g. a volume mounted at the wrong place
    await not_ready(client)


async def test_readyz_fails_on_an_empty_database_without_the_schema(
    node: tuple[TestClient, Path],
) -> None:
    """A fresh empty file opens fine but has no tables: every API call would fail."""
    client, db_dir = node
    await client.app[ENGINE].dispose()
    shutil.rmtree(db_dir)
    db_dir.mkdir()
    body = await not_ready(client)
    assert "duet migrate" in body["detail"]
