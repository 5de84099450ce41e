"""Mail, end to end against a real SMTP server (aiosmtpd, its own process): what each change
sends to whom, the calendar invitations parsed with icalendar, reminders that follow the
schedule, the "waiting for you" mail, preferences, and no loss and no duplicates through an
SMTP outage. The clock is a ManualClock moved by hand; each worker round is run by the test.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from icalendar import Calendar
from markupsafe import escape

from notifications.transport import SmtpTransport
from notifications.worker import MailWorker, Round
from scheduling.clock import ManualClock
from scheduling.db import read_tx, write_tx
from scheduling.model import Role
from scheduling.schema import attendance, mail_deliveries
from tests.support.apiclient import ORGANIZER, Api, Person
from tests.support.seed import EVENT, confirmed_chat
from tests.support.services import RunningService, smtp_received, start_smtp
from tests.support.xss import XSS
from web.keys import ENGINE

pytestmark = pytest.mark.both_backends

ADA = Person("ada", "Ada Lovelace", Role.EMPLOYEE, "acme", email="ada@acme.example")
SAM = Person("sam", "Sam Student", Role.PARTICIPANT, email="sam@student.example")
BASE = "https://fair.example"
# The seed's event: 2026-12-01 in Berlin, 30-minute slots from 09:00 (08:00 UTC).
FIRST = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SECOND = FIRST + timedelta(minutes=30)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[RunningService]:
    service = start_smtp(tmp_path)
    try:
        yield service
    finally:
        service.stop()


def make_worker(api: Api, smtp: RunningService, owner: str = "node-a") -> MailWorker:
    return MailWorker(
        api.client.app[ENGINE],
        api.clock,
        SmtpTransport("127.0.0.1", smtp.port, "none", timeout=5),
        base_url=BASE,
        sender="Duet <duet@fair.example>",
        owner=owner,
    )


async def drain(worker: MailWorker) -> Round:
    """Rounds until one finds nothing to send; what they did in total."""
    total = Round()
    for _ in range(50):
        done = await worker.run_once()
        for name in ("scheduled", "sent", "failed", "dropped"):
            setattr(total, name, getattr(total, name) + getattr(done, name))
        if done.sent + done.failed + done.dropped == 0:
            return total
    raise AssertionError("the outbox never emptied")


def kinds(messages: list[EmailMessage]) -> list[tuple[str, str]]:
    return [(str(m["X-Duet-Kind"]), str(m["To"].addresses[0].addr_spec)) for m in messages]


def calendar_of(message: EmailMessage) -> tuple[str, Any, str]:
    """(METHOD, the VEVENT, the part's method parameter) of the attached invitation."""
    (part,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    cal = Calendar.from_ical(part.get_content())
    (event,) = cal.walk("VEVENT")
    return str(cal["METHOD"]), event, str(part.get_param("method"))


def text_of(message: EmailMessage) -> str:
    return str(message.get_body(preferencelist=("plain",)).get_content())


def html_of(message: EmailMessage) -> str:
    return str(message.get_body(preferencelist=("html",)).get_content())


async def book_two_slots(api: Api) -> tuple[str, str, int]:
    """A chat confirmed at FIRST with SECOND also published: (chat id, event id, SECOND's id)."""
    chat_id, chat = await confirmed_chat(api, ADA, SAM)
    event_id = chat["event_id"]
    await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {
            "days": [
                {
                    "date": "2026-12-01",
                    "duration_min": 30,
                    "slots": [FIRST.isoformat(), SECOND.isoformat()],
                }
            ]
        },
    )
    await api.call(ADA, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/ada/slots")
    second = next(s["id"] for s in free["slots"] if s["starts_at"].startswith("2026-12-01T08:30"))
    return chat_id, event_id, second


async def test_request_answer_and_booking_mail_both_people_with_an_invitation(
    api: Api, smtp: RunningService
) -> None:
    # Sam reads times in Kolkata (his own setting); Ada never chose, so hers are the event's.
    await api.call(SAM, "PUT", "/api/v1/me/time-zone", {"time_zone": "Asia/Kolkata"})
    chat_id, _ = await confirmed_chat(api, ADA, SAM)
    worker = make_worker(api, smtp)
    done = await drain(worker)
    assert done.sent == 4 and done.failed == 0
    got = smtp_received(smtp)
    assert kinds(got) == [
        ("request_received", "ada@acme.example"),
        ("request_approved", "sam@student.example"),
        ("chat_confirmed", "ada@acme.example"),
        ("chat_confirmed", "sam@student.example"),
    ]
    request, approved, confirmed_ada, confirmed_sam = got
    assert request["Subject"] == "Sam Student asks you for a 1-1 chat"
    assert f"{BASE}/#/employee/requested" in text_of(request)
    assert approved["Subject"] == "Ada Lovelace approved your chat request: pick a slot"
    assert f"{BASE}/#/participant/requests" in text_of(approved)
    assert 'href="https://fair.example/#/participant/requests"' in html_of(approved)
    assert "Pick a slot" in html_of(approved)

    assert confirmed_sam["From"] == "Duet <duet@fair.example>"
    assert confirmed_sam["To"] == "Sam Student <sam@student.example>"
    assert confirmed_sam["Subject"] == "Confirmed: 1-1 chat with Ada Lovelace, Tue 1 Dec, 13:30"
    assert confirmed_sam["Message-ID"] != confirmed_ada["Message-ID"]
    # Times in the recipient's zone (mail_rules.recipient_zone): Sam's own, else the event's.
    assert "Tuesday 1 December 2026, 13:30\u201314:00 (Asia/Kolkata)" in text_of(confirmed_sam)
    assert "Tuesday 1 December 2026, 09:00\u201309:30 (Europe/Berlin)" in text_of(confirmed_ada)
    assert "With: Ada Lovelace · acme\n" in text_of(confirmed_sam)
    assert "With: Sam Student\n" in text_of(confirmed_ada)  # an employee's own company: not said
    assert f"{BASE}/#/chat/{chat_id}" in text_of(confirmed_sam)
    method, vevent, param = calendar_of(confirmed_sam)
    assert (method, param) == ("REQUEST", "REQUEST")
    assert str(vevent["UID"]) == f"chat-{chat_id}@duet" and int(vevent["SEQUENCE"]) == 0
    assert vevent.decoded("DTSTART") == FIRST and vevent.decoded("DTEND") == SECOND
    assert str(vevent["ORGANIZER"]) == "mailto:ada@acme.example"
    assert {str(a) for a in vevent["ATTENDEE"]} == {
        "mailto:ada@acme.example",
        "mailto:sam@student.example",
    }
    # The download names the same addresses, so calendars match it to the invitation.
    download = Calendar.from_ical(await api.call(SAM, "GET", f"/api/v1/chats/{chat_id}.ics"))
    assert str(download.walk("VEVENT")[0]["ORGANIZER"]) == "mailto:ada@acme.example"
    assert await drain(worker) == Round()  # nothing is sent twice


async def test_reschedule_keeps_the_uid_with_a_higher_sequence_and_cancel_removes_it(
    api: Api, smtp: RunningService
) -> None:
    chat_id, _, second = await book_two_slots(api)
    worker = make_worker(api, smtp)
    await drain(worker)
    before = len(smtp_received(smtp))
    await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/reschedule", {"slot_id": second})
    await api.call(
        SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "I got an offer, thanks!"}
    )
    await drain(worker)
    got = smtp_received(smtp)[before:]
    assert [k for k, _ in kinds(got)] == ["chat_rescheduled"] * 2 + ["chat_cancelled"] * 2
    moved, cancelled = got[0], next(m for m in got[2:] if m["To"].addresses[0].username == "ada")
    method, vevent, _ = calendar_of(moved)
    assert method == "REQUEST" and int(vevent["SEQUENCE"]) == 1
    assert str(vevent["UID"]) == f"chat-{chat_id}@duet"
    assert vevent.decoded("DTSTART") == SECOND
    assert "09:30\u201310:00" in text_of(moved)

    method, vevent, param = calendar_of(cancelled)
    assert (method, param) == ("CANCEL", "CANCEL")
    assert str(vevent["STATUS"]) == "CANCELLED" and int(vevent["SEQUENCE"]) == 2
    assert str(vevent["UID"]) == f"chat-{chat_id}@duet"
    # RFC 5546: a CANCEL names the ORGANIZER and the ATTENDEEs it removes the event for.
    assert str(vevent["ORGANIZER"]) == "mailto:ada@acme.example"
    assert {str(a) for a in vevent["ATTENDEE"]} == {
        "mailto:ada@acme.example",
        "mailto:sam@student.example",
    }
    assert cancelled["Subject"] == "Cancelled: 1-1 chat with Sam Student"
    assert "was cancelled by Sam Student" in text_of(cancelled)
    assert "I got an offer, thanks!" in text_of(cancelled)


async def test_invitation_and_decline_go_to_the_right_people(
    api: Api, smtp: RunningService
) -> None:
    await api.call(ORGANIZER, "POST", "/api/v1/events", EVENT, expect=201)
    event_id = (await api.call(ORGANIZER, "GET", "/api/v1/events"))["events"][0]["id"]
    await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": "2026-12-01", "duration_min": 30, "slots": [FIRST.isoformat()]}]},
    )
    await api.call(ADA, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    await api.call(SAM, "PUT", "/api/v1/me/notifications", {"kinds": []})  # Sam is stored
    invite = await api.call(
        ADA,
        "POST",
        f"/api/v1/events/{event_id}/chats",
        {"participant_id": "sam", "message": f"Your robotics project looked great. {XSS}"},
        expect=201,
    )
    await api.call(
        SAM,
        "POST",
        f"/api/v1/chats/{invite['id']}/decline",
        {"message": "Thank you, I have accepted an offer elsewhere."},
    )
    await drain(make_worker(api, smtp))
    invited, declined = smtp_received(smtp)
    assert kinds([invited, declined]) == [
        ("request_received", "sam@student.example"),
        ("request_declined", "ada@acme.example"),
    ]
    assert invited["Subject"] == "Ada Lovelace invites you to a 1-1 chat"
    assert f"Your robotics project looked great. {XSS}" in text_of(invited)
    assert XSS not in html_of(invited) and str(escape(XSS)) in html_of(invited)
    assert f"{BASE}/#/participant/invitations" in text_of(invited)
    assert declined["Subject"] == "Sam Student declined your invitation"
    assert "Thank you, I have accepted an offer elsewhere." in html_of(declined)


async def test_smtp_down_for_ten_minutes_loses_nothing_and_sends_nothing_twice(
    api: Api, smtp: RunningService, clock: ManualClock
) -> None:
    smtp.stop()
    await book_two_slots(api)
    chat_id, _ = await confirmed_chat(
        api, ADA, Person("mei", "Mei Chen", Role.PARTICIPANT, email="mei@student.example"), nth=2
    )
    assert chat_id
    async with read_tx(api.client.app[ENGINE]) as conn:
        written = (
            await conn.execute(sa.select(sa.func.count()).select_from(mail_deliveries))
        ).scalar_one()
    assert written == 8  # two requests, two approvals, four confirmations
    # Two nodes' workers take turns through ten minutes of outage, a round every 15 s.
    workers = [make_worker(api, smtp, "node-a"), make_worker(api, smtp, "node-b")]
    start = clock.now()
    tries = 0
    while clock.now() < start + timedelta(minutes=10):
        rounds = await asyncio.gather(*(w.run_once() for w in workers))
        assert all(r.sent == 0 for r in rounds)
        tries += sum(r.failed for r in rounds)
        clock.advance(timedelta(seconds=15))
    # Backoff: 30 s, 1, 2, 4, 8 minutes: five tries each in ten minutes, not forty.
    assert 8 * 4 <= tries <= 8 * 6
    async with read_tx(api.client.app[ENGINE]) as conn:
        rows = (await conn.execute(sa.select(mail_deliveries))).mappings().all()
    assert {r["status"] for r in rows} == {"pending"}
    assert all("refused" in r["last_error"] or "connect" in r["last_error"].lower() for r in rows)

    smtp.start()  # back, on the same port
    for _ in range(40):  # both nodes, side by side, until every mail went
        await asyncio.gather(*(w.run_once() for w in workers))
        clock.advance(timedelta(seconds=15))
    got = smtp_received(smtp)
    ids = Counter(str(m["Message-ID"]) for m in got)
    assert len(ids) == 8 and set(ids.values()) == {1}  # all of them, each once
    async with read_tx(api.client.app[ENGINE]) as conn:
        rows = (await conn.execute(sa.select(mail_deliveries))).mappings().all()
    assert {r["status"] for r in rows} == {"sent"}
    assert {r["message_id"] for r in rows} == set(ids)  # the Message-ID fixed at insert


async def test_reminders_follow_a_reschedule_and_a_cancel_removes_them(
    api: Api, smtp: RunningService, clock: ManualClock
) -> None:
    chat_id, _, second = await book_two_slots(api)
    worker = make_worker(api, smtp)
    await drain(worker)
    sent_before = len(smtp_received(smtp))

    def new_kinds() -> list[tuple[str, str]]:
        return kinds(smtp_received(smtp)[sent_before:])

    clock.set(FIRST - timedelta(minutes=15, seconds=1))
    await drain(worker)
    assert new_kinds() == []
    clock.set(FIRST - timedelta(minutes=15))
    await drain(worker)
    assert sorted(new_kinds()) == [
        ("reminder", "ada@acme.example"),
        ("reminder", "sam@student.example"),
    ]
    reminder = smtp_received(smtp)[-1]
    assert reminder["Subject"].startswith("In 15 minutes: 1-1 chat with")
    await drain(worker)  # every round derives it again; the key sends it once
    assert len(new_kinds()) == 2

    clock.set(FIRST - timedelta(minutes=10))
    await api.call(ADA, "POST", f"/api/v1/chats/{chat_id}/reschedule", {"slot_id": second})
    clock.set(FIRST - timedelta(minutes=5))  # the old time's Join window would open now
    await drain(worker)
    assert [k for k, _ in new_kinds()[2:]] == ["chat_rescheduled"] * 2  # no join_open

    clock.set(SECOND - timedelta(minutes=15))
    await drain(worker)
    assert [k for k, _ in new_kinds()[4:]] == ["reminder"] * 2  # again, for the new time

    # A reminder written but not yet sent when the chat is cancelled is not sent at all.
    clock.set(SECOND - timedelta(minutes=5))
    smtp.stop()
    failed = await drain(worker)
    assert failed.failed == 2  # the two join_open mails, still pending
    await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "Sorry."})
    smtp.start()
    clock.advance(timedelta(minutes=1))
    done = await drain(worker)
    assert done.dropped == 2 and done.sent == 2  # the cancellations went, the reminders not
    assert [k for k, _ in new_kinds()[6:]] == ["chat_cancelled"] * 2
    clock.set(SECOND)
    assert (await drain(worker)).sent == 0  # nothing more about a cancelled chat


