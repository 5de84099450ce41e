"""Storage of events, companies, quotas and people (the organizer's side)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.db import insert_or
from scheduling.errors import DomainError, ErrorKind
from scheduling.event_rules import check_days_keep_slots, check_quota_covers, validate_event
from scheduling.model import EventDay, JoinPolicy, MediaMode, Role
from scheduling.schema import companies, event_companies, event_days, events, slots, users


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: str
    name: str
    timezone: str
    days: tuple[EventDay, ...]
    quotas: dict[str, int]
    employee_requests_allowed: bool
    join_policy: JoinPolicy
    support_url: str
    media_mode: MediaMode
    min_gap_min: int = 0  # minutes between one participant's chats (scheduling/booking_gap.py)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def day(self, day: date) -> EventDay:
        for d in self.days:
            if d.day == day:
                return d
        raise DomainError(ErrorKind.INVALID, f"{day.isoformat()} is not a day of this event.")


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: str
    name: str
    role: Role
    company_id: str | None
    headline: str = ""
    # From the token's `email` claim; "" when the host platform sends none (no mail then).
    email: str = ""


async def ensure_user(conn: AsyncConnection, user: UserRecord) -> None:
    """Record a person the host platform vouched for (JWT), so foreign keys and names resolve.

    Two first requests of one person may race (PostgreSQL runs them side by side): the insert
    yields to the other's, and a row is written only when something changed, so a person's
    requests do not queue on their own row."""
    if user.company_id is not None:
        await ensure_company(conn, user.company_id, user.company_id)
    values = {"name": user.name, "role": user.role.value, "company_id": user.company_id}
    if user.email:  # a token without the claim keeps the address a former one gave
        values["email"] = user.email
    row = (
        await conn.execute(sa.select(*(users.c[k] for k in values)).where(users.c.id == user.id))
    ).first()
    if row is None:
        insert = insert_or(conn, users).values(id=user.id, headline=user.headline, **values)
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=[users.c.id],
                set_={k: insert.excluded[k] for k in values},
            )
        )
    elif tuple(row) != tuple(values.values()):
        await conn.execute(users.update().where(users.c.id == user.id).values(**values))


async def ensure_company(conn: AsyncConnection, company_id: str, name: str) -> None:
    exists = (
        await conn.execute(sa.select(companies.c.id).where(companies.c.id == company_id))
    ).first()
    if exists is None:
        await conn.execute(
            insert_or(conn, companies)
            .values(id=company_id, name=name)
            .on_conflict_do_nothing(index_elements=[companies.c.id])
        )


async def get_user(conn: AsyncConnection, user_id: str) -> UserRecord | None:
    row = (await conn.execute(sa.select(users).where(users.c.id == user_id))).mappings().first()
    if row is None:
        return None
    return UserRecord(
        row["id"], row["name"], Role(row["role"]), row["company_id"], row["headline"], row["email"]
    )


async def list_users(conn: AsyncConnection, role: Role | None = None) -> list[UserRecord]:
    q = sa.select(users).order_by(users.c.role, users.c.company_id, users.c.name)
    if role is not None:
        q = q.where(users.c.role == role.value)
    rows = (await conn.execute(q)).mappings().all()
    return [
        UserRecord(r["id"], r["name"], Role(r["role"]), r["company_id"], r["headline"], r["email"])
        for r in rows
    ]


async def company_names(conn: AsyncConnection) -> dict[str, str]:
    rows = (await conn.execute(sa.select(companies.c.id, companies.c.name))).all()
    return {r.id: r.name for r in rows}


async def save_event(
    conn: AsyncConnection,
    *,
    event_id: str,
    name: str,
    timezone: str,
    days: list[EventDay],
    quotas: dict[str, int],
    employee_requests_allowed: bool,
    join_policy: JoinPolicy,
    support_url: str,
    media_mode: MediaMode,
    created_by: str,
    now: datetime,
    min_gap_min: int = 0,
) -> EventRecord:
    """Create or replace an event's settings; days with published slots must stay."""
    validate_event(name, timezone, days, join_policy, media_mode, quotas)
    values = {
        "name": name.strip(),
        "timezone": timezone,
        "employee_requests_allowed": employee_requests_allowed,
        "join_opens_before_s": join_policy.opens_before_s,
        "join_grace_after_s": join_policy.grace_after_s,
        "support_url": support_url,
        "media_mode": media_mode,
        "min_gap_min": min_gap_min,
    }
    existing = (await conn.execute(sa.select(events.c.id).where(events.c.id == event_id))).first()
    if existing is None:
        await conn.execute(
            events.insert().values(id=event_id, created_by=created_by, created_at=now, **values)
        )
    else:
        await _check_days_keep_slots(conn, event_id, {d.day for d in days})
        await conn.execute(events.update().where(events.c.id == event_id).values(**values))
        await conn.execute(event_days.delete().where(event_days.c.event_id == event_id))
    await conn.execute(
        event_days.insert(),
        [
            {
                "event_id": event_id,
                "day": d.day,
                "start_time": d.start,
                "end_time": d.end,
                "durations": ",".join(str(m) for m in sorted(d.durations)),
            }
            for d in days
        ],
    )
    for company_id, quota in quotas.items():
        await set_quota(conn, event_id, company_id, quota)
    record = await get_event(conn, event_id)
    assert record is not None
    return record


