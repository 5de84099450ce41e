"""Slot grids: an event day cut into bookable intervals, computed in absolute (UTC) time.

Event days are configured in the event's wall clock, but people in other time zones book them,
so every slot is a real UTC interval of exactly the chosen length, even on a DST-change day.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduling.model import EventDay, Slot


def _local_to_utc(day: EventDay, wall: time, tz: ZoneInfo) -> datetime:
    # fold=0 picks the earlier reading of an ambiguous wall time (DST end) and the pre-change
    # offset for a nonexistent one (DST start), as PEP 495 / zoneinfo define it.
    local = datetime.combine(day.day, wall.replace(tzinfo=None, fold=0), tzinfo=tz)
    return local.astimezone(UTC)


def day_bounds_utc(day: EventDay, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants of the day's local start and end wall-clock times."""
    return _local_to_utc(day, day.start, tz), _local_to_utc(day, day.end, tz)


def slot_grid(day: EventDay, tz: ZoneInfo, duration_min: int) -> list[Slot]:
    """Whole slots of `duration_min` minutes from the day's start, stepping in absolute time.

    Stepping in UTC (not wall clock) keeps every slot exactly `duration_min` long, so a day that
    crosses a DST change has fewer or more slots than its wall-clock span suggests. A trailing
    partial slot is dropped; a day whose end instant is not after its start yields no slots.
    """
    if duration_min not in day.durations:
        allowed = ", ".join(str(d) for d in sorted(day.durations)) or "none"
        raise ValueError(
            f"Chats of {duration_min} minutes are not offered on {day.day.isoformat()}; "
            f"the allowed lengths are: {allowed} minutes."
        )
    if duration_min <= 0:
        raise ValueError(f"A chat must last at least one minute, not {duration_min}.")
    start, end = day_bounds_utc(day, tz)
    step = timedelta(minutes=duration_min)
    slots: list[Slot] = []
    cursor = start
    while cursor + step <= end:
        slots.append(Slot(starts_at=cursor, ends_at=cursor + step))
        cursor += step
    return slots
