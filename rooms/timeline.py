"""When a room opens, warns and closes: pure functions of the chat's slot and the event's policy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scheduling.model import JoinPolicy

WARNINGS_S = (300, 60)


@dataclass(frozen=True, slots=True)
class RoomTimes:
    opens_at: datetime
    closes_at: datetime


def room_times(starts_at: datetime, ends_at: datetime, policy: JoinPolicy) -> RoomTimes:
    """The room lives exactly as long as the join window: it closes at slot end plus grace."""
    return RoomTimes(
        starts_at - timedelta(seconds=policy.opens_before_s),
        ends_at + timedelta(seconds=policy.grace_after_s),
    )


def pending_warnings(closes_at: datetime, now: datetime) -> list[tuple[datetime, int]]:
    """Warnings still ahead of `now`: (when, seconds left then), earliest first."""
    return [
        (closes_at - timedelta(seconds=s), s)
        for s in WARNINGS_S
        if closes_at - timedelta(seconds=s) > now
    ]


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)
