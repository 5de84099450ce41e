"""The offers list's build reads the slots from indexes (SQLite's own query plans).

On SQLite, the tests' default backend: the plans are asked of the app's SQLite file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event

from tests.integration.test_offers_cache import fair, offers
from tests.support.apiclient import ADA, SAM, Api
from web.keys import ENGINE


async def test_building_the_list_reads_the_slots_from_indexes(api: Api) -> None:
    """A booking makes every node build the list again: its count of every free slot by
    employee and day reads the employee index alone, in the GROUP BY's order (migration 0009:
    ~33 -> ~17 ms of SQL at 43,200 slots); and an approval's look for the employee's free slot
    still goes straight to that employee's entries (an index SQLite preferred for it once
    walked the whole event's slots)."""
    event_id = await fair(api)
    plans = await _plans(api, lambda: offers(api))
    counts = [plan for statement, plan in plans if "GROUP BY" in statement]
    assert counts and all(
        "COVERING INDEX ix_slots_event_employee" in p and "TEMP B-TREE" not in p for p in counts
    ), plans
    chat = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": ADA.id}, expect=201
    )
    plans = await _plans(api, lambda: api.call(ADA, "POST", f"/api/v1/chats/{chat['id']}/approve"))
    by_employee = [plan for statement, plan in plans if "employee_id = ?" in statement]
    assert by_employee and all("employee_id=?" in plan for plan in by_employee), plans


async def _plans(api: Api, run: Callable[[], Awaitable[Any]]) -> list[tuple[str, str]]:
    """(statement, SQLite's plan) for every statement on the slots table that `run` makes the
    app run."""
    engine = api.client.app[ENGINE]
    ran: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM slots" in statement:
            ran.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await run()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    with sqlite3.connect(engine.url.database) as db:
        return [
            (
                statement,
                " | ".join(
                    str(row[-1])
                    for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
                ),
            )
            for statement, parameters in ran
        ]
