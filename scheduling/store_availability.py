"""Storage of employees' availability: draft slots, the profile, and "Confirm Availability".

Slots carry a `published` flag: edits after publishing stay pending until the employee confirms
again, so participants never see half-edited availability.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import cast

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.availability_rules import (
    check_confirm,
    check_within_quota,
    plan_day,
    validate_profile,
)
from scheduling.db import sqlite_dbapi
from scheduling.model import DayChoice, Profile, SlotRecord
from scheduling.schema import availabilities, availability_days, chats, slots, users
from scheduling.store_events import EventRecord, published_count
from scheduling.store_integrity import from_integrity_error


def free_slot_filter(
    now: datetime | sa.BindParameter[datetime],
) -> tuple[sa.ColumnElement[bool], ...]:
    """The slots a participant may still pick: published, not started, held by no chat (the
    same rule `chat_rules.check_slot` applies to one slot), as a WHERE clause for many."""
    return (
        slots.c.published,
        slots.c.starts_at > now,
        ~sa.exists().where(chats.c.slot_id == slots.c.id),
    )


@dataclass(frozen=True, slots=True)
class AvailabilityRecord:
    event_id: str
    employee_id: str
    company_id: str
    status: str  # "none" | "draft" | "published"
    profile: Profile
    durations: dict[date, int]
    slots: tuple[SlotRecord, ...]

    @property
    def pending_changes(self) -> int:
        return sum(1 for s in self.slots if not s.published)


def _profile_from_row(row: sa.RowMapping) -> Profile:
    return Profile(
        background=str(row["background"]),
        experience_level=str(row["experience_level"]),
        # orjson: the offers list reads two of these per employee (900 at a fair) per build.
        languages=tuple(orjson.loads(str(row["languages"]))),
        topics=tuple(orjson.loads(str(row["topics"]))),
        custom_question=str(row["custom_question"]),
    )


async def get_availability(
    conn: AsyncConnection, event_id: str, employee_id: str, company_id: str = ""
) -> AvailabilityRecord:
    row = (
        (
            await conn.execute(
                sa.select(availabilities).where(
                    availabilities.c.event_id == event_id,
                    availabilities.c.employee_id == employee_id,
                )
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        return AvailabilityRecord(event_id, employee_id, company_id, "none", Profile(), {}, ())
    day_rows = (
        await conn.execute(
            sa.select(availability_days.c.day, availability_days.c.duration_min).where(
                availability_days.c.event_id == event_id,
                availability_days.c.employee_id == employee_id,
            )
        )
    ).all()
    booked = sa.exists().where(chats.c.slot_id == slots.c.id)
    slot_rows = (
        (
            await conn.execute(
                sa.select(slots, booked.label("booked"))
                .where(slots.c.event_id == event_id, slots.c.employee_id == employee_id)
                .order_by(slots.c.starts_at)
            )
        )
        .mappings()
        .all()
    )
    return AvailabilityRecord(
        event_id=event_id,
        employee_id=employee_id,
        company_id=row["company_id"],
        status=row["status"],
        profile=_profile_from_row(row),
        durations={d.day: d.duration_min for d in day_rows},
        slots=tuple(
            SlotRecord(
                s["id"],
                s["day"],
                s["starts_at"],
                s["ends_at"],
                bool(s["published"]),
                bool(s["booked"]),
            )
            for s in slot_rows
        ),
    )


async def save_draft(
    conn: AsyncConnection,
    event: EventRecord,
    employee_id: str,
    company_id: str,
    choices: Sequence[DayChoice],
    profile: Profile | None,
    now: datetime,
) -> AvailabilityRecord:
    """Apply an edit: per day one duration and a set of slots; booked slots always stay."""
    if profile is not None:
        validate_profile(profile)
    current = await get_availability(conn, event.id, employee_id, company_id)
    await _upsert_row(conn, event.id, employee_id, company_id, current, profile, now)
    try:
        for choice in choices:
            await _apply_day(conn, event, employee_id, company_id, choice, current, now)
    except IntegrityError as exc:
        raise from_integrity_error(exc) from exc
    return await get_availability(conn, event.id, employee_id, company_id)


async def _upsert_row(
    conn: AsyncConnection,
    event_id: str,
    employee_id: str,
    company_id: str,
    current: AvailabilityRecord,
    profile: Profile | None,
    now: datetime,
) -> None:
    values: dict[str, object] = {"updated_at": now, "company_id": company_id}
    if profile is not None:
        values |= {
            "background": profile.background,
            "experience_level": profile.experience_level,
            "languages": json.dumps(list(profile.languages)),
            "topics": json.dumps(list(profile.topics)),
            "custom_question": profile.custom_question,
        }
    if current.status == "none":
        await conn.execute(
            availabilities.insert().values(
                event_id=event_id, employee_id=employee_id, status="draft", **values
            )
        )
    else:
        await conn.execute(
            availabilities.update()
            .where(
                availabilities.c.event_id == event_id, availabilities.c.employee_id == employee_id
            )
            .values(**values)
        )


async def _apply_day(
    conn: AsyncConnection,
    event: EventRecord,
    employee_id: str,
    company_id: str,
    choice: DayChoice,
    current: AvailabilityRecord,
    now: datetime,
) -> None:
    plan = plan_day(choice, event.day(choice.day), event.tz, current.slots, now)
    for slot_id in plan.remove:
        await conn.execute(slots.delete().where(slots.c.id == slot_id))
    if plan.add:
        await conn.execute(
            slots.insert(),
            [
                {
                    "event_id": event.id,
                    "employee_id": employee_id,
                    "company_id": company_id,
                    "day": choice.day,
                    "starts_at": slot.starts_at,
                    "ends_at": slot.ends_at,
                    "published": False,
                }
                for slot in plan.add
            ],
        )
    await conn.execute(
        availability_days.delete().where(
            availability_days.c.event_id == event.id,
            availability_days.c.employee_id == employee_id,
            availability_days.c.day == choice.day,
        )
    )
    await conn.execute(
        availability_days.insert().values(
            event_id=event.id,
            employee_id=employee_id,
            day=choice.day,
            duration_min=choice.duration_min,
        )
    )


async def publish(
    conn: AsyncConnection, event: EventRecord, employee_id: str, company_id: str, now: datetime
) -> AvailabilityRecord:
    """ "Confirm Availability": publish pending slots, never past the company's quota."""
    current = await get_availability(conn, event.id, employee_id, company_id)
    quota = check_confirm(current.status, current.slots, event.quotas.get(company_id))
    used = await published_count(conn, event.id, company_id)
    check_within_quota(quota, used, current.pending_changes)
    try:
        await conn.execute(
            slots.update()
            .where(
                slots.c.event_id == event.id,
                slots.c.employee_id == employee_id,
                sa.not_(slots.c.published),
            )
            .values(published=True)
        )
    except IntegrityError as exc:
        raise from_integrity_error(exc) from exc
    await conn.execute(
        availabilities.update()
        .where(availabilities.c.event_id == event.id, availabilities.c.employee_id == employee_id)
        .values(status="published", published_at=now, updated_at=now)
    )
    return await get_availability(conn, event.id, employee_id, company_id)


