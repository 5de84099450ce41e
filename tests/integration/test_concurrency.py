"""Races through the real HTTP API, on SQLite and on PostgreSQL: the database must settle each.

Each test fires its competing requests at once with `asyncio.gather`; SQLite's write lock
(`BEGIN IMMEDIATE`), or PostgreSQL's constraints and row locks, with the compare-and-swap updates
and the triggers, must then leave exactly one winner with the others refused as 409
problem+json, and never a 5xx or a broken row. tests/integration/test_shared_postgres.py races
two nodes from several processes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp import ClientResponse

from scheduling.db import read_tx
from scheduling.model import Role
from scheduling.schema import chats, slots
from tests.support.apiclient import ADA, ALAN, GRACE, ORGANIZER, SAM, Api, Person
from tests.support.integrity import integrity_violations
from tests.support.seed import publish
from web.keys import ENGINE

pytestmark = pytest.mark.both_backends

DAYS = ("2026-12-01", "2026-12-02")


def event_body(quotas: dict[str, int], start: str = "08:00", end: str = "20:00") -> dict[str, Any]:
    return {
        "name": "Race Fair",
        "timezone": "Europe/Berlin",
        "days": [{"date": d, "start": start, "end": end, "durations": [10, 30]} for d in DAYS],
        "quotas": [{"company_id": c, "slot_quota": q} for c, q in quotas.items()],
    }


def participants(count: int, prefix: str = "p") -> list[Person]:
    return [Person(f"{prefix}{i:03d}", f"Participant {i}", Role.PARTICIPANT) for i in range(count)]


def employees(count: int, company: str) -> list[Person]:
    return [
        Person(f"{company}-e{i}", f"Employee {i}", Role.EMPLOYEE, company) for i in range(count)
    ]


async def raw(api: Api, person: Person, method: str, path: str, json: Any = None) -> ClientResponse:
    """One request whose status the caller inspects: races have more than one valid outcome."""
    resp = await api.client.request(
        method, path, json=json, headers={"Authorization": f"Bearer {api.token(person)}"}
    )
    await resp.read()
    return resp


async def problem_codes(responses: list[ClientResponse]) -> Counter[str]:
    """Codes of the refusals, after checking each is a 409 problem+json and nothing is a 5xx."""
    codes: Counter[str] = Counter()
    for resp in responses:
        assert resp.status < 500, f"server error under concurrency: {await resp.text()}"
        if resp.status == 200:
            continue
        assert resp.status == 409, await resp.text()
        assert resp.content_type == "application/problem+json"
        body = await resp.json(content_type=None)
        assert body["status"] == 409 and body["detail"]
        codes[body["code"]] += 1
    return codes


async def grid(api: Api, event_id: str, day: str, duration: int) -> list[str]:
    found = await api.call(
        ORGANIZER, "GET", f"/api/v1/events/{event_id}/grid?date={day}&duration_min={duration}"
    )
    return [s["starts_at"] for s in found["slots"]]


async def approved_chats(
    api: Api, event_id: str, employee: Person, people: list[Person]
) -> list[str]:
    """Each participant requests the employee, concurrently; the employee approves all of them."""
    created = await asyncio.gather(
        *(
            api.call(
                p,
                "POST",
                f"/api/v1/events/{event_id}/chats",
                {"employee_id": employee.id},
                expect=201,
            )
            for p in people
        )
    )
    ids = [c["id"] for c in created]
    approved = await asyncio.gather(
        *(api.call(employee, "POST", f"/api/v1/chats/{cid}/approve") for cid in ids)
    )
    assert all(c["state"] == "approved" for c in approved)
    return ids


async def test_hundred_participants_book_the_same_slot(api: Api) -> None:
    """The headline race: 100 people click the same slot at once and exactly one gets it."""
    event = await api.call(
        ORGANIZER, "POST", "/api/v1/events", event_body({"acme": 500}), expect=201
    )
    event_id = event["id"]
    for day in DAYS:
        done = await publish(api, event_id, ADA, day, 10, "all")
    assert len([s for s in done["slots"] if s["published"]]) == 144  # 2 days x 12 h x 6 per hour
    people = participants(100)
    ids = await approved_chats(api, event_id, ADA, people)

    free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
    slot_id = free["slots"][7]["id"]
    responses = await asyncio.gather(
        *(
            raw(api, p, "POST", f"/api/v1/chats/{cid}/book", {"slot_id": slot_id})
            for p, cid in zip(people, ids, strict=True)
        )
    )
    statuses = Counter(r.status for r in responses)
    assert statuses[200] == 1, statuses
    codes = await problem_codes(responses)
    assert sum(codes.values()) == 99
    assert set(codes) <= {"slot_taken"}, codes

    async with read_tx(api.client.app[ENGINE]) as conn:
        holders = (
            await conn.execute(
                sa.select(chats.c.id, chats.c.state).where(chats.c.slot_id == slot_id)
            )
        ).all()
        states = Counter(
            (await conn.execute(sa.select(chats.c.state).where(chats.c.event_id == event_id)))
            .scalars()
            .all()
        )
    winner = ids[next(i for i, r in enumerate(responses) if r.status == 200)]
    assert [(h.id, h.state) for h in holders] == [(winner, "confirmed")]
    assert states == {"confirmed": 1, "approved": 99}
    # The 99 losers can still book: each of them gets one of the other free slots.
    after = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
    assert len(after["slots"]) == 143 and slot_id not in {s["id"] for s in after["slots"]}


async def test_approvals_race_for_the_last_free_slots(api: Api) -> None:
    """N free slots and N+k requests approved at once: exactly N approvals, never a promise too many."""
    event = await api.call(
        ORGANIZER, "POST", "/api/v1/events", event_body({"acme": 50}), expect=201
    )
    event_id = event["id"]
    starts = await grid(api, event_id, DAYS[0], 30)
    n, k = 4, 12
    await publish(api, event_id, ADA, DAYS[0], 30, starts[:n])
    people = participants(n + k)
    created = await asyncio.gather(
        *(
            api.call(
                p, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": ADA.id}, expect=201
            )
            for p in people
        )
    )
    responses = await asyncio.gather(
        *(raw(api, ADA, "POST", f"/api/v1/chats/{c['id']}/approve") for c in created)
    )
    assert sum(r.status == 200 for r in responses) == n
    assert await problem_codes(responses) == {"no_free_slot": k}

    async with read_tx(api.client.app[ENGINE]) as conn:
        promised = (
            await conn.execute(
                sa.select(sa.func.count()).where(
                    chats.c.employee_id == ADA.id,
                    sa.or_(chats.c.state == "approved", chats.c.slot_id.is_not(None)),
                )
            )
        ).scalar_one()
        published = (
            await conn.execute(
                sa.select(sa.func.count()).where(slots.c.employee_id == ADA.id, slots.c.published)
            )
        ).scalar_one()
    assert promised == published == n
    # Every approved participant really can book: the promise was backed by a slot.
    winners = [c["id"] for c, r in zip(created, responses, strict=True) if r.status == 200]
    winner_people = [p for p, r in zip(people, responses, strict=True) if r.status == 200]
    free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
    booked = await asyncio.gather(
        *(
            api.call(p, "POST", f"/api/v1/chats/{cid}/book", {"slot_id": s["id"]})
            for p, cid, s in zip(winner_people, winners, free["slots"], strict=True)
        )
    )
    assert {b["state"] for b in booked} == {"confirmed"}


async def test_one_participant_cannot_hold_two_overlapping_chats(api: Api) -> None:
    """Booking two employees' slots at the same time at once: the overlap trigger keeps one."""
    event = await api.call(
        ORGANIZER, "POST", "/api/v1/events", event_body({"acme": 20, "globex": 20}), expect=201
    )
    event_id = event["id"]
    starts = await grid(api, event_id, DAYS[0], 30)
    await publish(api, event_id, ADA, DAYS[0], 30, starts[:6])
    await publish(api, event_id, GRACE, DAYS[0], 30, starts[:6])
    for round_ in range(5):  # five rounds, each slot pair at the same wall time
        person = Person(f"overlap-{round_}", f"Overlapper {round_}", Role.PARTICIPANT)
        ids = [
            (await approved_chats(api, event_id, employee, [person]))[0]
            for employee in (ADA, GRACE)
        ]
        ada_free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
        grace_free = await api.call(
            SAM, "GET", f"/api/v1/events/{event_id}/employees/{GRACE.id}/slots"
        )
        # The first time both are free (earlier rounds' winners took one side of some pairs).
        grace_by_start = {s["starts_at"]: s for s in grace_free["slots"]}
        ada_slot = next(s for s in ada_free["slots"] if s["starts_at"] in grace_by_start)
        grace_slot = grace_by_start[ada_slot["starts_at"]]
        responses = await asyncio.gather(
            raw(api, person, "POST", f"/api/v1/chats/{ids[0]}/book", {"slot_id": ada_slot["id"]}),
            raw(api, person, "POST", f"/api/v1/chats/{ids[1]}/book", {"slot_id": grace_slot["id"]}),
        )
        assert sorted(r.status for r in responses) == [200, 409]
        assert await problem_codes(list(responses)) == {"overlap": 1}

    async with read_tx(api.client.app[ENGINE]) as conn:
        overlapping = (
            await conn.execute(
                sa.text(
                    "SELECT count(*) FROM chats a JOIN chats b ON a.participant_id = b.participant_id"
                    " AND a.id < b.id WHERE a.slot_id IS NOT NULL AND b.slot_id IS NOT NULL"
                    " AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
                )
            )
        ).scalar_one()
        held = (
            await conn.execute(sa.select(sa.func.count()).where(chats.c.slot_id.is_not(None)))
        ).scalar_one()
    assert overlapping == 0 and held == 5


