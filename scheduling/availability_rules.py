"""What an employee's availability edit may do, decided from what is stored and `now`.

Pure: `store_availability.py` reads the stored slots, asks these functions, and writes what they
decide. A day's edit is checked whole before anything is written, so a refused edit changes
nothing; the database's triggers still settle what a concurrent change could break (overlaps,
the quota, slots that approved requests still need).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from scheduling.errors import DomainError, ErrorKind
from scheduling.model import DayChoice, EventDay, Profile, Slot, SlotRecord
from scheduling.quota import QuotaError, check_publish
from scheduling.slots import slot_grid

_PROFILE_TEXT_LIMITS = {"background": 1000, "experience_level": 100, "custom_question": 500}


def validate_profile(profile: Profile) -> None:
    """Refuse a profile field that is too long, or a list of languages or topics that is not
    a short list of short words, naming the field."""
    for field, limit in _PROFILE_TEXT_LIMITS.items():
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


@dataclass(frozen=True, slots=True)
class DayPlan:
    """What one day's edit writes: the stored slots to remove, then the new (unpublished) ones."""

    remove: tuple[int, ...]
    add: tuple[Slot, ...]


def plan_day(
    choice: DayChoice, day: EventDay, tz: ZoneInfo, stored: Sequence[SlotRecord], now: datetime
) -> DayPlan:
    """Turn one day's choice into removals and additions, or refuse it.

    The day gets one slot length: slots of another length go, unless published (remove those
    first) or booked (never removed here: cancel or reschedule the chat). New slots must be on
    the day's grid and in the future; "all" means every future slot of the grid. A stored slot
    that is kept, even a past one, stays as it is.
    """
    try:
        grid = slot_grid(day, tz, choice.duration_min)
    except ValueError as exc:
        raise DomainError(ErrorKind.INVALID, str(exc), field="duration_min") from exc
    existing = [s for s in stored if s.day == choice.day]
    length = timedelta(minutes=choice.duration_min)
    if any(s.published and s.ends_at - s.starts_at != length for s in existing):
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
    kept = {s.id for s in existing if s.starts_at in wanted and s.ends_at - s.starts_at == length}
    removed = [s for s in existing if s.id not in kept]
    for s in removed:
        if s.booked:
            raise DomainError(
                ErrorKind.WRONG_STATE,
                f"The slot at {s.starts_at.isoformat()} is booked and cannot be removed; cancel "
                "or reschedule that chat first.",
                field="slots",
            )
    have = {s.starts_at for s in existing if s.id in kept}
    return DayPlan(
        remove=tuple(s.id for s in removed),
        add=tuple(by_start[start] for start in sorted(wanted - have)),
    )


def check_confirm(status: str, slots: Sequence[SlotRecord], quota: int | None) -> int:
    """The quota to count against, once "Confirm Availability" has something to confirm:
    at least one slot chosen, and a quota the organizer set for the employee's company."""
    if status == "none" or not slots:
        raise DomainError(
            ErrorKind.INVALID, "Choose at least one slot before confirming availability."
        )
    if quota is None:
        raise DomainError(
            ErrorKind.QUOTA,
            "Your company has no 1-1 slot quota for this event yet; ask the organizer to set one.",
        )
    return quota


def check_within_quota(quota: int, published_by_company: int, adding: int) -> None:
    """`quota.check_publish` as the API's error: how many slots the company has left."""
    try:
        check_publish(quota, published_by_company, adding)
    except QuotaError as exc:
        raise DomainError(ErrorKind.QUOTA, exc.message, remaining=exc.remaining) from exc
