"""Calendar files for chats: a stable UID per chat, SEQUENCE bumped on every move or cancel.

RFC 5546 requires ORGANIZER on PUBLISH and CANCEL (and ATTENDEE on CANCEL), and some calendars
ignore a CANCEL without them, so every file names both people: the employee, who offers the chat,
as ORGANIZER, and both as ATTENDEEs. A person's calendar address is `mailto:` when the host
platform told Duet their email, else a stable `urn:duet:user:` URI, the same in every version of
the file so updates and cancels match the event they replace.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

from icalendar import Calendar, Event, vCalAddress

from scheduling.model import ChatState
from scheduling.store_chats import ChatRecord
from scheduling.store_events import EventRecord


def calendar_address(user_id: str, name: str, email: str | None, role: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}" if email else f"urn:duet:user:{quote(user_id)}")
    address.params["CN"] = name
    address.params["ROLE"] = role
    return address


def chat_calendar(
    chat: ChatRecord,
    event: EventRecord,
    base_url: str,
    now: datetime,
    emails: Mapping[str, str] | None = None,
) -> bytes:
    """One VEVENT; after a cancel, METHOD:CANCEL so calendar apps remove it."""
    emails = emails or {}
    cancelled = chat.state == ChatState.CANCELLED
    cal = Calendar()
    cal.add("prodid", "-//Duet//1-1 chats//EN")
    cal.add("version", "2.0")
    cal.add("method", "CANCEL" if cancelled else "PUBLISH")
    vevent = Event()
    vevent.add("uid", f"chat-{chat.id}@duet")
    vevent.add("sequence", chat.ics_sequence)
    vevent.add("dtstamp", now)
    assert chat.starts_at is not None and chat.ends_at is not None
    vevent.add("dtstart", chat.starts_at)
    vevent.add("dtend", chat.ends_at)
    vevent.add(
        "summary", f"1-1 chat: {chat.employee_name} and {chat.participant_name} ({event.name})"
    )
    vevent.add("description", f"Join from Duet when the chat opens: {base_url}/#/chat/{chat.id}")
    vevent.add("url", f"{base_url}/#/chat/{chat.id}")
    vevent.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    employee = (chat.employee_id, chat.employee_name)
    participant = (chat.participant_id, chat.participant_name)
    vevent.add("organizer", calendar_address(*employee, emails.get(employee[0]), "CHAIR"))
    for user_id, name in (employee, participant):
        role = "CHAIR" if user_id == employee[0] else "REQ-PARTICIPANT"
        vevent.add("attendee", calendar_address(user_id, name, emails.get(user_id), role))
    cal.add_component(vevent)
    ical: bytes = cal.to_ical()
    return ical
