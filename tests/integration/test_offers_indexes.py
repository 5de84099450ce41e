"""The offers list's build reads the slots from indexes (SQLite's own query plans).

On SQLite, the tests' default backend: the plans are asked of the app's SQLite file.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event

from tests.integration.test_offers_cache import fair, offers
from tests.support.apiclient import Api
from web.keys import ENGINE


async def test_building_the_list_reads_the_slots_from_indexes(api: Api) -> None:
    """A booking makes every node build the list again, so its reads of the slots must not
    visit every slot's row: SQLite's own plan for each statement the build runs shows the
    counts read from the employee index alone, and the earliest free slot found in start order
    (migration 0009; the build took ~50 ms of SQL at 43,200 slots without them)."""
    await fair(api)
    engine = api.client.app[ENGINE]
    ran: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM slots" in statement:
            ran.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        assert (await offers(api))[0] == 200
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    plans = []
    with sqlite3.connect(engine.url.database) as db:
        for statement, parameters in ran:
            rows = db.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            plans.append(" | ".join(str(row[-1]) for row in rows))
    counts = [p for p in plans if "GROUP BY" in p or "ix_slots_event_employee" in p]
    earliest = [p for p in plans if "ix_slots_event_free_start" in p]
    assert counts and all(
        "COVERING INDEX ix_slots_event_employee" in p and "TEMP B-TREE" not in p for p in counts
    ), plans
    assert earliest and all("starts_at>?" in p for p in earliest), plans
