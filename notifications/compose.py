"""An outbox row made into an email: subject, text and HTML bodies from Jinja2 templates, the
calendar invitation attached where the chat got (or lost) its time.

Everything comes from the row's payload snapshot and its fixed Message-ID and date, so every
try of one row produces the same message. HTML templates are autoescaped: every text a person
typed (names, messages, reasons) is escaped, and links are built here from ids only.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from notifications.ics import CalendarPerson, Invite, Method, invite_calendar
from scheduling.mail_rules import MailKind
from scheduling.store_mail import Delivery

_ENV = Environment(
    loader=PackageLoader("notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

# Where each kind's button leads, per side (the client's hash routes).
_TABS: dict[MailKind, dict[str, str]] = {
    MailKind.REQUEST_RECEIVED: {"employee": "requested", "participant": "invitations"},
    MailKind.REQUEST_APPROVED: {"employee": "in_scheduling", "participant": "requests"},
    MailKind.REQUEST_DECLINED: {"employee": "history", "participant": "history"},
    MailKind.CHAT_CANCELLED: {"employee": "history", "participant": "history"},
}


def _one_line(text: str) -> str:
    """A header never carries a line break (no header injection) or a run of spaces."""
    return re.sub(r"\s+", " ", text).strip()


def format_when(starts_at: datetime, ends_at: datetime, zone: str) -> str:
    """Like "Tuesday 1 December 2026, 10:00-10:30 (Europe/Berlin)" (an en dash), in `zone`."""
    tz = ZoneInfo(zone)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    return f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M}\u2013{end:%H:%M} ({zone})"


def _short_when(starts_at: datetime, zone: str) -> str:
    start = starts_at.astimezone(ZoneInfo(zone))
    return f"{start:%a} {start.day} {start:%b}, {start:%H:%M}"


def _subject(kind: MailKind, side: str, other: str, when_short: str) -> str:
    if kind == MailKind.REQUEST_RECEIVED:
        if side == "employee":
            return f"{other} asks you for a 1-1 chat"
        return f"{other} invites you to a 1-1 chat"
    if kind == MailKind.REQUEST_APPROVED:
        if side == "participant":
            return f"{other} approved your chat request: pick a slot"
        return f"{other} accepted your invitation"
    if kind == MailKind.REQUEST_DECLINED:
        noun = "chat request" if side == "participant" else "invitation"
        return f"{other} declined your {noun}"
    return {
        MailKind.CHAT_CONFIRMED: f"Confirmed: 1-1 chat with {other}, {when_short}",
        MailKind.CHAT_RESCHEDULED: f"New time: 1-1 chat with {other}, {when_short}",
        MailKind.CHAT_CANCELLED: f"Cancelled: 1-1 chat with {other}",
        MailKind.REMINDER: f"In 15 minutes: 1-1 chat with {other}",
        MailKind.JOIN_OPEN: f"You can join now: 1-1 chat with {other}",
        MailKind.PEER_WAITING: f"{other} is waiting for you in the chat room",
    }[kind]


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def mail_context(delivery: Delivery, base_url: str) -> dict[str, Any]:
    """What the templates see: names and messages as people typed them (the HTML templates
    escape them), times in the recipient's zone, links built from ids."""
    p = delivery.payload
    side = p["recipient_side"]
    other_side = "participant" if side == "employee" else "employee"
    other = p[other_side]["name"]
    starts = datetime.fromisoformat(p["starts_at"]) if p["starts_at"] else None
    ends = datetime.fromisoformat(p["ends_at"]) if p["ends_at"] else None
    opens = datetime.fromisoformat(p["join_opens_at"]) if p["join_opens_at"] else None
    when = format_when(starts, ends, p["zone"]) if starts and ends else ""
    kind = MailKind(p["kind"])
    tab = _TABS.get(kind, {}).get(side, "schedule" if side == "participant" else "confirmed")
    return {
        "kind": kind.value,
        "subject": _one_line(
            _subject(kind, side, other, _short_when(starts, p["zone"]) if starts else "")
        ),
        "recipient": p[side]["name"],
        "recipient_side": side,
        "other": other,
        # The company names the employee's side: shown to the participant only.
        "company": p["company"] if side == "participant" else "",
        "event": p["event_name"],
        "zone": p["zone"],
        "when": when,
        "opens_before": _minutes(int((starts - opens).total_seconds())) if starts and opens else "",
        "request_message": p["request_message"],
        "answer": p["answer"],
        "decline_message": p["decline_message"],
        "cancel_reason": p["cancel_reason"],
        "actor_is_other": p.get("actor_side") == other_side,
        "chat_link": f"{base_url}/#/chat/{p['chat_id']}",
        "action_link": f"{base_url}/#/{side}/{tab}",
        "settings_link": f"{base_url}/#/settings",
    }


def _calendar_method(kind: MailKind, payload: dict[str, Any]) -> Method | None:
    if kind in (MailKind.CHAT_CONFIRMED, MailKind.CHAT_RESCHEDULED):
        return "REQUEST"
    if kind == MailKind.CHAT_CANCELLED and payload["starts_at"]:
        return "CANCEL"
    return None


def compose(delivery: Delivery, base_url: str, sender: str) -> EmailMessage:
    """The message for one outbox row; the same bytes of content on every try."""
    context = mail_context(delivery, base_url)
    kind = delivery.kind
    text = _ENV.get_template(f"{kind.value}.txt").render(context)
    html = _ENV.get_template(f"{kind.value}.html").render(context)
    msg = EmailMessage()
    msg["Subject"] = context["subject"]
    msg["From"] = sender
    msg["To"] = formataddr((_one_line(context["recipient"]), delivery.to_address))
    msg["Date"] = format_datetime(delivery.created_at)
    msg["Message-ID"] = delivery.message_id
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to Duet
    msg["X-Duet-Kind"] = kind.value
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    method = _calendar_method(kind, delivery.payload)
    if method is not None:
        p = delivery.payload
        invite = Invite(
            p["chat_id"],
            p["event_name"],
            datetime.fromisoformat(p["starts_at"]),
            datetime.fromisoformat(p["ends_at"]),
            int(p["sequence"]),
            CalendarPerson(**p["employee"]),
            CalendarPerson(**p["participant"]),
        )
        ics = invite_calendar(invite, method, base_url, delivery.created_at)
        msg.add_attachment(
            ics,
            maintype="text",
            subtype="calendar",
            filename="invite.ics" if method == "REQUEST" else "cancel.ics",
            params={"method": method},
        )
    # Boundaries from the Message-ID instead of random ones: a retry is the same bytes.
    for index, part in enumerate(p for p in msg.walk() if p.is_multipart()):
        digest = hashlib.sha256(f"{delivery.message_id}/{index}".encode()).hexdigest()[:32]
        part.set_boundary(f"=_duet_{digest}")
    return msg
