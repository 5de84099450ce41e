"""Slot grids: real-length UTC slots on normal and DST-change days."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.model import EventDay
from scheduling.slots import day_bounds_utc, slot_grid

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
DURATIONS = (10, 15, 20, 30)


def _day(d: date, start: time, end: time, durations: tuple[int, ...] = DURATIONS) -> EventDay:
    return EventDay(day=d, start=start, end=end, durations=durations)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# (zone, day, start, end, duration, count, first start, last end) -- first/last in UTC.
# fmt: off
GRID_CASES = [
    # Berlin spring forward 02:00 CET -> 03:00 CEST: the 4 wall-clock hours last 3 real hours.
    (BERLIN, date(2026, 3, 29), time(0), time(4), 10, 18, _utc(2026, 3, 28, 23), _utc(2026, 3, 29, 2)),
    (BERLIN, date(2026, 3, 29), time(0), time(4), 15, 12, _utc(2026, 3, 28, 23), _utc(2026, 3, 29, 2)),
    (BERLIN, date(2026, 3, 29), time(0), time(4), 20, 9, _utc(2026, 3, 28, 23), _utc(2026, 3, 29, 2)),
    (BERLIN, date(2026, 3, 29), time(0), time(4), 30, 6, _utc(2026, 3, 28, 23), _utc(2026, 3, 29, 2)),
    # Berlin fall back 03:00 CEST -> 02:00 CET: 4 wall-clock hours last 5 real hours.
    (BERLIN, date(2026, 10, 25), time(0), time(4), 10, 30, _utc(2026, 10, 24, 22), _utc(2026, 10, 25, 3)),
    (BERLIN, date(2026, 10, 25), time(0), time(4), 15, 20, _utc(2026, 10, 24, 22), _utc(2026, 10, 25, 3)),
    (BERLIN, date(2026, 10, 25), time(0), time(4), 20, 15, _utc(2026, 10, 24, 22), _utc(2026, 10, 25, 3)),
    (BERLIN, date(2026, 10, 25), time(0), time(4), 30, 10, _utc(2026, 10, 24, 22), _utc(2026, 10, 25, 3)),
    # New York spring forward 2026-03-08 02:00 EST -> 03:00 EDT.
    (NEW_YORK, date(2026, 3, 8), time(0), time(4), 10, 18, _utc(2026, 3, 8, 5), _utc(2026, 3, 8, 8)),
    (NEW_YORK, date(2026, 3, 8), time(0), time(4), 15, 12, _utc(2026, 3, 8, 5), _utc(2026, 3, 8, 8)),
    (NEW_YORK, date(2026, 3, 8), time(0), time(4), 20, 9, _utc(2026, 3, 8, 5), _utc(2026, 3, 8, 8)),
    (NEW_YORK, date(2026, 3, 8), time(0), time(4), 30, 6, _utc(2026, 3, 8, 5), _utc(2026, 3, 8, 8)),
    # New York fall back 2026-11-01 02:00 EDT -> 01:00 EST.
    (NEW_YORK, date(2026, 11, 1), time(0), time(4), 10, 30, _utc(2026, 11, 1, 4), _utc(2026, 11, 1, 9)),
    (NEW_YORK, date(2026, 11, 1), time(0), time(4), 15, 20, _utc(2026, 11, 1, 4), _utc(2026, 11, 1, 9)),
    (NEW_YORK, date(2026, 11, 1), time(0), time(4), 20, 15, _utc(2026, 11, 1, 4), _utc(2026, 11, 1, 9)),
    (NEW_YORK, date(2026, 11, 1), time(0), time(4), 30, 10, _utc(2026, 11, 1, 4), _utc(2026, 11, 1, 9)),
    # Ordinary summer day in Berlin (CEST, UTC+2), every allowed length.
    (BERLIN, date(2026, 6, 15), time(9), time(17), 10, 48, _utc(2026, 6, 15, 7), _utc(2026, 6, 15, 15)),
    (BERLIN, date(2026, 6, 15), time(9), time(17), 15, 32, _utc(2026, 6, 15, 7), _utc(2026, 6, 15, 15)),
    (BERLIN, date(2026, 6, 15), time(9), time(17), 20, 24, _utc(2026, 6, 15, 7), _utc(2026, 6, 15, 15)),
    (BERLIN, date(2026, 6, 15), time(9), time(17), 30, 16, _utc(2026, 6, 15, 7), _utc(2026, 6, 15, 15)),
    # Ordinary winter day in New York (EST, UTC-5).
    (NEW_YORK, date(2026, 1, 20), time(9), time(12), 20, 9, _utc(2026, 1, 20, 14), _utc(2026, 1, 20, 17)),
    # A trailing partial slot is dropped: 09:00-10:45 holds three 30-minute slots, not four.
    (BERLIN, date(2026, 6, 15), time(9), time(10, 45), 30, 3, _utc(2026, 6, 15, 7), _utc(2026, 6, 15, 8, 30)),
    # A day shorter than one slot has no slots at all.
    (BERLIN, date(2026, 6, 15), time(9), time(9, 25), 30, 0, None, None),
]
# fmt: on


@pytest.mark.parametrize(
    ("tz", "day", "start", "end", "duration", "count", "first_start", "last_end"), GRID_CASES
)
def test_slot_grid_table(
    tz: ZoneInfo,
    day: date,
    start: time,
    end: time,
    duration: int,
    count: int,
    first_start: datetime | None,
    last_end: datetime | None,
) -> None:
    grid = slot_grid(_day(day, start, end), tz, duration)
    assert len(grid) == count
    if count:
        assert grid[0].starts_at == first_start
        assert grid[-1].ends_at == last_end
    for slot in grid:
        assert slot.starts_at.tzinfo is UTC and slot.ends_at.tzinfo is UTC
        assert slot.ends_at - slot.starts_at == timedelta(minutes=duration)


def test_fall_back_day_has_a_slot_straddling_the_repeated_hour() -> None:
    """Absolute stepping yields slots whose wall-clock labels repeat; that is intended."""
    grid = slot_grid(_day(date(2026, 10, 25), time(0), time(4)), BERLIN, 30)
    local_starts = [s.starts_at.astimezone(BERLIN).strftime("%H:%M %Z") for s in grid]
    assert local_starts == [
        "00:00 CEST", "00:30 CEST", "01:00 CEST", "01:30 CEST", "02:00 CEST",
        "02:30 CEST", "02:00 CET", "02:30 CET", "03:00 CET", "03:30 CET",
    ]  # fmt: skip


def test_spring_forward_day_skips_the_missing_hour() -> None:
    grid = slot_grid(_day(date(2026, 3, 29), time(0), time(4)), BERLIN, 30)
    local_starts = [s.starts_at.astimezone(BERLIN).strftime("%H:%M") for s in grid]
    assert local_starts == ["00:00", "00:30", "01:00", "01:30", "03:00", "03:30"]


@pytest.mark.parametrize("duration", [5, 25, 45, 60, 0, -30])
def test_duration_not_offered_that_day_is_refused(duration: int) -> None:
    day = _day(date(2026, 6, 15), time(9), time(17))
    with pytest.raises(ValueError, match=r"not offered on 2026-06-15.*10, 15, 20, 30 minutes"):
        slot_grid(day, BERLIN, duration)


def test_non_positive_duration_is_refused_even_if_configured() -> None:
    """A zero length would loop forever; a bad event config must fail loudly instead."""
    day = _day(date(2026, 6, 15), time(9), time(17), durations=(0,))
    with pytest.raises(ValueError, match="at least one minute"):
        slot_grid(day, BERLIN, 0)


def test_end_before_start_gives_an_empty_grid() -> None:
    assert slot_grid(_day(date(2026, 6, 15), time(17), time(9)), BERLIN, 30) == []


# (zone, day, local start, local end, expected UTC bounds)
# fmt: off
BOUNDS_CASES = [
    (BERLIN, date(2026, 6, 15), time(9), time(17), (_utc(2026, 6, 15, 7), _utc(2026, 6, 15, 15))),
    (BERLIN, date(2026, 1, 15), time(9), time(17), (_utc(2026, 1, 15, 8), _utc(2026, 1, 15, 16))),
    # Ambiguous 02:30 on the fall-back day: fold=0 means the first (CEST) reading.
    (BERLIN, date(2026, 10, 25), time(2, 30), time(4), (_utc(2026, 10, 25, 0, 30), _utc(2026, 10, 25, 3))),
    # Nonexistent 02:30 on the spring-forward day: fold=0 uses the pre-change offset (CET).
    (BERLIN, date(2026, 3, 29), time(2, 30), time(4), (_utc(2026, 3, 29, 1, 30), _utc(2026, 3, 29, 2))),
    # fold=1 given by a caller is ignored: the rule is always fold=0 (01:30 EDT, not EST).
    (NEW_YORK, date(2026, 11, 1), time(1, 30, fold=1), time(3), (_utc(2026, 11, 1, 5, 30), _utc(2026, 11, 1, 8))),
]
# fmt: on


@pytest.mark.parametrize(("tz", "day", "start", "end", "expected"), BOUNDS_CASES)
def test_day_bounds_utc(
    tz: ZoneInfo, day: date, start: time, end: time, expected: tuple[datetime, datetime]
) -> None:
    assert day_bounds_utc(_day(day, start, end), tz) == expected


ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "America/St_Johns",  # half-hour offset with DST
        "Asia/Kolkata",  # half-hour offset, no DST
        "Australia/Lord_Howe",  # 30-minute DST shift
        "Pacific/Chatham",  # 45-minute offset
    )
]

minute_times = st.builds(time, st.integers(0, 23), st.integers(0, 59))


@given(
    tz=st.sampled_from(ZONES),
    d=st.dates(date(2020, 1, 1), date(2035, 12, 31)),
    start=minute_times,
    end=minute_times,
    duration=st.sampled_from((5, 10, 15, 20, 30, 45, 60, 90)),
)
def test_slot_grid_properties(tz: ZoneInfo, d: date, start: time, end: time, duration: int) -> None:
    """Whatever the zone or date, slots tile the day's real span without gaps or overlaps."""
    day = _day(d, start, end, durations=(duration,))
    grid = slot_grid(day, tz, duration)
    lo, hi = day_bounds_utc(day, tz)
    step = timedelta(minutes=duration)
    assert len(grid) == max(0, (hi - lo) // step)
    for slot in grid:
        assert slot.ends_at - slot.starts_at == step
        assert lo <= slot.starts_at and slot.ends_at <= hi
    for prev, nxt in itertools.pairwise(grid):
        assert prev.ends_at == nxt.starts_at  # sorted, contiguous, hence non-overlapping
    if grid:
        assert grid[0].starts_at == lo
