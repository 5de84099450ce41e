"""The demo behind `make run`: seeded once, then refreshed on every start without losing changes.

A demo that breaks on the second morning, or forgets what a person clicked yesterday, is worse
than none: these tests seed a fresh file, change something through the store, and refresh days
later, checking the times moved, the change stayed and the integrity rules still hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduling.db import make_engine, migrate, read_tx, write_tx
from scheduling.join_window import join_window
from scheduling.model import ChatState, Side
from scheduling.schema import availabilities, chats, companies, slots, users
from scheduling.states import Action
from scheduling.store_chats import Actor, act, get_chat
from scheduling.store_events import require_event
from tests.support.integrity import integrity_violations
from web.demo import DEMO_EVENT_ID, DEMO_TZ, LIVE_CHAT_ID, seed_or_refresh

pytestmark = pytest.mark.both_backends

# Odd seconds on purpose: the live slot is cut to whole minutes.
NOW = datetime(2026, 11, 30, 10, 17, 42, tzinfo=UTC)
BERLIN = ZoneInfo(DEMO_TZ)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    await migrate(engine)
    yield engine
    await engine.dispose()


async def snapshot(engine: AsyncEngine, now: datetime) -> dict[str, object]:
    """What a person would notice of the demo, read back from the database."""
    async with read_tx(engine) as conn:
        event = await require_event(conn, DEMO_EVENT_ID)
        live = await get_chat(conn, LIVE_CHAT_ID)
        assert live is not None
        states = Counter((await conn.execute(sa.select(chats.c.state))).scalars().all())
        published = dict(
            (
                await conn.execute(
                    sa.select(slots.c.employee_id, sa.func.count())
                    .where(slots.c.published)
                    .group_by(slots.c.employee_id)
                )
            ).all()
        )
        violations = await integrity_violations(conn)
        window = join_window(live.view, event.join_policy, now)
        return {
            "days": [d.day for d in event.days],
            "states": states,
            "published": published,
            "live": live,
            "live_open": window.is_open,
            "violations": violations,
        }


async def chat_between(engine: AsyncEngine, employee: str, participant: str) -> str:
    async with read_tx(engine) as conn:
        return (
            await conn.execute(
                sa.select(chats.c.id).where(
                    chats.c.employee_id == employee, chats.c.participant_id == participant
                )
            )
        ).scalar_one()


async def test_a_fresh_file_gets_the_whole_demo(engine: AsyncEngine) -> None:
    """Two companies, published employees, participants, and a chat in every state."""
    assert await seed_or_refresh(engine, NOW) == "seeded"
    seen = await snapshot(engine, NOW)
    async with read_tx(engine) as conn:
        names = dict((await conn.execute(sa.select(companies.c.id, companies.c.name))).all())
        roles = Counter((await conn.execute(sa.select(users.c.role))).scalars().all())
        status = dict(
            (
                await conn.execute(sa.select(availabilities.c.employee_id, availabilities.c.status))
            ).all()
        )
    assert names == {"acme": "Acme Robotics", "globex": "Globex Energy"}
    assert roles == {"organizer": 1, "employee": 4, "participant": 4}
    assert status == dict.fromkeys(("ada", "alan", "grace", "linus"), "published")
    # Six morning slots each, plus the live chat's own slot for Ada.
    assert seen["published"] == {"ada": 7, "alan": 6, "grace": 6, "linus": 6}
    states = seen["states"]
    assert isinstance(states, Counter)
    for state in ("requested", "approved", "confirmed", "declined", "withdrawn", "cancelled"):
        assert states[state] >= 1, states
    today = NOW.astimezone(BERLIN).date()
    assert seen["days"] == [today, today + timedelta(days=1)]
    live = seen["live"]
    assert live.state == ChatState.CONFIRMED  # type: ignore[attr-defined]
    assert live.starts_at == datetime(2026, 11, 30, 10, 16, tzinfo=UTC)  # type: ignore[attr-defined]
    assert seen["live_open"] is True
    assert seen["violations"] == []


async def test_a_later_start_keeps_changes_and_moves_the_days(engine: AsyncEngine) -> None:
    """Two days later at the same wall time: days shift, Priya's approval stays, Join is open."""
    await seed_or_refresh(engine, NOW)
    priya = await chat_between(engine, "ada", "priya")
    async with write_tx(engine) as conn:
        chat = await get_chat(conn, priya)
        assert chat is not None and chat.state == ChatState.REQUESTED
        await act(conn, chat, Action.APPROVE, Actor("ada", Side.EMPLOYEE), NOW)
    sam_grace = await chat_between(engine, "grace", "sam")
    async with read_tx(engine) as conn:
        before = await get_chat(conn, sam_grace)
    assert before is not None and before.starts_at is not None

    later = NOW + timedelta(days=2)
    assert await seed_or_refresh(engine, later) == "refreshed"
    seen = await snapshot(engine, later)
    async with read_tx(engine) as conn:
        kept = await get_chat(conn, priya)
        moved = await get_chat(conn, sam_grace)
    assert kept is not None and kept.state == ChatState.APPROVED
    new_today = later.astimezone(BERLIN).date()
    assert new_today == date(2026, 12, 2)
    assert seen["days"] == [new_today, new_today + timedelta(days=1)]
    # Booked chats move with their days and keep their slot.
    assert moved is not None and moved.state == ChatState.CONFIRMED
    assert moved.starts_at == before.starts_at + timedelta(days=2)
    assert moved.slot_id == before.slot_id
    assert seen["live_open"] is True
    # The live chat got a fresh slot and the old one is gone, not left published on Ada's list.
    assert seen["published"] == {"ada": 7, "alan": 6, "grace": 6, "linus": 6}
    assert seen["violations"] == []


async def test_restarts_on_the_same_day_and_day_after_day(engine: AsyncEngine) -> None:
    """Many starts in a row never leak slots, shift twice, or break a rule."""
    await seed_or_refresh(engine, NOW)
    for later in (
        NOW + timedelta(minutes=45),  # same day: nothing shifts, only the live chat moves
        NOW + timedelta(days=1),
        NOW + timedelta(days=1, minutes=5),
        NOW + timedelta(days=3, hours=-1),
        NOW + timedelta(days=9),
    ):
        assert await seed_or_refresh(engine, later) == "refreshed"
        seen = await snapshot(engine, later)
        today = later.astimezone(BERLIN).date()
        assert seen["days"] == [today, today + timedelta(days=1)], later
        assert seen["live_open"] is True, later
        assert seen["published"] == {"ada": 7, "alan": 6, "grace": 6, "linus": 6}, later
        assert seen["violations"] == [], later
