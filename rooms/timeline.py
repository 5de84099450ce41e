"""When a room warns, and its instants as the milliseconds tickets and messages carry.

A room opens and closes with the chat's Join window: `scheduling.join_window.window_times`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

WARNINGS_S = (300, 60)


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