async def _check_days_keep_slots(conn: AsyncConnection, event_id: str, days: set[date]) -> None:
    rows = (
        await conn.execute(
            sa.select(slots.c.day, sa.func.count())
            .where(slots.c.event_id == event_id, slots.c.published)
            .group_by(slots.c.day)
            .order_by(slots.c.day)
        )
    ).all()
    check_days_keep_slots([(day, int(count)) for day, count in rows], days)


async def set_quota(conn: AsyncConnection, event_id: str, company_id: str, quota: int) -> None:
    """Set a company's 1-1 slot quota; never below what the company already published."""
    await ensure_company(conn, company_id, company_id)
    check_quota_covers(company_id, quota, await published_count(conn, event_id, company_id))
    insert = insert_or(conn, event_companies).values(
        event_id=event_id, company_id=company_id, slot_quota=quota
    )
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[event_companies.c.event_id, event_companies.c.company_id],
            set_={"slot_quota": insert.excluded.slot_quota},
        )
    )


async def published_count(conn: AsyncConnection, event_id: str, company_id: str) -> int:
    q = sa.select(sa.func.count()).where(
        slots.c.event_id == event_id, slots.c.company_id == company_id, slots.c.published
    )
    return int((await conn.execute(q)).scalar_one())


async def get_event(conn: AsyncConnection, event_id: str) -> EventRecord | None:
    row = (await conn.execute(sa.select(events).where(events.c.id == event_id))).mappings().first()
    if row is None:
        return None
    day_rows = (
        (
            await conn.execute(
                sa.select(event_days)
                .where(event_days.c.event_id == event_id)
                .order_by(event_days.c.day)
            )
        )
        .mappings()
        .all()
    )
    quota_rows = (
        (
            await conn.execute(
                sa.select(event_companies).where(event_companies.c.event_id == event_id)
            )
        )
        .mappings()
        .all()
    )
    return EventRecord(
        id=row["id"],
        name=row["name"],
        timezone=row["timezone"],
        days=tuple(
            EventDay(
                d["day"],
                d["start_time"],
                d["end_time"],
                tuple(int(x) for x in d["durations"].split(",")),
            )
            for d in day_rows
        ),
        quotas={q["company_id"]: q["slot_quota"] for q in quota_rows},
        employee_requests_allowed=bool(row["employee_requests_allowed"]),
        join_policy=JoinPolicy(row["join_opens_before_s"], row["join_grace_after_s"]),
        support_url=row["support_url"],
        media_mode=row["media_mode"],
        min_gap_min=row["min_gap_min"],
    )


@dataclass(frozen=True, slots=True)
class JoinTerms:
    """What the join grant needs of its chat's event, without its days and quotas."""

    join_policy: JoinPolicy
    media_mode: MediaMode
    support_url: str


# Built once: the join grant and one employee's slots read it per request, and building the
# expression each time cost more than running it (docs/performance.md, issue #12).
_JOIN_TERMS = sa.select(
    events.c.join_opens_before_s,
    events.c.join_grace_after_s,
    events.c.media_mode,
    events.c.support_url,
).where(events.c.id == sa.bindparam("event_id"))


async def join_terms(conn: AsyncConnection, event_id: str) -> JoinTerms:
    """The event's join policy, media mode and support link: one row, for the join grant (a
    hot path at :00, where `require_event`'s day and quota rows are dead weight)."""
    row = (await conn.execute(_JOIN_TERMS, {"event_id": event_id})).first()
    if row is None:
        raise DomainError(ErrorKind.NOT_FOUND, "There is no such event.")
    return JoinTerms(JoinPolicy(row[0], row[1]), row[2], row[3])


async def require_event(conn: AsyncConnection, event_id: str) -> EventRecord:
    record = await get_event(conn, event_id)
    if record is None:
        raise DomainError(ErrorKind.NOT_FOUND, "There is no such event.")
    return record


async def list_events(conn: AsyncConnection) -> list[EventRecord]:
    ids = (await conn.execute(sa.select(events.c.id).order_by(events.c.created_at))).scalars().all()
    found = [await get_event(conn, i) for i in ids]
    return [e for e in found if e is not None]
