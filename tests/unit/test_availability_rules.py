"""An employee's availability edit and "Confirm Availability" (scheduling/availability_rules.py).

One event day, 09:00-11:00 UTC, cut into 30-minute slots (09:00, 09:30, 10:00, 10:30) or
20-minute ones; `now` is 09:30, so the first slot is past and the second starts right now.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest

from scheduling.availability_rules import (
    DayPlan,
    check_confirm,
    check_within_quota,
    plan_day,
    validate_profile,
)
from scheduling.errors import DomainError, ErrorKind
from scheduling.model import DayChoice, EventDay, Profile, Slot, SlotRecord

UTC_ZONE = ZoneInfo("UTC")
DAY = date(2026, 6, 15)
OTHER_DAY = date(2026, 6, 16)
EVENT_DAY = EventDay(DAY, time(9), time(11), (20, 30))
NOW = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def half_hour(start: datetime) -> Slot:
    return Slot(start, start + timedelta(minutes=30))


def stored(
    id: int,
    start: datetime,
    minutes: int = 30,
    *,
    published: bool = False,
    booked: bool = False,
) -> SlotRecord:
    return SlotRecord(
        id, start.date(), start, start + timedelta(minutes=minutes), published, booked
    )


def plan(
    starts: list[datetime] | Literal["all"],
    slots: list[SlotRecord],
    minutes: int = 30,
    now: datetime = NOW,
) -> DayPlan:
    return plan_day(DayChoice(DAY, minutes, starts), EVENT_DAY, UTC_ZONE, slots, now)


def refusal(call: Callable[[], Any]) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call()
    return refused.value


@pytest.mark.parametrize(
    ("starts", "slots", "expected"),
    [
        # "all" is every future slot: 09:00 is past, 09:30 starts right now.
        ("all", [], DayPlan((), (half_hour(at(10)), half_hour(at(10, 30))))),
        ("all", [stored(1, at(10))], DayPlan((), (half_hour(at(10, 30)),))),
        ([at(10, 30)], [], DayPlan((), (half_hour(at(10, 30)),))),
        # Added earliest first, whatever order they were picked in.
        ([at(10, 30), at(10)], [], DayPlan((), (half_hour(at(10)), half_hour(at(10, 30))))),
        # Dropping a slot from the selection removes it; keeping a past one keeps it.
        ([at(9)], [stored(1, at(9)), stored(2, at(10))], DayPlan((2,), ())),
        ([], [stored(1, at(9), published=True)], DayPlan((1,), ())),
        # A published slot still chosen stays as it is.
        ([at(10)], [stored(1, at(10), published=True)], DayPlan((), ())),
        # Another length, not yet published: replaced by the new grid's slots.
        ([at(10)], [stored(1, at(10), 20)], DayPlan((1,), (half_hour(at(10)),))),
        # Slots on other days are not this edit's business.
        ([], [stored(1, at(10, day=OTHER_DAY), booked=True)], DayPlan((), ())),
    ],
)
def test_plan_day(
    starts: list[datetime] | Literal["all"], slots: list[SlotRecord], expected: DayPlan
) -> None:
    assert plan(starts, slots) == expected


def test_plan_day_on_the_20_minute_grid() -> None:
    assert plan([at(10, 20)], [], minutes=20) == DayPlan((), (Slot(at(10, 20), at(10, 40)),))


@pytest.mark.parametrize(
    ("starts", "slots", "minutes", "kind", "field", "message"),
    [
        ([at(10)], [], 15, ErrorKind.INVALID, "duration_min",
         "Chats of 15 minutes are not offered on 2026-06-15; the allowed lengths are: "
         "20, 30 minutes."),
        ([at(10, 15)], [], 30, ErrorKind.INVALID, "slots",
         "2026-06-15T10:15:00+00:00 is not a 30-minute slot of 2026-06-15."),
        ([at(11)], [], 30, ErrorKind.INVALID, "slots",  # the day ends at 11:00
         "2026-06-15T11:00:00+00:00 is not a 30-minute slot of 2026-06-15."),
        ([at(9, 30)], [], 30, ErrorKind.INVALID, "slots",  # starts right now: already past
         "A slot in the past cannot be offered."),
        ([at(10)], [stored(1, at(10), 20, published=True)], 30, ErrorKind.WRONG_STATE,
         "duration_min",
         "You already published slots of another length on 2026-06-15; remove them before "
         "changing the duration (booked ones stay)."),
        ([], [stored(1, at(9)), stored(2, at(10), published=True, booked=True)], 30,
         ErrorKind.WRONG_STATE, "slots",
         "The slot at 2026-06-15T10:00:00+00:00 is booked and cannot be removed; cancel or "
         "reschedule that chat first."),
    ],
)  # fmt: skip
def test_plan_day_refuses(
    starts: list[datetime],
    slots: list[SlotRecord],
    minutes: int,
    kind: ErrorKind,
    field: str,
    message: str,
) -> None:
    error = refusal(lambda: plan(starts, slots, minutes))
    assert (error.kind, error.extra, error.message) == (kind, {"field": field}, message)


def test_a_refused_day_plans_nothing_at_all() -> None:
    """The booked slot is checked before anything is removed: the edit is refused whole."""
    slots = [stored(1, at(9)), stored(2, at(10), booked=True), stored(3, at(10, 30))]
    with pytest.raises(DomainError, match="is booked and cannot be removed"):
        plan([], slots)


@pytest.mark.parametrize(
    ("profile", "field", "message"),
    [
        (Profile(background="x" * 1001), "background",
         "Background is limited to 1000 characters."),
        (Profile(experience_level="x" * 101), "experience_level",
         "Experience level is limited to 100 characters."),
        (Profile(custom_question="x" * 501), "custom_question",
         "Custom question is limited to 500 characters."),
        (Profile(languages=tuple(f"l{i}" for i in range(21))), "languages",
         "Languages take up to 20 short words or phrases."),
        (Profile(languages=("German", " ")), "languages",
         "Languages take up to 20 short words or phrases."),
        (Profile(topics=("x" * 61,)), "topics", "Topics take up to 20 short words or phrases."),
    ],
)  # fmt: skip
def test_validate_profile_refuses(profile: Profile, field: str, message: str) -> None:
    error = refusal(lambda: validate_profile(profile))
    assert (error.kind, error.extra, error.message) == (
        ErrorKind.INVALID,
        {"field": field},
        message,
    )


def test_validate_profile_accepts_everything_at_its_limit() -> None:
    validate_profile(
        Profile(
            background="x" * 1000,
            experience_level="x" * 100,
            languages=tuple(f"l{i}" for i in range(20)),
            topics=("x" * 60,),
            custom_question="x" * 500,
        )
    )


NOTHING = "Choose at least one slot before confirming availability."
NO_QUOTA = "Your company has no 1-1 slot quota for this event yet; ask the organizer to set one."


@pytest.mark.parametrize(
    ("status", "slots", "quota", "refused"),
    [
        ("draft", [stored(1, at(10))], 5, None),
        ("published", [stored(1, at(10), published=True)], 0, None),  # nothing new: fine
        ("none", [], 5, (ErrorKind.INVALID, NOTHING)),
        ("draft", [], 5, (ErrorKind.INVALID, NOTHING)),  # every slot was removed again
        ("draft", [], None, (ErrorKind.INVALID, NOTHING)),  # said before the missing quota
        ("draft", [stored(1, at(10))], None, (ErrorKind.QUOTA, NO_QUOTA)),
    ],
)
def test_check_confirm(
    status: str, slots: list[SlotRecord], quota: int | None, refused: Any
) -> None:
    if refused is None:
        assert check_confirm(status, slots, quota) == quota
    else:
        error = refusal(lambda: check_confirm(status, slots, quota))
        assert (error.kind, error.message) == refused


def test_check_within_quota_is_the_quota_rule_as_an_api_error() -> None:
    check_within_quota(10, 7, 3)
    error = refusal(lambda: check_within_quota(10, 7, 4))
    assert error.kind is ErrorKind.QUOTA and error.extra == {"remaining": 3}
    assert error.message.startswith("Your company has 3 of 10 slots left; you selected 4.")
