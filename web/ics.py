"""Calendar files for chats: a stable UID per chat, SEQUENCE bumped on every move or cancel."""

from __future__ import annotations

from datetime import datetime

from icalendar import Calendar, Event

from scheduling.model import ChatState
from scheduling.store_chats import ChatRecord
from scheduling.store_events import EventRecord


def chat_calendar(chat: ChatRecord, event: EventRecord, base_url: str, now: datetime) -> bytes:
    """One VEVENT; after a cancel, METHOD:CANCEL so calendar apps remove it."""
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
    cal.add_component(vevent)
    return cal.to_ical()
