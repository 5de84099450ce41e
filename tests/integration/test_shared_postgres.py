"""Two `duet serve` nodes sharing one PostgreSQL: the races settle in the database, not in a
process. Requests come from several OS processes at once (tests/support/race.py), half to each
node, so no lock inside one node can be what keeps the answer right."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa

from scheduling.db import make_engine, read_tx
from scheduling.model import Role
from scheduling.schema import chats
from tests.support.apiclient import ADA, ORGANIZER, Person
from tests.support.duet_nodes import DuetNode, launch_node, wait_ready
from tests.support.integrity import integrity_violations
from tests.support.race import Answer, Shot, fire_from_processes
from tests.support.services import PostgresDatabases
from web.auth import mint_token

SECRET = "shared-postgres-test-secret-0123456789abcdef"
PICKERS = 200
PROCESSES = 4


class Rest:
    """One node's REST API, with tokens minted at the real current time (the nodes' clock)."""

    def __init__(self, session: aiohttp.ClientSession, node: DuetNode) -> None:
        self.session = session
        self.node = node

    async def call(
        self, person: Person, method: str, path: str, json: Any = None, expect: int = 200
    ) -> Any:
        async with self.session.request(
            method, self.node.url + path, json=json, headers={"Authorization": bearer(person)}
        ) as resp:
            body = await resp.read()
            assert resp.status == expect, f"{method} {path}: {resp.status} {body[:500]!r}"
            return await resp.json(content_type=None)


def token(person: Person) -> str:
    return mint_token(SECRET, person.record, datetime.now(UTC), timedelta(hours=1))


def bearer(person: Person) -> str:
    return f"Bearer {token(person)}"


@pytest.fixture
def shared_database(postgres_databases: PostgresDatabases) -> Iterator[str]:
    """An empty database (not the migrated template): the nodes migrate it as they start."""
    name = postgres_databases.create()
    try:
        yield postgres_databases.url(name)
    finally:
        postgres_databases.drop(name)


@pytest.fixture
async def two_nodes(
    shared_database: str, tmp_path: Path
) -> AsyncIterator[tuple[aiohttp.ClientSession, DuetNode, DuetNode]]:
    """Both nodes started at the same time on the empty database."""
    started = [launch_node(n, tmp_path, SECRET, shared_database) for n in ("node-a", "node-b")]
    try:
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(wait_ready(session, node) for node in started))
            yield session, started[0], started[1]
    finally:
        for node in started:
            node.stop()


async def test_200_picks_of_one_slot_from_4_processes_on_2_nodes_make_one_booking(
    two_nodes: tuple[aiohttp.ClientSession, DuetNode, DuetNode], shared_database: str
) -> None:
    session, node_a, node_b = two_nodes
    a, b = Rest(session, node_a), Rest(session, node_b)
    days = [(datetime.now(UTC) + timedelta(days=7 + i)).date().isoformat() for i in range(3)]
    event = await a.call(
        ORGANIZER,
        "POST",
        "/api/v1/events",
        {
            "name": "Shared Fair",
            "timezone": "Europe/Berlin",
            "days": [
                {"date": d, "start": "08:00", "end": "20:00", "durations": [10]} for d in days
            ],
            "quotas": [{"company_id": "acme", "slot_quota": 500}],
        },
        expect=201,
    )
    ev = f"/api/v1/events/{event['id']}"
    await b.call(
        ADA,
        "PUT",
        f"{ev}/availability",
        {"days": [{"date": d, "duration_min": 10, "slots": "all"} for d in days]},
    )
    await a.call(ADA, "POST", f"{ev}/availability/confirm")  # 3 days x 12 h x 6 = 216 slots
    people = [Person(f"picker{i:03d}", f"Picker {i}", Role.PARTICIPANT) for i in range(PICKERS)]
    nodes = (a, b)
    created = await asyncio.gather(
        *(
            nodes[i % 2].call(p, "POST", f"{ev}/chats", {"employee_id": ADA.id}, expect=201)
            for i, p in enumerate(people)
        )
    )
    approved = await asyncio.gather(
        *(
            nodes[i % 2].call(ADA, "POST", f"/api/v1/chats/{c['id']}/approve")
            for i, c in enumerate(created)
        )
    )
    assert {c["state"] for c in approved} == {"approved"}
    free = await b.call(people[0], "GET", f"{ev}/employees/{ADA.id}/slots")
    slot_id = free["slots"][11]["id"]

    shots = [
        Shot(
            f"{(node_a, node_b)[i % 2].url}/api/v1/chats/{c['id']}/book",
            token(p),
            {"slot_id": slot_id},
        )
        for i, (p, c) in enumerate(zip(people, created, strict=True))
    ]
    batches = [shots[i::PROCESSES] for i in range(PROCESSES)]
    answers = await asyncio.get_running_loop().run_in_executor(None, fire_from_processes, batches)

    assert len(answers) == PICKERS
    assert Counter(x.status for x in answers) == {200: 1, 409: PICKERS - 1}, Counter(answers)
    refusals: list[Answer] = [x for x in answers if x.status == 409]
    assert {x.content_type for x in refusals} == {"application/problem+json"}
    assert Counter(x.code for x in refusals) == {"slot_taken": PICKERS - 1}

    engine = make_engine(shared_database)
    try:
        async with read_tx(engine) as conn:
            holders = (
                (await conn.execute(sa.select(chats.c.state).where(chats.c.slot_id == slot_id)))
                .scalars()
                .all()
            )
            assert holders == ["confirmed"]
            assert await integrity_violations(conn) == []
    finally:
        await engine.dispose()
