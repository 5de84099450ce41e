"""Who gets which email, when a reminder is due, and how retries are spaced: pure rules.

The storage (`store_mail.py`) asks these and writes the outbox rows; the delivery worker
(`notifications/worker.py`) sends them. Reminders are not queued ahead of time: each round of
the worker derives the due ones from the confirmed chats (`due_reminders`), so a reschedule
moves them and a cancel removes them, and a unique key per chat, kind and start time sends
each one once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from scheduling.event_rules import zone_or
from scheduling.join_window import window_times
from scheduling.model import JoinPolicy, Side
from scheduling.states import Action


class MailKind(StrEnum):
    """One kind of email; each person may turn each kind off."""

    REQUEST_RECEIVED = "request_received"
    REQUEST_APPROVED = "request_approved"
    REQUEST_DECLINED = "request_declined"
    CHAT_CONFIRMED = "chat_confirmed"
    CHAT_RESCHEDULED = "chat_rescheduled"
    CHAT_CANCELLED = "chat_cancelled"
    REMINDER = "reminder"
    JOIN_OPEN = "join_open"
    PEER_WAITING = "peer_waiting"


# What each kind is, in the words of the settings page and the docs.
KIND_LABELS: dict[MailKind, str] = {
    MailKind.REQUEST_RECEIVED: "Someone asks you for a chat",
    MailKind.REQUEST_APPROVED: "Your request was approved (pick a slot)",
    MailKind.REQUEST_DECLINED: "Your request was declined",
    MailKind.CHAT_CONFIRMED: "A chat is confirmed (with a calendar invitation)",
    MailKind.CHAT_RESCHEDULED: "A chat moved to another time (calendar update)",
    MailKind.CHAT_CANCELLED: "A chat was cancelled (calendar cancellation)",
    MailKind.REMINDER: "Reminder 15 minutes before a chat",
    MailKind.JOIN_OPEN: "The Join button is open (with a direct link)",
    MailKind.PEER_WAITING: "The other person is waiting for you in the room",
}

REMINDER_BEFORE = timedelta(minutes=15)
WAITING_AFTER = timedelta(minutes=2)


def other(side: Side) -> Side:
    return Side.PARTICIPANT if side == Side.EMPLOYEE else Side.EMPLOYEE


def mails_for(action: Action | None, initiator: Side) -> list[tuple[Side, MailKind]]:
    """The mails a change of a chat causes, as (recipient's side, kind); `None` is a new request.

    A request goes to the person asked; the answer (approved, declined) to the person who asked;
    a booking, a move or a cancel to both. Withdrawing and settling send nothing."""
    both = (Side.EMPLOYEE, Side.PARTICIPANT)
    if action is None:
        return [(other(initiator), MailKind.REQUEST_RECEIVED)]
    if action == Action.APPROVE:
        return [(initiator, MailKind.REQUEST_APPROVED)]
    if action == Action.DECLINE:
        return [(initiator, MailKind.REQUEST_DECLINED)]
    single = {
        Action.BOOK: MailKind.CHAT_CONFIRMED,
        Action.RESCHEDULE: MailKind.CHAT_RESCHEDULED,
        Action.CANCEL: MailKind.CHAT_CANCELLED,
    }.get(action)
    return [] if single is None else [(side, single) for side in both]


@dataclass(frozen=True, slots=True)
class DueReminder:
    kind: MailKind
    # The instant it is about: the chat's start, so a moved chat gets its reminders again.
    starts_at: datetime


def due_reminders(
    starts_at: datetime, ends_at: datetime, policy: JoinPolicy, now: datetime
) -> list[DueReminder]:
    """The reminders of one confirmed chat that are due at `now`: T-15 min until the chat
    starts, and "Join is open" while its join window is open. A reminder whose moment passed
    unsent (the worker was down) is not sent late once it no longer helps."""
    due: list[DueReminder] = []
    if starts_at - REMINDER_BEFORE <= now < starts_at:
        due.append(DueReminder(MailKind.REMINDER, starts_at))
    window = window_times(starts_at, ends_at, policy)
    if window.opens_at <= now < ends_at:
        due.append(DueReminder(MailKind.JOIN_OPEN, starts_at))
    return due


def reminder_still_due(
    kind: MailKind, starts_at: datetime, ends_at: datetime, now: datetime
) -> bool:
    """Whether a queued reminder still says something true when its turn to be sent comes
    (its chat is still confirmed at that start, and the moment has not passed)."""
    if kind == MailKind.REMINDER:
        return now < starts_at
    if kind in (MailKind.JOIN_OPEN, MailKind.PEER_WAITING):
        return now < ends_at
    return True


def waiting_side(
    joined: dict[str, datetime], employee_id: str, participant_id: str, now: datetime
) -> Side | None:
    """The side to tell "the other person is waiting": the one who has not joined, when the
    other joined at least WAITING_AFTER ago (`joined`: user id -> first join)."""
    employee, participant = joined.get(employee_id), joined.get(participant_id)
    if employee is not None and participant is None and employee <= now - WAITING_AFTER:
        return Side.PARTICIPANT
    if participant is not None and employee is None and participant <= now - WAITING_AFTER:
        return Side.EMPLOYEE
    return None


def recipient_zone(recipient: dict[str, Any], event_timezone: str) -> str:
    """The IANA zone a mail shows its times in: the zone the person chose in the app
    (`users.time_zone`; `recipient` is their row as a dict), else the event's. A mail server
    cannot know a browser's zone, so someone who never chose one reads the event's."""
    return zone_or(recipient.get("time_zone"), event_timezone).key


# Retries: 30 s, 1, 2, 4, 8 minutes, then every 10 minutes; a mail still unsent a day after it
# was written is given up (a reminder or an invitation a day late helps nobody).
BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(minutes=10)
GIVE_UP_AFTER = timedelta(days=1)


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed try (1 for the first)."""
    wait: timedelta = BACKOFF_FIRST * 2 ** min(max(0, attempts - 1), 16)
    return min(wait, BACKOFF_MAX)
