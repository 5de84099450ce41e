"""Storage of employees' availability: draft slots, the profile, and "Confirm Availability".

Slots carry a `published` flag: edits after publishing stay pending until the employee confirms
again, so participants never see half-edited availability.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.errors import DomainError, ErrorKind, from_integrity_error
from scheduling.model import Profile
from scheduling.quota import QuotaError, check_publish
from scheduling.schema import availabilities, availability_days, chats, slots, users
from scheduling.slots import slot_grid
from scheduling.store_events import EventRecord, published_count


@dataclass(frozen=True, slots=True)
class SlotRecord:
    id: int
    day: date
    starts_at: datetime
    ends_at: datetime
    published: bool
    booked: bool


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


@dataclass(frozen=True, slots=True)
class DayChoice:
    """One day of an availability edit: the chosen duration and the slots (or "all")."""

    day: date
    duration_min: int
    starts: Sequence[datetime] | Literal["all"]


def _profile_from_row(row: Mapping[str, object]) -> Profile:
    return Profile(
        background=str(row["background"]),
        experience_level=str(row["experience_level"]),
        languages=tuple(json.loads(str(row["languages"]))),
        topics=tuple(json.loads(str(row["topics"]))),
        custom_question=str(row["custom_question"]),
    )


def validate_profile(profile: Profile) -> None:
    limits = {"background": 1000, "experience_level": 100, "custom_question": 500}
    for field, limit in limits.items():
        if len(getattr(profile, field)) > limit:
            raise DomainError(
                ErrorKind.INVALID,
                f"{field.replace('_', ' ').capitalize()} is limited to {limit} characters.",
                field=field,
            )
    for field in ("languages", "topics"):
        items = getattr(profile, field)
        if len(items) > 20 or any(
            not isinstance(i, str) or not i.strip() or len(i) > 60 for i in items
        ):
            raise DomainError(
                ErrorKind.INVALID,
                f"{field.capitalize()} take up to 20 short words or phrases.",
                field=field,
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
    event_day = event.day(choice.day)
    try:
        grid = slot_grid(event_day, event.tz, choice.duration_min)
    except ValueError as exc:
        raise DomainError(ErrorKind.INVALID, str(exc), field="duration_min") from exc
    existing = [s for s in current.slots if s.day == choice.day]
    length = choice.duration_min * 60
    if any(s.published and (s.ends_at - s.starts_at).total_seconds() != length for s in existing):
        raise DomainError(
            ErrorKind.WRONG_STATE,
            f"You already published slots of another length on {choice.day}; remove them before "
            "changing the duration (booked ones stay).",
            field="duration_min",
        )
    by_start = {s.starts_at: s for s in grid}
    if choice.starts == "all":
        wanted = {s.starts_at for s in grid if s.starts_at > now}
    else:
        wanted = set()
        for start in choice.starts:
            if start not in by_start:
                raise DomainError(
                    ErrorKind.INVALID,
                    f"{start.isoformat()} is not a {choice.duration_min}-minute slot of {choice.day}.",
                    field="slots",
                )
            if start <= now and not any(s.starts_at == start for s in existing):
                raise DomainError(
                    ErrorKind.INVALID, "A slot in the past cannot be offered.", field="slots"
                )
            wanted.add(start)
    for s in existing:
        same_length = (s.ends_at - s.starts_at).total_seconds() == length
        if s.starts_at in wanted and same_length:
            continue
        if s.booked:
            raise DomainError(
                ErrorKind.WRONG_STATE,
                f"The slot at {s.starts_at.isoformat()} is booked and cannot be removed; cancel "
                "or reschedule that chat first.",
                field="slots",
            )
        await conn.execute(slots.delete().where(slots.c.id == s.id))
    have = {s.starts_at for s in existing if (s.ends_at - s.starts_at).total_seconds() == length}
    new_rows = [
        {
            "event_id": event.id,
            "employee_id": employee_id,
            "company_id": company_id,
            "day": choice.day,
            "starts_at": start,
            "ends_at": by_start[start].ends_at,
            "published": False,
        }
        for start in sorted(wanted - have)
    ]
    if new_rows:
        await conn.execute(slots.insert(), new_rows)
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
    if current.status == "none":
        raise DomainError(
            ErrorKind.INVALID, "Choose at least one slot before confirming availability."
        )
    pending = [s for s in current.slots if not s.published]
    published_slots = [s for s in current.slots if s.published]
    if not pending and not published_slots:
        raise DomainError(
            ErrorKind.INVALID, "Choose at least one slot before confirming availability."
        )
    quota = event.quotas.get(company_id)
    if quota is None:
        raise DomainError(
            ErrorKind.QUOTA,
            "Your company has no 1-1 slot quota for this event yet; ask the organizer to set one.",
        )
    used = await published_count(conn, event.id, company_id)
    try:
        check_publish(quota, used, len(pending))
    except QuotaError as exc:
        raise DomainError(ErrorKind.QUOTA, exc.message, remaining=exc.remaining) from exc
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


async def list_offers(conn: AsyncConnection, event_id: str, now: datetime) -> list[Offer]:
    free = (
        sa.select(sa.func.count())
        .where(
            slots.c.event_id == event_id,
            slots.c.employee_id == availabilities.c.employee_id,
            slots.c.published,
            slots.c.starts_at > now,
            ~sa.exists().where(chats.c.slot_id == slots.c.id),
        )
        .scalar_subquery()
    )
    rows = (
        (
            await conn.execute(
                sa.select(availabilities, users.c.name, users.c.headline, free.label("free"))
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
    return [
        Offer(
            r["employee_id"],
            r["name"],
            r["headline"],
            r["company_id"],
            _profile_from_row(r),
            int(r["free"]),
        )
        for r in rows
    ]


async def free_slots(
    conn: AsyncConnection, event_id: str, employee_id: str, now: datetime
) -> list[SlotRecord]:
    """Published, unbooked slots that have not started: what a participant may pick."""
    rows = (
        (
            await conn.execute(
                sa.select(slots)
                .where(
                    slots.c.event_id == event_id,
                    slots.c.employee_id == employee_id,
                    slots.c.published,
                    slots.c.starts_at > now,
                    ~sa.exists().where(chats.c.slot_id == slots.c.id),
                )
                .order_by(slots.c.starts_at)
            )
        )
        .mappings()
        .all()
    )
    return [SlotRecord(r["id"], r["day"], r["starts_at"], r["ends_at"], True, False) for r in rows]
