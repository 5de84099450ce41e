"""Composing mails (no I/O): every person-supplied text of the XSS corpus comes out of every
kind's HTML body as text, never as markup; headers never carry a line break; one row composes to
the same message on every try; the rules of who gets what, reminders and backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from markupsafe import escape

from notifications.compose import compose
from scheduling.mail_rules import (
    BACKOFF_MAX,
    MailKind,
    backoff,
    due_reminders,
    mails_for,
    waiting_side,
)
from scheduling.model import JoinPolicy, Side
from scheduling.states import Action
from tests.support.mail import delivery
from tests.support.xss import CORPUS

STARTS = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
BASE = "https://fair.example"
# What the templates themselves are made of; anything else came from a person's text.
TEMPLATE_TAGS = {
    "html", "head", "meta", "title", "body", "table", "tr", "td", "span", "strong", "p", "a",
    "div", "blockquote",
}  # fmt: skip


class Markup(HTMLParser):
    """The tags, attributes and text of an HTML body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.mark.parametrize("kind", list(MailKind))
@pytest.mark.parametrize("text", CORPUS)
def test_every_person_supplied_text_is_escaped_in_every_html_mail(
    kind: MailKind, text: str
) -> None:
    for side in ("participant", "employee"):
        message = compose(delivery(kind, text, side), BASE, "Duet <duet@fair.example>")
        html = str(message.get_body(preferencelist=("html",)).get_content())  # type: ignore[union-attr]
        parsed = Markup()
        parsed.feed(html)
        assert parsed.tags <= TEMPLATE_TAGS, (
            f"{kind} ({side}) grew tags {parsed.tags - TEMPLATE_TAGS}"
        )
        assert not [a for a, _ in parsed.attributes if a.startswith("on")]
        hrefs = [v for a, v in parsed.attributes if a == "href"]
        assert hrefs and all(v is not None and v.startswith(f"{BASE}/#/") for v in hrefs)
        # The text is there, as text: escaped in the source, whole once parsed.
        assert str(escape(text)) in html
        assert text in "".join(parsed.text)
        # The plain body is not escaped: a person reads exactly what was typed.
        plain = str(message.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
        assert f"Ada {text}" in plain or f"Sam {text}" in plain


def test_headers_never_carry_a_line_break() -> None:
    sneaky = "Eve\r\nBcc: victim@example.org"
    message = compose(delivery(MailKind.CHAT_CONFIRMED, sneaky), BASE, "Duet <d@fair.example>")
    headers = message.as_bytes().split(b"\n\n", 1)[0]
    assert b"\nBcc:" not in headers and b"\r" not in headers
    assert "Bcc" not in message and all("\n" not in str(v) for v in message.values())
    assert (
        message["Subject"]
        == "Confirmed: 1-1 chat with Ada Eve Bcc: victim@example.org, Tue 1 Dec, 09:00"
    )


def test_one_row_composes_to_the_same_message_every_time() -> None:
    one = compose(delivery(MailKind.CHAT_RESCHEDULED, "x"), BASE, "Duet <d@fair.example>")
    two = compose(delivery(MailKind.CHAT_RESCHEDULED, "x"), BASE, "Duet <d@fair.example>")
    assert one.as_bytes() == two.as_bytes()
    assert one["Message-ID"] == "<fixed@duet.mail>"


def test_a_cancel_before_any_slot_attaches_no_calendar() -> None:
    approved_only = delivery(MailKind.CHAT_CANCELLED, "x", starts_at=None, ends_at=None)
    message = compose(approved_only, BASE, "Duet <d@fair.example>")
    assert not list(message.iter_attachments())
    assert "was cancelled by Ada x." in str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


def test_who_gets_what() -> None:
    assert mails_for(None, Side.PARTICIPANT) == [(Side.EMPLOYEE, MailKind.REQUEST_RECEIVED)]
    assert mails_for(None, Side.EMPLOYEE) == [(Side.PARTICIPANT, MailKind.REQUEST_RECEIVED)]
    assert mails_for(Action.APPROVE, Side.PARTICIPANT) == [
        (Side.PARTICIPANT, MailKind.REQUEST_APPROVED)
    ]
    assert mails_for(Action.DECLINE, Side.EMPLOYEE) == [(Side.EMPLOYEE, MailKind.REQUEST_DECLINED)]
    for action, kind in (
        (Action.BOOK, MailKind.CHAT_CONFIRMED),
        (Action.RESCHEDULE, MailKind.CHAT_RESCHEDULED),
        (Action.CANCEL, MailKind.CHAT_CANCELLED),
    ):
        assert mails_for(action, Side.PARTICIPANT) == [
            (Side.EMPLOYEE, kind),
            (Side.PARTICIPANT, kind),
        ]
    for quiet in (Action.WITHDRAW, Action.COMPLETE, Action.NO_SHOW):
        assert mails_for(quiet, Side.PARTICIPANT) == []


def test_reminders_are_due_in_their_windows_only() -> None:
    ends, policy = STARTS + timedelta(minutes=30), JoinPolicy(300, 120)

    def due(at: datetime) -> list[MailKind]:
        return [d.kind for d in due_reminders(STARTS, ends, policy, at)]

    assert due(STARTS - timedelta(minutes=15, seconds=1)) == []
    assert due(STARTS - timedelta(minutes=15)) == [MailKind.REMINDER]
    assert due(STARTS - timedelta(minutes=5)) == [MailKind.REMINDER, MailKind.JOIN_OPEN]
    assert due(STARTS) == [MailKind.JOIN_OPEN]  # the T-15 one no longer helps
    assert due(ends) == []


def test_waiting_after_two_minutes_alone() -> None:
    now = STARTS + timedelta(minutes=3)
    assert waiting_side({"ada": now - timedelta(minutes=2)}, "ada", "sam", now) == Side.PARTICIPANT
    assert waiting_side({"sam": now - timedelta(minutes=2)}, "ada", "sam", now) == Side.EMPLOYEE
    assert waiting_side({"ada": now - timedelta(seconds=119)}, "ada", "sam", now) is None
    both = {"ada": now - timedelta(minutes=5), "sam": now}
    assert waiting_side(both, "ada", "sam", now) is None


def test_backoff_grows_and_is_capped() -> None:
    waits = [backoff(n) for n in range(1, 9)]
    assert waits[:5] == [timedelta(seconds=s) for s in (30, 60, 120, 240, 480)]
    assert waits[5:] == [BACKOFF_MAX] * 3
    assert backoff(10_000) == BACKOFF_MAX
