"""An organizer's event settings and quotas (scheduling/event_rules.py), at the edges of each."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, time
from typing import Any

import pytest

from scheduling.errors import DomainError, ErrorKind
from scheduling.event_rules import check_days_keep_slots, check_quota_covers, validate_event
from scheduling.model import EventDay, JoinPolicy

DAY = EventDay(date(2026, 6, 15), time(9), time(17), (10, 30))
GOOD: dict[str, Any] = {
    "name": "Career fair",
    "timezone": "Europe/Berlin",
    "days": [DAY],
    "join_policy": JoinPolicy(300, 120),
    "media_mode": "p2p",
    "quotas": {"acme": 20},
}


def refusal(call: Callable[[], Any]) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call()
    return refused.value


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"join_policy": JoinPolicy(0, 0)},
        {"join_policy": JoinPolicy(3600, 1800)},  # the largest allowed
        {"media_mode": "relay"},
        {"quotas": {"acme": 0, "globex": 10_000}},
        {"days": [DAY, EventDay(date(2026, 6, 16), time(0), time(0, 10), (10, 15, 20, 30))]},
        {"timezone": "UTC"},
    ],
)
def test_validate_event_accepts(changes: dict[str, Any]) -> None:
    validate_event(**(GOOD | changes))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone",
         "'Mars/Olympus' is not an IANA time zone (e.g. Europe/Berlin)."),
        ({"timezone": ""}, "timezone", "'' is not an IANA time zone (e.g. Europe/Berlin)."),
        ({"days": []}, "days", "An event needs at least one day."),
        ({"days": [DAY, DAY]}, "days", "2026-06-15 is listed twice."),
        ({"days": [EventDay(DAY.day, time(9), time(9), (10,))]}, "days",
         "On 2026-06-15 the end time must be after the start time."),
        ({"days": [EventDay(DAY.day, time(9), time(17), ())]}, "days",
         "Chat durations on 2026-06-15 must be chosen from 10, 15, 20, 30 minutes."),
        ({"days": [EventDay(DAY.day, time(9), time(17), (10, 45))]}, "days",
         "Chat durations on 2026-06-15 must be chosen from 10, 15, 20, 30 minutes."),
        ({"join_policy": JoinPolicy(3601, 120)}, "join_opens_before_s",
         "The Join button may open 0 to 60 minutes early."),
        ({"join_policy": JoinPolicy(-1, 120)}, "join_opens_before_s",
         "The Join button may open 0 to 60 minutes early."),
        ({"join_policy": JoinPolicy(300, 1801)}, "join_grace_after_s",
         "The grace period after a slot is 0 to 30 minutes."),
        ({"join_policy": JoinPolicy(300, -1)}, "join_grace_after_s",
         "The grace period after a slot is 0 to 30 minutes."),
        ({"media_mode": "sfu"}, "media_mode", "media_mode is 'p2p' or 'relay'."),
        ({"name": "  "}, "name", "The event needs a name."),
        ({"quotas": {"acme": 10_001}}, "quotas", "The quota for acme must be 0 to 10000."),
        ({"quotas": {"acme": -1}}, "quotas", "The quota for acme must be 0 to 10000."),
        # Checked in this order: the zone before the days, the days before the name.
        ({"timezone": "Nowhere", "days": []}, "timezone",
         "'Nowhere' is not an IANA time zone (e.g. Europe/Berlin)."),
        ({"days": [], "name": ""}, "days", "An event needs at least one day."),
    ],
)  # fmt: skip
def test_validate_event_refuses(changes: dict[str, Any], field: str, message: str) -> None:
    error = refusal(lambda: validate_event(**(GOOD | changes)))
    assert (error.kind, error.extra, error.message) == (
        ErrorKind.INVALID,
        {"field": field},
        message,
    )


def test_an_edit_keeps_every_day_with_published_slots() -> None:
    june_15, june_16 = date(2026, 6, 15), date(2026, 6, 16)
    check_days_keep_slots([(june_15, 3)], {june_15, june_16})
    check_days_keep_slots([], set())
    error = refusal(lambda: check_days_keep_slots([(june_15, 3), (june_16, 1)], {june_15}))
    assert (error.kind, error.extra) == (ErrorKind.WRONG_STATE, {"field": "days"})
    assert (
        error.message == "2026-06-16 cannot be removed: employees already published 1 slots on it."
    )


@pytest.mark.parametrize(("quota", "published"), [(5, 5), (6, 5), (0, 0)])
def test_a_quota_may_go_down_to_what_is_published(quota: int, published: int) -> None:
    check_quota_covers("acme", quota, published)


def test_a_quota_never_goes_below_what_is_published() -> None:
    error = refusal(lambda: check_quota_covers("acme", 4, 5))
    assert (error.kind, error.extra) == (ErrorKind.QUOTA, {"field": "quotas"})
    assert error.message == "acme already published 5 slots; the quota cannot go below that."
