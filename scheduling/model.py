"""Plain data of the scheduling domain: no I/O, no clock, shared by rules, storage and the API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from enum import StrEnum
from typing import Literal

# How a chat's media travels: peer to peer, or through the server's relay (per event).
MediaMode = Literal["p2p", "relay"]
# A seat in a chat's room: the employee's (who offers media first) or the participant's.
SeatRole = Literal["employee", "participant"]


class Role(StrEnum):
    ORGANIZER = "organizer"
    EMPLOYEE = "employee"
    PARTICIPANT = "participant"


class ChatState(StrEnum):
    """States of one 1-1 chat request; see `states.py` for who may move it where."""

    REQUESTED = "requested"
    APPROVED = "approved"  # "In Scheduling": accepted, the participant still has to pick a slot
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    CANCELLED = "cancelled"


class Side(StrEnum):
    """Which side of a chat a person is on (also: who initiated the request)."""

    EMPLOYEE = "employee"
    PARTICIPANT = "participant"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class EventDay:
    """One day of an event in the event's wall clock, with the chat lengths allowed that day."""

    day: date
    start: time
    end: time
    durations: tuple[int, ...]  # minutes, e.g. (10, 15, 20, 30)


@dataclass(frozen=True, slots=True)
class JoinPolicy:
    """When the Join button opens and closes relative to the slot (configurable per event)."""

    opens_before_s: int = 300
    grace_after_s: int = 120


@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable interval of one employee, in UTC."""

    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class SlotRecord:
    """One stored slot of an employee: offered once `published`, `booked` while a chat holds it."""

    id: int
    day: date
    starts_at: datetime
    ends_at: datetime
    published: bool
    booked: bool


@dataclass(frozen=True, slots=True)
class DayChoice:
    """One day of an availability edit: the chosen duration and the slots (or "all")."""

    day: date
    duration_min: int
    starts: Sequence[datetime] | Literal["all"]


@dataclass(frozen=True, slots=True)
class ChatView:
    """What the join-window rule needs to know about a chat."""

    state: ChatState
    starts_at: datetime | None
    ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class Profile:
    """An employee's optional 1-1 profile; the custom question filters nobody."""

    background: str = ""
    experience_level: str = ""
    languages: tuple[str, ...] = field(default_factory=tuple)
    topics: tuple[str, ...] = field(default_factory=tuple)
    custom_question: str = ""
