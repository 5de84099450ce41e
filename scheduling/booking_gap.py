"""The minimum gap between one participant's chats: an organizer's setting per event (0: none).

Pure: `store_chats.py` reads the participant's other booked chats of the event and asks this
rule first, for a sentence that names the clash; the database's `participant_gap` trigger
(migration 0004) refuses what a race slips past this check, with the same sentence.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from scheduling.errors import DomainError, ErrorKind

MAX_GAP_MIN = 120
GAP_MESSAGE = (
    "This event keeps at least {gap} minutes between one participant's chats, and that slot is "
    "too close to another chat of yours; pick a slot further away."
)


def gap_message(gap_min: int | None = None) -> str:
    """The refusal's sentence; the trigger's path does not know the gap, so it says "a few"."""
    return GAP_MESSAGE.format(gap="a few" if gap_min is None else gap_min)


def check_gap(
    starts_at: datetime,
    ends_at: datetime,
    others: Iterable[tuple[datetime, datetime]],
    gap_min: int,
) -> None:
    """Refuse a slot that starts less than `gap_min` minutes after one of `others` ends, or
    ends less than that before one starts. Overlaps are the overlap rule's, not this one's."""
    if gap_min <= 0:
        return
    gap = timedelta(minutes=gap_min)
    for other_start, other_end in others:
        overlaps = other_start < ends_at and starts_at < other_end
        if not overlaps and other_start < ends_at + gap and starts_at < other_end + gap:
            raise DomainError(ErrorKind.TOO_CLOSE, gap_message(gap_min), gap_min=gap_min)
