"""The organizer's minimum gap between one participant's chats, on SQLite and PostgreSQL: the API
says it in a sentence, and the database's `participant_gap` trigger holds it under a race."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from scheduling.db import read_tx, write_tx
from scheduling.errors import ErrorKind
from scheduling.schema import chats, events, slots
from scheduling.store_integrity import from_integrity_error
from tests.integration.test_concurrency import problem_codes, raw
from tests.support.apiclient import ADA, GRACE, ORGANIZER, SAM, Api
from tests.support.around import approved_chat, fair, new_event, starts
from tests.support.integrity import integrity_violations
from web.keys import ENGINE

pytestmark = pytest.mark.both_backends


async def two_chats(api: Api, gap: int) -> tuple[str, list[str], str, str, dict, dict]:
    """Sam's approved chats with Ada (acme) and Grace (globex), both offering every 30-minute
    slot of the morning."""
    event_id = await new_event(api, gap)
    grid = await starts(api, event_id, 30)  # 08:00, 08:30, ... UTC
    ada_chat, ada_slots = await approved_chat(api, event_id, ADA, SAM, grid[:4], 30)
    grace_chat, grace_slots = await approved_chat(api, event_id, GRACE, SAM, grid[:4], 30)
    return event_id, grid, ada_chat, grace_chat, ada_slots, grace_slots


async def test_no_gap_by_default_back_to_back_is_fine(api: Api) -> None:
    _, grid, ada_chat, grace_chat, ada_slots, grace_slots = await two_chats(api, 0)
    await api.call(SAM, "POST", f"/api/v1/chats/{ada_chat}/book", {"slot_id": ada_slots[grid[0]]})
    booked = await api.call(
        SAM, "POST", f"/api/v1/chats/{grace_chat}/book", {"slot_id": grace_slots[grid[1]]}
    )
    assert booked["state"] == "confirmed"


async def test_a_slot_within_the_gap_is_refused_and_one_beyond_it_is_taken(api: Api) -> None:
    event_id, grid, ada_chat, grace_chat, ada_slots, grace_slots = await two_chats(api, 15)
    assert (await api.call(SAM, "GET", f"/api/v1/events/{event_id}"))["min_gap_min"] == 15
    await api.call(SAM, "POST", f"/api/v1/chats/{ada_chat}/book", {"slot_id": ada_slots[grid[1]]})
    for too_close in (grid[0], grid[2]):  # ends as Ada's starts; starts as Ada's ends
        problem = await api.call(
            SAM,
            "POST",
            f"/api/v1/chats/{grace_chat}/book",
            {"slot_id": grace_slots[too_close]},
            expect=409,
        )
        assert problem["code"] == "too_close" and "at least 15 minutes" in problem["detail"]
    # An overlap keeps its own sentence.
    problem = await api.call(
        SAM,
        "POST",
        f"/api/v1/chats/{grace_chat}/book",
        {"slot_id": grace_slots[grid[1]]},
        expect=409,
    )
    assert problem["code"] == "overlap"
    booked = await api.call(
        SAM, "POST", f"/api/v1/chats/{grace_chat}/book", {"slot_id": grace_slots[grid[3]]}
    )
    assert booked["state"] == "confirmed"
    # Moving Ada's chat next to Grace's is refused the same way.
    problem = await api.call(
        SAM,
        "POST",
        f"/api/v1/chats/{ada_chat}/reschedule",
        {"slot_id": ada_slots[grid[2]]},
        expect=409,
    )
    assert problem["code"] == "too_close"
    engine = api.client.app[ENGINE]
    async with read_tx(engine) as conn:
        assert await integrity_violations(conn) == []
    # The checker is not a rubber stamp: widened behind the API's back, the gap is broken.
    async with write_tx(engine) as conn:
        await conn.execute(events.update().where(events.c.id == event_id).values(min_gap_min=45))
        assert await integrity_violations(conn) == [
            f"{SAM.id} holds chats {ada_chat}, {grace_chat} closer than 45 minutes"
        ]
    # The setting is validated like the event's other fields.
    problem = await api.call(ORGANIZER, "POST", "/api/v1/events", fair(500), expect=422)
    assert problem["field"] == "min_gap_min" and "0 to 120 minutes" in problem["detail"]


async def test_two_picks_at_once_within_the_gap_exactly_one_wins(api: Api) -> None:
    _, grid, ada_chat, grace_chat, ada_slots, grace_slots = await two_chats(api, 10)
    for _round in range(3):
        responses = await asyncio.gather(
            raw(
                api, SAM, "POST", f"/api/v1/chats/{ada_chat}/book", {"slot_id": ada_slots[grid[0]]}
            ),
            raw(
                api,
                SAM,
                "POST",
                f"/api/v1/chats/{grace_chat}/book",
                {"slot_id": grace_slots[grid[1]]},
            ),
        )
        assert Counter(r.status for r in responses) == {200: 1, 409: 1}
        assert await problem_codes(responses) == {"too_close": 1}
        async with read_tx(api.client.app[ENGINE]) as conn:
            assert await integrity_violations(conn) == []
        # Free the winner's slot for the next round.
        winner = ada_chat if responses[0].status == 200 else grace_chat
        await api.call(SAM, "POST", f"/api/v1/chats/{winner}/cancel", {"reason": "again"})
        ada_chat, ada_slots = (
            await _again(api, ADA, ada_chat, grid) if winner == ada_chat else (ada_chat, ada_slots)
        )
        grace_chat, grace_slots = (
            await _again(api, GRACE, grace_chat, grid)
            if winner == grace_chat
            else (grace_chat, grace_slots)
        )


async def _again(api: Api, employee, old_chat: str, grid: list[str]) -> tuple[str, dict]:
    chat = await api.call(SAM, "GET", f"/api/v1/chats/{old_chat}")
    fresh = await api.call(
        SAM,
        "POST",
        f"/api/v1/events/{chat['event_id']}/chats",
        {"employee_id": employee.id},
        expect=201,
    )
    await api.call(employee, "POST", f"/api/v1/chats/{fresh['id']}/approve")
    free = await api.call(
        SAM, "GET", f"/api/v1/events/{chat['event_id']}/employees/{employee.id}/slots"
    )
    return fresh["id"], {s["starts_at"]: s["id"] for s in free["slots"]}


async def test_the_database_refuses_the_gap_even_past_the_code(api: Api) -> None:
    """Two transactions write the clashing bookings straight into the table, side by side: the
    trigger (with its lock on PostgreSQL) lets exactly one commit."""
    _, grid, ada_chat, grace_chat, ada_slots, grace_slots = await two_chats(api, 10)
    engine = api.client.app[ENGINE]

    async def book(chat_id: str, slot_id: int, started: asyncio.Event, go: asyncio.Event) -> str:
        async with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn = await conn.execution_options(duet_write=True)
            try:
                async with conn.begin():
                    row = (await conn.execute(sa.select(slots).where(slots.c.id == slot_id))).one()
                    started.set()
                    await go.wait()
                    await conn.execute(
                        chats.update()
                        .where(chats.c.id == chat_id)
                        .values(
                            state="confirmed",
                            slot_id=slot_id,
                            starts_at=row.starts_at,
                            ends_at=row.ends_at,
                        )
                    )
            except IntegrityError as exc:
                return from_integrity_error(exc).kind.value
            return "ok"

    go = asyncio.Event()
    first, second = asyncio.Event(), asyncio.Event()
    if engine.dialect.name == "sqlite":
        # SQLite has one writer at a time: the second transaction starts after the first.
        go.set()
        results = [
            await book(ada_chat, ada_slots[grid[0]], first, go),
            await book(grace_chat, grace_slots[grid[1]], second, go),
        ]
    else:
        tasks = [
            asyncio.create_task(book(ada_chat, ada_slots[grid[0]], first, go)),
            asyncio.create_task(book(grace_chat, grace_slots[grid[1]], second, go)),
        ]
        await first.wait()
        await second.wait()  # both read, neither wrote: the race the trigger must settle
        go.set()
        results = list(await asyncio.gather(*tasks))
    assert sorted(results) == ["ok", ErrorKind.TOO_CLOSE.value]
    async with read_tx(engine) as conn:  # (written without history, so only the gap is checked)
        assert [v for v in await integrity_violations(conn) if "closer than" in v] == []