async def test_concurrent_publishing_never_exceeds_the_company_quota(api: Api) -> None:
    """Colleagues confirming availability at once share one quota: the sum never goes over it."""
    quota = 7
    event = await api.call(
        ORGANIZER, "POST", "/api/v1/events", event_body({"acme": quota}), expect=201
    )
    event_id = event["id"]
    starts = await grid(api, event_id, DAYS[0], 30)
    colleagues = [ADA, ALAN, *employees(4, "acme")]  # 6 colleagues x 2 slots = 12 > 7
    for person in colleagues:
        await api.call(
            person,
            "PUT",
            f"/api/v1/events/{event_id}/availability",
            {"days": [{"date": DAYS[0], "duration_min": 30, "slots": starts[:2]}]},
        )
    responses = await asyncio.gather(
        *(
            raw(api, p, "POST", f"/api/v1/events/{event_id}/availability/confirm")
            for p in colleagues
        )
    )
    assert sum(r.status == 200 for r in responses) == quota // 2
    assert await problem_codes(responses) == {"quota_reached": len(colleagues) - quota // 2}
    figure = await api.call(ORGANIZER, "GET", f"/api/v1/events/{event_id}/quota?company_id=acme")
    assert figure == {"company_id": "acme", "quota": quota, "used": 6, "available": 1}

    # Two colleagues racing for the last single slot: one gets it, the quota stays exact.
    last = [p for p, r in zip(colleagues, responses, strict=True) if r.status != 200][:2]
    for person in last:
        await api.call(
            person,
            "PUT",
            f"/api/v1/events/{event_id}/availability",
            {"days": [{"date": DAYS[0], "duration_min": 30, "slots": starts[:1]}]},
        )
    responses = await asyncio.gather(
        *(raw(api, p, "POST", f"/api/v1/events/{event_id}/availability/confirm") for p in last)
    )
    assert sorted(r.status for r in responses) == [200, 409]
    assert await problem_codes(list(responses)) == {"quota_reached": 1}
    async with read_tx(api.client.app[ENGINE]) as conn:
        published = (
            await conn.execute(
                sa.select(sa.func.count()).where(
                    slots.c.event_id == event_id, slots.c.company_id == "acme", slots.c.published
                )
            )
        ).scalar_one()
    assert published == quota


async def test_cancel_and_reschedule_race_picks_of_the_slots_they_free(api: Api) -> None:
    """Sam moves off slot A and Mei cancels slot B while eight others pick A or B at that moment:
    each slot ends with at most one holder, a picker who lost only to timing gets slot_taken, and
    a slot that was freed but not taken is free again (the next pick gets it)."""
    event = await api.call(
        ORGANIZER, "POST", "/api/v1/events", event_body({"acme": 50}), expect=201
    )
    event_id = event["id"]
    starts = await grid(api, event_id, DAYS[0], 30)
    await publish(api, event_id, ADA, DAYS[0], 30, starts[:12])
    holders = [SAM, Person("mei", "Mei Chen", Role.PARTICIPANT)]
    pickers = participants(8, prefix="picker")
    chat_ids = await approved_chats(api, event_id, ADA, holders + pickers)
    free = (await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots"))[
        "slots"
    ]
    slot_a, slot_b, elsewhere = free[0]["id"], free[1]["id"], free[2]["id"]
    for person, cid, slot in zip(holders, chat_ids, (slot_a, slot_b), strict=False):
        await api.call(person, "POST", f"/api/v1/chats/{cid}/book", {"slot_id": slot})

    picks = [
        raw(api, p, "POST", f"/api/v1/chats/{cid}/book", {"slot_id": (slot_a, slot_b)[i % 2]})
        for i, (p, cid) in enumerate(zip(pickers, chat_ids[2:], strict=True))
    ]
    moves = [
        raw(api, SAM, "POST", f"/api/v1/chats/{chat_ids[0]}/reschedule", {"slot_id": elsewhere}),
        raw(api, holders[1], "POST", f"/api/v1/chats/{chat_ids[1]}/cancel", {"reason": "ill"}),
    ]
    # The holders' moves are shuffled in among the picks, so either may come first.
    responses = await asyncio.gather(*picks[:3], moves[0], *picks[3:6], moves[1], *picks[6:])
    moved = [responses[3], responses[7]]
    picked = [r for i, r in enumerate(responses) if i not in (3, 7)]
    assert [r.status for r in moved] == [200, 200], [await r.text() for r in moved]
    codes = await problem_codes(picked)
    assert set(codes) <= {"slot_taken"}, codes
    won = sum(r.status == 200 for r in picked)
    assert won <= 2

    async def holders_of(slot_id: int) -> list[str]:
        async with read_tx(api.client.app[ENGINE]) as conn:
            found = await conn.execute(sa.select(chats.c.id).where(chats.c.slot_id == slot_id))
            return list(found.scalars().all())

    still_free = {
        s["id"]
        for s in (
            await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
        )["slots"]
    }
    losers = [
        (p, cid) for p, cid, r in zip(pickers, chat_ids[2:], picked, strict=True) if r.status == 409
    ]
    for slot in (slot_a, slot_b):
        held = await holders_of(slot)
        assert len(held) <= 1 and (slot in still_free) == (not held), (slot, held)
        if not held:  # freed after every pick of it had lost: the next pick gets it
            person, cid = losers.pop()
            await api.call(person, "POST", f"/api/v1/chats/{cid}/book", {"slot_id": slot})
        assert len(await holders_of(slot)) == 1
    async with read_tx(api.client.app[ENGINE]) as conn:
        assert await integrity_violations(conn) == []