@dataclass(frozen=True, slots=True)
class Offer:
    """A published employee as participants see them in the event's 1-1 list."""

    employee_id: str
    name: str
    headline: str
    company_id: str
    profile: Profile
    free_slots: int
    free_days: tuple[date, ...] = ()  # the event's days (its own zone) with a free slot


async def list_offers(conn: AsyncConnection, event_id: str, now: datetime) -> list[Offer]:
    """The published employees, company by company, with their free slots counted per day:
    one grouped count over the event's free slots gives both the total and the days."""
    rows = (
        (
            await conn.execute(
                sa.select(availabilities, users.c.name, users.c.headline)
                .join(users, users.c.id == availabilities.c.employee_id)
                .where(
                    availabilities.c.event_id == event_id, availabilities.c.status == "published"
                )
                .order_by(availabilities.c.company_id, users.c.name)
            )
        )
        .mappings()
        .all()
    )
    by_day = await _free_by_day(conn, event_id, now)
    offers = []
    for r in rows:
        days = by_day.get(r["employee_id"], {})
        offers.append(
            Offer(
                r["employee_id"],
                r["name"],
                r["headline"],
                r["company_id"],
                _profile_from_row(r),
                sum(days.values()),
                tuple(sorted(days)),
            )
        )
    return offers


