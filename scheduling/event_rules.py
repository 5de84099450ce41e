"""What an organizer's event settings and company quotas must satisfy.

Pure: `store_events.py` reads what is already published, asks these functions, then writes. The
database's quota trigger still refuses publishing past a quota whatever the code checked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import date
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduling.errors import DomainError, ErrorKind
from scheduling.model import EventDay, JoinPolicy

ALLOWED_DURATIONS = (10, 15, 20, 30)
MEDIA_MODES = ("p2p", "relay")
MAX_QUOTA = 10_000


def validate_event(
    name: str,
    timezone: str,
    days: Collection[EventDay],
    join_policy: JoinPolicy,
    media_mode: str,
    quotas: Mapping[str, int],
) -> None:
    """Reject an event that could not produce a sensible slot grid, with the field at fault."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DomainError(
            ErrorKind.INVALID,
            f"{timezone!r} is not an IANA time zone (e.g. Europe/Berlin).",
            field="timezone",
        ) from exc
    if not days:
        raise DomainError(ErrorKind.INVALID, "An event needs at least one day.", field="days")
    seen: set[date] = set()
    for d in days:
        if d.day in seen:
            raise DomainError(ErrorKind.INVALID, f"{d.day} is listed twice.", field="days")
        seen.add(d.day)
        if d.end <= d.start:
            raise DomainError(
                ErrorKind.INVALID,
                f"On {d.day} the end time must be after the start time.",
                field="days",
            )
        if not d.durations or any(m not in ALLOWED_DURATIONS for m in d.durations):
            raise DomainError(
                ErrorKind.INVALID,
                f"Chat durations on {d.day} must be chosen from {', '.join(map(str, ALLOWED_DURATIONS))} minutes.",
                field="days",
            )
    if join_policy.opens_before_s < 0 or join_policy.opens_before_s > 3600:
        raise DomainError(
            ErrorKind.INVALID,
            "The Join button may open 0 to 60 minutes early.",
            field="join_opens_before_s",
        )
    if join_policy.grace_after_s < 0 or join_policy.grace_after_s > 1800:
        raise DomainError(
            ErrorKind.INVALID,
            "The grace period after a slot is 0 to 30 minutes.",
            field="join_grace_after_s",
        )
    if media_mode not in MEDIA_MODES:
        raise DomainError(ErrorKind.INVALID, "media_mode is 'p2p' or 'relay'.", field="media_mode")
    if not name.strip():
        raise DomainError(ErrorKind.INVALID, "The event needs a name.", field="name")
    for company_id, quota in quotas.items():
        if quota < 0 or quota > MAX_QUOTA:
            raise DomainError(
                ErrorKind.INVALID,
                f"The quota for {company_id} must be 0 to {MAX_QUOTA}.",
                field="quotas",
            )


def check_days_keep_slots(
    published_per_day: Iterable[tuple[date, int]], days: Collection[date]
) -> None:
    """An event's edit may not drop a day on which employees already published slots."""
    for day, count in published_per_day:
        if day not in days:
            raise DomainError(
                ErrorKind.WRONG_STATE,
                f"{day} cannot be removed: employees already published {count} slots on it.",
                field="days",
            )


def check_quota_covers(company_id: str, quota: int, published: int) -> None:
    """A company's quota never goes below what its employees already published."""
    if quota < published:
        raise DomainError(
            ErrorKind.QUOTA,
            f"{company_id} already published {published} slots; the quota cannot go below that.",
            field="quotas",
        )


def zone_or(time_zone: str | None, fallback: str) -> ZoneInfo:
    """`time_zone` when this server knows it, else `fallback` (the event's zone)."""
    if time_zone:
        try:
            return ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a zone a newer tz database had; the event's is still right for the event
    return ZoneInfo(fallback)
