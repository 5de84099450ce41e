"""Calendar files for chats: a stable UID per chat, SEQUENCE bumped on every move or cancel.

RFC 5546 requires ORGANIZER on PUBLISH, REQUEST and CANCEL (and ATTENDEE on REQUEST and
CANCEL), and some calendars ignore a CANCEL without them, so every file names both people: the
employee, who offers the chat, as ORGANIZER, and both as ATTENDEEs. A person's calendar address
is `mailto:` when the host platform told Duet their email, else a stable `urn:duet:user:` URI,
the same in every version of the file so updates and cancels match the event they replace.

The download (`GET /api/v1/chats/{id}.ics`) is METHOD:PUBLISH (or CANCEL); the invitations
attached to mails are METHOD:REQUEST (or CANCEL), from the same `invite_calendar`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from icalendar import Calendar, Event, vCalAddress

from scheduling.model import ChatState
from scheduling.store_chats import ChatRecord
from scheduling.store_events import EventRecord

Method = Literal["PUBLISH", "REQUEST", "CANCEL"]


@dataclass(frozen=True, slots=True)
class CalendarPerson:
    id: str
    name: str
    email: str = ""


@dataclass(frozen=True, slots=True)
class Invite:
    """What a chat's calendar entry says."""

    chat_id: str
    event_name: str
    starts_at: datetime
    ends_at: datetime
    sequence: int
    employee: CalendarPerson
    participant: CalendarPerson


def calendar_address(user_id: str, name: str, email: str | None, role: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}" if email else f"urn:duet:user:{quote(user_id)}")
    address.params["CN"] = name
    address.params["ROLE"] = role
    return address


def chat_uid(chat_id: str) -> str:
    return f"chat-{chat_id}@duet"


def invite_calendar(invite: Invite, method: Method, base_url: str, now: datetime) -> bytes:
    """One VEVENT; METHOD:CANCEL marks it cancelled so calendar apps remove it."""
    cancelled = method == "CANCEL"
    link = f"{base_url}/#/chat/{invite.chat_id}"
    cal = Calendar()
    cal.add("prodid", "-//Duet//1-1 chats//EN")
    cal.add("version", "2.0")
    cal.add("method", method)
    vevent = Event()
    vevent.add("uid", chat_uid(invite.chat_id))
    vevent.add("sequence", invite.sequence)
    vevent.add("dtstamp", now)
    vevent.add("dtstart", invite.starts_at)
    vevent.add("dtend", invite.ends_at)
    vevent.add(
        "summary",
        f"1-1 chat: {invite.employee.name} and {invite.participant.name} ({invite.event_name})",
    )
    vevent.add("description", f"Join from Duet when the chat opens: {link}")
    vevent.add("url", link)
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    employee, participant = invite.employee, invite.participant
    vevent.add("organizer", calendar_address(employee.id, employee.name, employee.email, "CHAIR"))
    for person, role in ((employee, "CHAIR"), (participant, "REQ-PARTICIPANT")):
        vevent.add("attendee", calendar_address(person.id, person.name, person.email, role))
    cal.add_component(vevent)
    ical: bytes = cal.to_ical()
    return ical


def chat_calendar(
    chat: ChatRecord,
    event: EventRecord,
    base_url: str,
    now: datetime,
    emails: Mapping[str, str] | None = None,
) -> bytes:
    """The download: METHOD:PUBLISH, or METHOD:CANCEL after a cancel."""
    emails = emails or {}
    assert chat.starts_at is not None and chat.ends_at is not None
    invite = Invite(
        chat.id,
        event.name,
        chat.starts_at,
        chat.ends_at,
        chat.ics_sequence,
        CalendarPerson(chat.employee_id, chat.employee_name, emails.get(chat.employee_id, "")),
        CalendarPerson(
            chat.participant_id, chat.participant_name, emails.get(chat.participant_id, "")
        ),
    )
    method: Method = "CANCEL" if chat.state == ChatState.CANCELLED else "PUBLISH"
    return invite_calendar(invite, method, base_url, now)
