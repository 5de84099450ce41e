"""Outbox rows for tests that compose or send a mail without a database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scheduling.mail_rules import MailKind
from scheduling.store_mail import Delivery


def delivery(kind: MailKind, text: str = "", side: str = "participant", **more: Any) -> Delivery:
    """A row of `kind` whose every person-supplied text ends with `text`; `more` overrides."""
    payload = {
        "kind": kind.value,
        "chat_id": "c" * 32,
        "event_name": f"Fair {text}",
        "event_timezone": "Europe/Berlin",
        "zone": "Europe/Berlin",
        "company": f"Acme {text}",
        "recipient_side": side,
        "initiator": "participant",
        "actor_side": "employee",
        "employee": {"id": "ada", "name": f"Ada {text}", "email": "ada@acme.example"},
        "participant": {"id": "sam", "name": f"Sam {text}", "email": "sam@student.example"},
        "state": "confirmed",
        "sequence": 1,
        "starts_at": "2026-12-01T08:00:00Z",
        "ends_at": "2026-12-01T08:30:00Z",
        "join_opens_at": "2026-12-01T07:55:00Z",
        "request_message": f"Hello {text}",
        "answer": f"Answer {text}",
        "decline_message": f"No {text}",
        "cancel_reason": f"Because {text}",
        "written_at": "2026-11-30T07:00:00Z",
    } | more
    return Delivery(
        id=1,
        key=f"{kind.value}:x",
        message_id="<fixed@duet.mail>",
        kind=kind,
        chat_id="c" * 32,
        user_id="sam",
        to_address="sam@student.example",
        payload=payload,
        attempts=0,
        created_at=datetime(2026, 11, 30, 7, 0, tzinfo=UTC),
    )
