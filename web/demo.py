"""The demo event behind `make run`: real rows, made through the same store functions as the API.

Seeding happens once; every later start keeps what people did and only refreshes the times: the
event's days move to today and tomorrow, and the "live" chat moves so its Join button is open
now. So a person can sign in as Ada and as Sam in two windows and be in a call within a minute.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduling.db import write_tx
from scheduling.model import ChatState, DayChoice, EventDay, JoinPolicy, Profile, Role, Side
from scheduling.schema import chat_history, chats, event_days, slots
from scheduling.states import Action
from scheduling.store_availability import publish, save_draft
from scheduling.store_chats import Actor, act, create_request
from scheduling.store_events import UserRecord, ensure_company, ensure_user, get_event, save_event

DEMO_EVENT_ID = "demo"
DEMO_TZ = "Europe/Berlin"
LIVE_CHAT_ID = uuid.uuid5(uuid.NAMESPACE_URL, "duet-demo-live").hex
LIVE_MINUTES = 30

COMPANIES = {"acme": "Acme Robotics", "globex": "Globex Energy"}
PEOPLE = [
    UserRecord(
        "olivia",
        "Olivia Organizer",
        Role.ORGANIZER,
        None,
        "Career fair organizer",
        "olivia@duet-demo.example",
    ),
    UserRecord(
        "ada", "Ada Lovelace", Role.EMPLOYEE, "acme", "Engineering Manager", "ada@duet-demo.example"
    ),
    UserRecord(
        "alan", "Alan Turing", Role.EMPLOYEE, "acme", "Research Scientist", "alan@duet-demo.example"
    ),
    UserRecord(
        "grace",
        "Grace Hopper",
        Role.EMPLOYEE,
        "globex",
        "Principal Engineer",
        "grace@duet-demo.example",
    ),
    UserRecord(
        "linus", "Linus Berg", Role.EMPLOYEE, "globex", "Recruiter", "linus@duet-demo.example"
    ),
    UserRecord(
        "sam",
        "Sam Student",
        Role.PARTICIPANT,
        None,
        "CS student, graduating 2027",
        "sam@duet-demo.example",
    ),
    UserRecord(
        "priya",
        "Priya Patel",
        Role.PARTICIPANT,
        None,
        "Data science MSc",
        "priya@duet-demo.example",
    ),
    UserRecord(
        "jonas",
        "Jonas Weber",
        Role.PARTICIPANT,
        None,
        "Electrical engineering",
        "jonas@duet-demo.example",
    ),
    UserRecord(
        "mei", "Mei Chen", Role.PARTICIPANT, None, "Product design", "mei@duet-demo.example"
    ),
]
PROFILES = {
    "ada": Profile(
        "Backend and platform teams",
        "Senior",
        ("English", "German"),
        ("Careers in robotics", "Interview tips"),
        "What role are you looking for?",
    ),
    "alan": Profile(
        "Machine learning research",
        "Principal",
        ("English",),
        ("Research careers", "PhD or industry?"),
        "",
    ),
    "grace": Profile(
        "Compilers and developer tools",
        "Staff",
        ("English", "Spanish"),
        ("Energy software", "Mentoring"),
        "Which project are you proudest of?",
    ),
    "linus": Profile(
        "Talent acquisition",
        "Mid-level",
        ("English", "Swedish"),
        ("Applications", "Internships"),
        "",
    ),
}


def _days(today: date) -> list[EventDay]:
    return [
        EventDay(today + timedelta(days=i), time(8, 0), time(20, 0), (10, 15, 20, 30))
        for i in (0, 1)
    ]


async def seed_or_refresh(engine: AsyncEngine, now: datetime) -> str:
    """Create the demo once; on later runs keep its data and bring its times up to `now`."""
    async with write_tx(engine) as conn:
        if await get_event(conn, DEMO_EVENT_ID) is None:
            await _seed(conn, now)
            result = "seeded"
        else:
            for person in PEOPLE:  # a demo seeded before a field was added gets it now
                await ensure_user(conn, person)
            await _shift_days(conn, now)
            result = "refreshed"
        await _place_live_chat(conn, now)
    return result


async def _seed(conn: AsyncConnection, now: datetime) -> None:
    for cid, name in COMPANIES.items():
        await ensure_company(conn, cid, name)
    for person in PEOPLE:
        await ensure_user(conn, person)
    today = now.astimezone(ZoneInfo(DEMO_TZ)).date()
    event = await save_event(
        conn,
        event_id=DEMO_EVENT_ID,
        name="Duet Demo Career Fair",
        timezone=DEMO_TZ,
        days=_days(today),
        quotas={"acme": 24, "globex": 16},
        employee_requests_allowed=True,
        join_policy=JoinPolicy(),
        support_url="https://duet.example/support",
        media_mode="p2p",
        created_by="olivia",
        now=now,
    )
    tomorrow = today + timedelta(days=1)
    # Tomorrow's morning grid: Ada 30 min, Alan 20, Grace 15, Linus 10; six slots each.
    for employee, minutes in (("ada", 30), ("alan", 20), ("grace", 15), ("linus", 10)):
        start = datetime.combine(tomorrow, time(9, 0), ZoneInfo(DEMO_TZ))
        starts = [(start + timedelta(minutes=minutes * i)).astimezone(UTC) for i in range(6)]
        company = next(p.company_id for p in PEOPLE if p.id == employee)
        assert company is not None
        await save_draft(
            conn,
            event,
            employee,
            company,
            [DayChoice(tomorrow, minutes, starts)],
            PROFILES[employee],
            now,
        )
        await publish(conn, event, employee, company, now)

    def who(uid: str) -> Actor:
        return Actor(uid, Side.EMPLOYEE if uid in PROFILES else Side.PARTICIPANT)

    async def request(
        employee: str, participant: str, answer: str, by: Side = Side.PARTICIPANT
    ) -> str:
        chat = await create_request(
            conn,
            event,
            employee_id=employee,
            participant_id=participant,
            initiator=by,
            message="",
            answer=answer,
            now=now,
        )
        return chat.id

    async def free_slot(employee: str, nth: int) -> int:
        rows = (
            (
                await conn.execute(
                    sa.select(slots.c.id)
                    .where(
                        slots.c.employee_id == employee,
                        slots.c.published,
                        ~sa.exists().where(chats.c.slot_id == slots.c.id),
                    )
                    .order_by(slots.c.starts_at)
                )
            )
            .scalars()
            .all()
        )
        return int(rows[nth])

    async def step(chat_id: str, action: Action, uid: str, **kw: object) -> None:
        from scheduling.store_chats import get_chat

        chat = await get_chat(conn, chat_id)
        assert chat is not None
        await act(conn, chat, action, who(uid), now, **kw)  # type: ignore[arg-type]

    # Requested (waiting for Ada), In Scheduling, Confirmed tomorrow, Declined, Withdrawn, Cancelled.
    await request("ada", "priya", "Platform engineering roles")
    c = await request("ada", "jonas", "Embedded robotics")
    await step(c, Action.APPROVE, "ada")
    c = await request("grace", "sam", "Compiler internships")
    await step(c, Action.APPROVE, "grace")
    await step(c, Action.BOOK, "sam", slot_id=await free_slot("grace", 2))
    c = await request("alan", "mei", "Design research")
    await step(
        c,
        Action.DECLINE,
        "alan",
        text="My colleague Linus knows design roles best; visit the Globex booth!",
    )
    c = await request("linus", "jonas", "Internships")
    await step(c, Action.WITHDRAW, "jonas")
    c = await request("alan", "priya", "ML in industry")
    await step(c, Action.APPROVE, "alan")
    await step(c, Action.BOOK, "priya", slot_id=await free_slot("alan", 1))
    await step(
        c, Action.CANCEL, "alan", text="A meeting moved onto this time; please pick another slot."
    )
    # An invitation from an employee, waiting for the participant.
    await request("linus", "mei", "", by=Side.EMPLOYEE)
    # The live chat, Ada and Sam: created confirmed on a slot of its own that `_place_live_chat` moves.
    await _insert_live_chat(conn, now)


async def _insert_live_chat(conn: AsyncConnection, now: datetime) -> None:
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    slot_id = await _insert_slot(conn, "ada", "acme", start)
    await conn.execute(
        chats.insert().values(
            id=LIVE_CHAT_ID,
            event_id=DEMO_EVENT_ID,
            company_id="acme",
            employee_id="ada",
            participant_id="sam",
            initiator=Side.PARTICIPANT.value,
            state=ChatState.CONFIRMED.value,
            slot_id=slot_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=LIVE_MINUTES),
            answer="Robotics careers, and how to prepare for interviews",
            created_at=now,
            updated_at=now,
        )
    )
    for action, old, new in (
        ("request", None, "requested"),
        ("approve", "requested", "approved"),
        ("book", "approved", "confirmed"),
    ):
        await conn.execute(
            chat_history.insert().values(
                chat_id=LIVE_CHAT_ID,
                at=now,
                actor_id="ada" if action == "approve" else "sam",
                actor_side="employee" if action == "approve" else "participant",
                action=action,
                from_state=old,
                to_state=new,
                reason="demo seed",
            )
        )


async def _insert_slot(conn: AsyncConnection, employee: str, company: str, start: datetime) -> int:
    result = await conn.execute(
        slots.insert().values(
            event_id=DEMO_EVENT_ID,
            employee_id=employee,
            company_id=company,
            day=start.astimezone(ZoneInfo(DEMO_TZ)).date(),
            starts_at=start,
            ends_at=start + timedelta(minutes=LIVE_MINUTES),
            published=True,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


async def _place_live_chat(conn: AsyncConnection, now: datetime) -> None:
    """Move the live chat to a fresh slot starting a minute ago, so Join is open right now."""
    row = (
        (await conn.execute(sa.select(chats).where(chats.c.id == LIVE_CHAT_ID))).mappings().first()
    )
    if row is None:
        return
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    old_slot = row["slot_id"]
    await conn.execute(chats.update().where(chats.c.id == LIVE_CHAT_ID).values(slot_id=None))
    if old_slot is not None:
        await conn.execute(slots.delete().where(slots.c.id == old_slot))
    slot_id = await _insert_slot(conn, "ada", "acme", start)
    await conn.execute(
        chats.update()
        .where(chats.c.id == LIVE_CHAT_ID)
        .values(
            state=ChatState.CONFIRMED.value,
            slot_id=slot_id,
            starts_at=start,
            ends_at=start + timedelta(minutes=LIVE_MINUTES),
            updated_at=now,
            no_show_side="",
        )
    )


async def _shift_days(conn: AsyncConnection, now: datetime) -> None:
    """Move the demo's days, slots and chats forward by whole days so 'today' stays today."""
    first = (
        await conn.execute(
            sa.select(sa.func.min(event_days.c.day)).where(event_days.c.event_id == DEMO_EVENT_ID)
        )
    ).scalar()
    today = now.astimezone(ZoneInfo(DEMO_TZ)).date()
    if first is None or first >= today:
        return
    delta = timedelta(days=(today - first).days)
    held = (
        await conn.execute(
            sa.select(chats.c.id, chats.c.slot_id).where(
                chats.c.event_id == DEMO_EVENT_ID,
                chats.c.slot_id.is_not(None),
                chats.c.id != LIVE_CHAT_ID,
            )
        )
    ).all()
    # Release slots first so the overlap triggers compare shifted rows only with shifted rows.
    # The live chat keeps its slot: `_place_live_chat` frees and deletes that slot by its id, and
    # an orphaned one would stay published (eating the quota) and block the new live slot.
    await conn.execute(
        chats.update()
        .where(chats.c.event_id == DEMO_EVENT_ID, chats.c.id != LIVE_CHAT_ID)
        .values(slot_id=None)
    )
    for table, cols in ((slots, ("starts_at", "ends_at")), (chats, ("starts_at", "ends_at"))):
        rows = (
            await conn.execute(
                sa.select(table.c.id, *(table.c[c] for c in cols)).where(
                    table.c.event_id == DEMO_EVENT_ID
                )
            )
        ).all()
        for r in rows:
            values = {c: getattr(r, c) + delta for c in cols if getattr(r, c) is not None}
            if table is slots:
                values["day"] = (r.starts_at + delta).astimezone(ZoneInfo(DEMO_TZ)).date()
            if values:
                await conn.execute(table.update().where(table.c.id == r.id).values(**values))
    days = (
        (
            await conn.execute(
                sa.select(event_days.c.day)
                .where(event_days.c.event_id == DEMO_EVENT_ID)
                .order_by(event_days.c.day.desc())
            )
        )
        .scalars()
        .all()
    )
    for d in days:
        await conn.execute(
            event_days.update()
            .where(event_days.c.event_id == DEMO_EVENT_ID, event_days.c.day == d)
            .values(day=d + delta)
        )
    for chat_id, slot_id in held:
        await conn.execute(chats.update().where(chats.c.id == chat_id).values(slot_id=slot_id))
