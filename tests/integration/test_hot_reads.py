"""Hot reads (scheduling/db.py `point_read`): the join grant's lookups run in place on SQLite,
and what they answer is never older than the last committed change.

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

from scheduling.db import one_transaction, point_read, write_tx
from scheduling.schema import events
from tests.support.apiclient import ADA, SAM, Api
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
    else:
        assert any("FROM chats" in s for s in seen)


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