async def test_join_open_carries_the_join_link_and_waiting_is_sent_once(
    api: Api, smtp: RunningService, clock: ManualClock
) -> None:
    chat_id, _ = await confirmed_chat(api, ADA, SAM)
    worker = make_worker(api, smtp)
    clock.set(FIRST - timedelta(minutes=5))  # the Join window opens (the event's default)
    await drain(worker)
    join_open = [m for m in smtp_received(smtp) if m["X-Duet-Kind"] == "join_open"]
    assert len(join_open) == 2
    assert f"{BASE}/#/chat/{chat_id}" in text_of(join_open[0])
    assert f'href="{BASE}/#/chat/{chat_id}"' in html_of(join_open[0])

    async with write_tx(api.client.app[ENGINE]) as conn:
        joined = FIRST - timedelta(minutes=1)
        await conn.execute(
            attendance.insert().values(
                chat_id=chat_id, user_id="ada", first_joined_at=joined, last_seen_at=joined
            )
        )
    clock.set(FIRST + timedelta(seconds=59))
    await drain(worker)
    assert not [m for m in smtp_received(smtp) if m["X-Duet-Kind"] == "peer_waiting"]
    clock.set(FIRST + timedelta(minutes=1))  # Ada has been alone for two minutes
    await drain(worker)
    clock.advance(timedelta(minutes=3))
    await drain(worker)
    (waiting,) = [m for m in smtp_received(smtp) if m["X-Duet-Kind"] == "peer_waiting"]
    assert waiting["To"].addresses[0].addr_spec == "sam@student.example"
    assert waiting["Subject"] == "Ada Lovelace is waiting for you in the chat room"
    assert f"{BASE}/#/chat/{chat_id}" in text_of(waiting)


