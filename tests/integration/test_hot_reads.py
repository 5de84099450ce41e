"""Hot reads (scheduling/db.py `point_read`, `point_select`): the join grant's one statement runs
in place on SQLite, and what it answers is never older than the last committed change.

At :00 every person of a time slot asks for a join grant within seconds; through aiosqlite each
statement cost ~0.5 ms of CPU in thread hand-offs (docs/performance.md, "The join grant").
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite

from rooms import chatlog
from rooms.tickets import verify_ticket
from scheduling.db import PointQuery, one_transaction, point_read, point_select, write_tx
from scheduling.schema import chats, companies, events, users
from scheduling.store_join import JOIN_FACTS
from tests.support.apiclient import ADA, ORGANIZER, SAM, Api
from tests.support.app import TEST_SECRET
from tests.support.rooms import live_chat
from web.keys import ENGINE

pytestmark = pytest.mark.both_backends


@contextmanager
def async_statements(api: Api) -> Iterator[list[str]]:
    """Every SQL statement the app's async engine runs inside the block."""
    seen: list[str] = []
    engine = api.client.app[ENGINE].sync_engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        task = asyncio.current_task()
        if task is None or not task.get_name().startswith(
            "settle"
        ):  # the node's own tick, due whenever
            seen.append(statement)  # the test moved the clock

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def test_the_join_grant_reads_in_place_on_sqlite(api: Api, backend: str) -> None:
    chat_id, _ = await live_chat(api)
    with async_statements(api) as seen:
        grant = await api.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join")
    assert grant["ticket"] and grant["join_window"]["open"] is True
    if backend == "sqlite":
        assert seen == []  # nothing went through aiosqlite's worker thread
    else:  # one round trip: the chat, its event's terms and its log's last seq together
        assert [s for s in seen if "FROM chats" in s or "FROM events" in s] == [
            s for s in seen if "FROM chats" in s and "events" in s and "chat_messages" in s
        ]
        assert len([s for s in seen if "FROM chats" in s]) == 1


@pytest.mark.postgresql_only
async def test_the_join_grant_is_one_round_trip_on_postgresql(api: Api) -> None:
    """What PostgreSQL itself receives for a grant (asyncpg's own query log): the one
    statement in autocommit, no BEGIN and COMMIT around it (three round trips before)."""
    chat_id, _ = await live_chat(api)
    sent: list[str] = []

    def log(record: Any) -> None:
        sent.append(record.query)

    def checkout(dbapi_conn: Any, *_: Any) -> None:
        task = asyncio.current_task()  # the request's, not a background worker's
        if task is not None and "_handle_request" in task.get_coro().__qualname__:
            dbapi_conn.driver_connection.add_query_logger(log)

    def checkin(dbapi_conn: Any, *_: Any) -> None:
        dbapi_conn.driver_connection.remove_query_logger(log)

    pool = api.client.app[ENGINE].sync_engine.pool
    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)
    try:
        await api.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join")
        await asyncio.sleep(0)  # asyncpg calls its query loggers soon after each query
    finally:
        event.remove(pool, "checkout", checkout)
        event.remove(pool, "checkin", checkin)
    assert "BEGIN" not in " ".join(sent) and "COMMIT" not in " ".join(sent), sent


async def test_the_ticket_carries_the_chat_logs_last_seq(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    engine = api.client.app[ENGINE]
    first = await api.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join")
    for n in range(3):
        await chatlog.append(engine, chat_id, ADA.id, f"m{n}", "Hello", api.clock.now())
    second = await api.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join")
    seqs = [
        verify_ticket(TEST_SECRET, g["ticket"], api.clock.now()).room.history_seq
        for g in (first, second)
    ]
    assert seqs == [0, 3]


async def test_the_join_grant_refuses_a_chat_it_cannot_see(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    unknown = await api.call(ADA, "POST", f"/api/v1/chats/{'f' * 32}/join", expect=404)
    organizer = await api.call(ORGANIZER, "POST", f"/api/v1/chats/{chat_id}/join", expect=403)
    assert (unknown["code"], organizer["code"]) == ("not_found", "not_a_member")


async def test_the_join_grant_sees_a_cancel_committed_just_before(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    await api.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join")  # the reader is warm
    await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "Sorry."})
    refused = await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/join", expect=409)
    assert refused["code"] == "chat_cancelled"


async def test_the_join_grant_reads_the_event_terms_as_committed(api: Api) -> None:
    chat_id, chat = await live_chat(api)
    before = await api.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join")
    async with write_tx(api.client.app[ENGINE]) as conn:
        await conn.execute(
            events.update()
            .where(events.c.id == chat["event_id"])
            .values(support_url="https://help.example/duet")
        )
    after = await api.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join")
    assert (before["support_url"], after["support_url"]) == ("", "https://help.example/duet")


async def test_a_point_read_inside_one_transaction_sees_its_own_changes(api: Api) -> None:
    _, chat = await live_chat(api)
    engine = api.client.app[ENGINE]
    async with one_transaction(engine) as conn:
        await conn.execute(
            events.update().where(events.c.id == chat["event_id"]).values(support_url="x")
        )
        async with point_read(engine) as reader:
            row = await reader.execute(
                sa.select(events.c.support_url).where(events.c.id == chat["event_id"])
            )
            assert row.scalar() == "x"
        await conn.rollback()


async def test_a_point_select_inside_one_transaction_sees_its_own_changes(api: Api) -> None:
    _, chat = await live_chat(api)
    engine = api.client.app[ENGINE]
    query = PointQuery(sa.select(events.c.support_url).where(events.c.id == sa.bindparam("id")))
    async with one_transaction(engine) as conn:
        await conn.execute(
            events.update().where(events.c.id == chat["event_id"]).values(support_url="y")
        )
        row = await point_select(engine, query, {"id": chat["event_id"]})
        assert row is not None and row["support_url"] == "y"
        await conn.rollback()
    row = await point_select(engine, query, {"id": chat["event_id"]})
    assert row is not None and row["support_url"] == ""
    assert await point_select(engine, query, {"id": "nosuchevent"}) is None


async def test_a_point_select_reads_what_sqlalchemy_reads(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    engine = api.client.app[ENGINE]
    await chatlog.append(engine, chat_id, SAM.id, "m1", "Hi", api.clock.now())
    fast = await point_select(engine, JOIN_FACTS, {"chat_id": chat_id})
    async with engine.connect() as conn:
        slow = (await conn.execute(JOIN_FACTS.statement, {"chat_id": chat_id})).mappings().one()
    assert fast is not None and dict(fast) == dict(slow)
    assert fast["starts_at"].tzinfo is not None and fast["history_seq"] == 1


def test_a_point_query_needs_distinct_column_keys_and_plain_parameters() -> None:
    dialect = sqlite.dialect()
    same_names = PointQuery(sa.select(users.c.name, companies.c.name))
    with pytest.raises(ValueError, match="distinct keys"):
        same_names.for_sqlite(dialect)
    by_time = PointQuery(sa.select(chats.c.id).where(chats.c.starts_at == sa.bindparam("at")))
    with pytest.raises(TypeError, match="needs conversion"):
        by_time.for_sqlite(dialect)