async def _free_by_day(
    conn: AsyncConnection, event_id: str, now: datetime
) -> dict[str, dict[date, int]]:
    """Each employee's free slots per event day (a slot's `day`, in the event's zone)."""
    rows = await conn.execute(
        sa.select(slots.c.employee_id, slots.c.day, sa.func.count())
        .where(slots.c.event_id == event_id, *free_slot_filter(now))
        .group_by(slots.c.employee_id, slots.c.day)
    )
    found: dict[str, dict[date, int]] = {}
    for employee_id, day, count in rows:
        found.setdefault(employee_id, {})[day] = int(count)
    return found


async def next_free_slot_start(
    conn: AsyncConnection, event_id: str, now: datetime
) -> datetime | None:
    """When the event's earliest free slot starts: the offers' free counts drop then."""
    earliest: datetime | None = (
        await conn.execute(
            sa.select(sa.func.min(slots.c.starts_at)).where(
                slots.c.event_id == event_id, *free_slot_filter(now)
            )
        )
    ).scalar()
    return earliest


# id, day, starts_at, ends_at
FreeSlotRow = tuple[int, date, datetime, datetime]
# Built once: one employee's free slots is a hot read (docs/performance.md, issue #12), and
# building the expression per call cost more than running it. Only the columns the answer
# shows; the rest of a free slot is known (published, not booked).
_FREE_SLOTS = (
    sa.select(slots.c.id, slots.c.day, slots.c.starts_at, slots.c.ends_at)
    .where(
        slots.c.event_id == sa.bindparam("event_id"),
        slots.c.employee_id == sa.bindparam("employee_id"),
        *free_slot_filter(sa.bindparam("now", type_=slots.c.starts_at.type)),
    )
    .order_by(slots.c.starts_at)
)


async def free_slot_rows(
    conn: AsyncConnection, event_id: str, employee_id: str, now: datetime
) -> Sequence[FreeSlotRow]:
    """Published, unbooked slots that have not started, in time order, as rows of
    (id, day, starts_at, ends_at): the hot read of one employee's slots encodes them straight
    away, without a record per slot. Empty for an employee or event without any."""
    raw = sqlite_dbapi(conn)
    if raw is not None:
        return _free_slot_rows_sqlite(raw, event_id, employee_id, now)
    result = await conn.execute(
        _FREE_SLOTS, {"event_id": event_id, "employee_id": employee_id, "now": now}
    )
    return cast(Sequence[FreeSlotRow], result.all())


# The same statement for pysqlite's cursor. SQLAlchemy's execution and row processing took ~180
# of the ~280 µs of this read for 48 slots (docs/performance.md, issue #12); its parameters are
# bound here in the compiled order, and the rows converted as SQLAlchemy stores them on SQLite
# (naive UTC "YYYY-MM-DD HH:MM:SS.ffffff", and "YYYY-MM-DD" for a date).
_FREE_SLOTS_SQLITE = _FREE_SLOTS.compile(dialect=sqlite.dialect())
assert _FREE_SLOTS_SQLITE.positiontup == ["event_id", "employee_id", "now"]


def _free_slot_rows_sqlite(
    raw: sqlite3.Connection, event_id: str, employee_id: str, now: datetime
) -> list[FreeSlotRow]:
    stored_now = now.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    rows = raw.execute(_FREE_SLOTS_SQLITE.string, (event_id, employee_id, stored_now))
    instant, day = _stored_instant, _stored_day
    return [(i, day(d), instant(s), instant(e)) for i, d, s, e in rows]


# Each stored time parsed once: a fair's slots start and end on a few grid instants, so nearly
# every one repeats (parsing was ~2 µs a slot). A pure memo of immutable values, not state.
@lru_cache(maxsize=8192)
def _stored_instant(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@lru_cache(maxsize=1024)
def _stored_day(text: str) -> date:
    return date.fromisoformat(text)


async def free_slots(
    conn: AsyncConnection, event_id: str, employee_id: str, now: datetime
) -> list[SlotRecord]:
    """Published, unbooked slots that have not started: what a participant may pick."""
    rows = await free_slot_rows(conn, event_id, employee_id, now)
    return [SlotRecord(i, day, start, end, True, False) for i, day, start, end in rows]