async def test_each_person_turns_kinds_of_email_off(api: Api, smtp: RunningService) -> None:
    settings = await api.call(SAM, "GET", "/api/v1/me/notifications")
    assert settings["email"] == "sam@student.example"
    assert {k["kind"] for k in settings["kinds"]} >= {"chat_confirmed", "reminder"}
    assert all(k["enabled"] and k["label"] for k in settings["kinds"])
    off = {"kinds": [{"kind": "chat_confirmed", "enabled": False}]}
    settings = await api.call(SAM, "PUT", "/api/v1/me/notifications", off)
    assert [k["kind"] for k in settings["kinds"] if not k["enabled"]] == ["chat_confirmed"]
    wrong = await api.call(
        SAM,
        "PUT",
        "/api/v1/me/notifications",
        {"kinds": [{"kind": "spam", "enabled": True}]},
        expect=422,
    )
    assert "kinds" in wrong["detail"]

    await confirmed_chat(api, ADA, SAM)
    await drain(make_worker(api, smtp))
    assert ("chat_confirmed", "sam@student.example") not in kinds(smtp_received(smtp))
    assert ("chat_confirmed", "ada@acme.example") in kinds(smtp_received(smtp))
    # Back on: the next one comes again.
    await api.call(
        SAM,
        "PUT",
        "/api/v1/me/notifications",
        {"kinds": [{"kind": "chat_confirmed", "enabled": True}]},
    )
    assert all(
        k["enabled"] for k in (await api.call(SAM, "GET", "/api/v1/me/notifications"))["kinds"]
    )


async def test_people_without_an_address_get_no_mail(api: Api, smtp: RunningService) -> None:
    nobody = Person("sam", "Sam Student", Role.PARTICIPANT)
    await confirmed_chat(api, ADA, nobody)
    await drain(make_worker(api, smtp))
    assert {to for _, to in kinds(smtp_received(smtp))} == {"ada@acme.example"}


async def test_an_email_claim_that_is_not_one_address_is_ignored(api: Api) -> None:
    for claim in (
        "sam@student.example\r\nBcc: all@example.org",
        "Sam <sam@x.example>",
        "sam\x00@student.example",
        "nope",
    ):
        sneaky = Person("sam", "Sam Student", Role.PARTICIPANT, email=claim)
        assert (await api.call(sneaky, "GET", "/api/v1/me/notifications"))["email"] == ""
    await api.call(SAM, "PUT", "/api/v1/me/notifications", {"kinds": []})
    # A later token without the claim keeps the address an earlier one gave.
    plain = Person("sam", "Sam Student", Role.PARTICIPANT)
    await api.call(plain, "PUT", "/api/v1/me/notifications", {"kinds": []})
    assert (await api.call(plain, "GET", "/api/v1/me/notifications"))["email"] == SAM.email
