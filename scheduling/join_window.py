"""When a chat's Join button is open, decided from the chat, the event's policy and `now`.

The server is the authority (clients' clocks drift), so the window and a sentence explaining
why it is closed are computed here and sent to the client together with the server's `now`.
`window_times` is the one formula for the window's two instants: the Join button, the room's
life (rooms/tickets.py) and settling a chat after it (rooms/attendance.py) all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from scheduling.model import ChatState, ChatView, JoinPolicy

_SECOND = timedelta(seconds=1)


class JoinClosedReason(StrEnum):
    NOT_CONFIRMED = "not_confirmed"
    CANCELLED = "cancelled"
    TOO_EARLY = "too_early"
    ENDED = "ended"


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime.")


def iso_z(value: datetime | None) -> str | None:
    """ISO-8601 in UTC with a trailing "Z", the form browsers and Python both parse."""
    if value is None:
        return None
    _require_aware(value, "A timestamp")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class JoinWindow:
    """Whether the chat can be joined now; `reason`/`message` say why not when it cannot."""

    is_open: bool
    opens_at: datetime | None
    closes_at: datetime | None
    reason: JoinClosedReason | None
    message: str | None

    def to_dict(self, now: datetime) -> dict[str, Any]:
        """The JSON shape the API and client use; `now` lets the client correct its clock."""
        return {
            "open": self.is_open,
            "join_opens_at": iso_z(self.opens_at),
            "join_closes_at": iso_z(self.closes_at),
            "now": iso_z(now),
            "reason": None if self.reason is None else str(self.reason),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class WindowTimes:
    """When a booked slot's Join window opens and closes; the room lives exactly as long."""

    opens_at: datetime
    closes_at: datetime


def window_times(starts_at: datetime, ends_at: datetime, policy: JoinPolicy) -> WindowTimes:
    """opens_at = starts_at - opens_before_s and closes_at = ends_at + grace_after_s, so people
    can arrive a little early and finish a sentence after the slot ends; the window is half-open,
    [opens_at, closes_at). Computed in UTC: arithmetic on a zoned datetime is wall-clock
    arithmetic, which is off by an hour across a DST change."""
    _require_aware(starts_at, "starts_at")
    _require_aware(ends_at, "ends_at")
    return WindowTimes(
        starts_at.astimezone(UTC) - timedelta(seconds=policy.opens_before_s),
        ends_at.astimezone(UTC) + timedelta(seconds=policy.grace_after_s),
    )


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _in_words(delta: timedelta) -> str:
    """A wait in words, rounded up so a countdown never says 0 before the window opens."""
    seconds = -(-delta // _SECOND)
    if seconds < 60:
        return "less than a minute"
    minutes = -(-seconds // 60)
    if minutes < 60:
        return _plural(minutes, "minute")
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        text = _plural(hours, "hour")
        return f"{text} and {_plural(minutes, 'minute')}" if minutes else text
    days, hours = divmod(hours, 24)
    text = _plural(days, "day")
    return f"{text} and {_plural(hours, 'hour')}" if hours else text


_NOT_CONFIRMED_MESSAGE: dict[ChatState, str] = {
    ChatState.REQUESTED: "This request has not been accepted yet, so there is no chat to join.",
    ChatState.APPROVED: "No time slot has been picked for this chat yet.",
    ChatState.DECLINED: "This request was declined, so there is no chat to join.",
    ChatState.WITHDRAWN: "This request was withdrawn, so there is no chat to join.",
}


def join_window(chat: ChatView, policy: JoinPolicy, now: datetime) -> JoinWindow:
    """Open iff the chat is confirmed and opens_at <= now < closes_at (`window_times`)."""
    _require_aware(now, "now")
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    if chat.starts_at is not None and chat.ends_at is not None:
        times = window_times(chat.starts_at, chat.ends_at, policy)
        opens_at, closes_at = times.opens_at, times.closes_at

    if chat.state in (ChatState.COMPLETED, ChatState.NO_SHOW):
        return JoinWindow(
            False, opens_at, closes_at, JoinClosedReason.ENDED, "This chat has ended."
        )
    if chat.state == ChatState.CANCELLED:
        return JoinWindow(
            False, opens_at, closes_at, JoinClosedReason.CANCELLED, "This chat was cancelled."
        )
    if chat.state != ChatState.CONFIRMED:
        return JoinWindow(
            False,
            None,
            None,
            JoinClosedReason.NOT_CONFIRMED,
            _NOT_CONFIRMED_MESSAGE.get(chat.state, "This chat is not confirmed yet."),
        )
    if opens_at is None or closes_at is None:
        raise ValueError("A confirmed chat must have a start and an end time.")
    if now < opens_at:
        return JoinWindow(
            False,
            opens_at,
            closes_at,
            JoinClosedReason.TOO_EARLY,
            f"The chat opens in {_in_words(opens_at - now)}.",
        )
    if now >= closes_at:
        return JoinWindow(
            False, opens_at, closes_at, JoinClosedReason.ENDED, "This chat has ended."
        )
    return JoinWindow(True, opens_at, closes_at, None, None)
