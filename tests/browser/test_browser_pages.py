"""The pages around the calls: the demo sign-in, the organizer's settings, a narrow screen, the
quota an employee's selection must fit, and names and messages that are one very long word."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import expect

from scheduling.clock import ManualClock
from scheduling.model import Role
from scheduling.store_events import UserRecord
from tests.support.browser import (
    SECRET,
    chromium,
    new_person_page,
    page_overflow,
    running_duet,
    screenshot,
    sign_in,
    sign_in_with_token,
)
from web.auth import mint_token

pytestmark = pytest.mark.browser

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)
# A free 15-minute slot of Grace's tomorrow (12:00 in Berlin), outside her published morning.
GRACE_FREE_TOMORROW = "2026-12-01T11:00:00Z"
# One unbroken word as long as a name or a request's text may be.
LONG_WORD = "Pneumonoultramicroscopic" * 83 + "silicovolcanoconiosis"[:8]


async def test_sign_in_then_organizer_sets_a_quota_that_employees_see(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, olivia = await new_person_page(browser, duet)
        await olivia.goto("/")
        await expect(olivia).to_have_url(f"{duet.base_url}/#/signin")
        groups = olivia.locator(".signin-group h2")
        await expect(groups).to_have_text(
            [
                "Organizers",
                "Company employees · Acme",
                "Company employees · Globex",
                "Participants",
            ]
        )
        await screenshot(olivia, "sign-in")

        await olivia.get_by_role("button", name="Olivia Organizer").click()
        await expect(olivia).to_have_url(f"{duet.base_url}/#/organizer")
        await expect(olivia.locator(".day-row")).to_have_count(2)
        await expect(olivia.locator(".event-form")).to_contain_text(
            "Times are in the event's time zone (Europe/Berlin)."
        )
        # A company with a quota is shown as text (name and id), never as an editable box.
        globex = olivia.locator('.quota-row[data-company="globex"]')
        await expect(globex.locator(".quota-name")).to_have_text("Globex Energy")
        await expect(globex.locator(".quota-company .muted")).to_have_text("Company id: globex")
        await expect(olivia.locator(".quota-rows input[type=text]")).to_have_count(0)
        await globex.get_by_label("Slot quota").fill("20")
        await globex.get_by_role("button", name="Save").click()
        await expect(olivia.locator(".alert-success")).to_have_text(
            "Quota saved: Globex Energy may publish 20 slots."
        )
        # A quota below what is published is the server's call, said in its own words.
        await globex.get_by_label("Slot quota").fill("-1")
        await globex.get_by_role("button", name="Save").click()
        await expect(olivia.locator(".alert-error")).to_have_text(
            "'slot_quota' must be a whole number from 0 to 10000."
        )
        # Only a row being added asks for a company id, under a label; saved, it becomes text.
        await olivia.get_by_role("button", name="+ Add a company").click()
        added = olivia.locator(".quota-row").last
        await added.get_by_label("Company id").fill("initech")
        await added.get_by_label("Slot quota").fill("5")
        await added.get_by_role("button", name="Save").click()
        await expect(olivia.locator(".alert-success")).to_have_text(
            "Quota saved: initech may publish 5 slots."
        )
        await expect(added).to_have_attribute("data-company", "initech")
        await expect(added.locator(".quota-company .muted")).to_have_text("Company id: initech")
        await expect(olivia.locator(".quota-rows input[type=text]")).to_have_count(0)

        # Grace, on a phone-sized screen in another context, sees the new figure.
        _, grace = await new_person_page(browser, duet, {"width": 390, "height": 844})
        await sign_in(grace, "Grace Hopper")
        await expect(grace.locator(".quota-box")).to_contain_text("12 of 20")
        await expect(grace.locator(".slot-grid").first).to_be_visible()
        await screenshot(grace, "employee-narrow")

        # "Select all" takes no more than the quota leaves (8 of 20), and says so.
        left = grace.locator("#quota-left")
        await expect(left).to_have_text("8 slots left in your company's quota.")
        today = grace.locator('.day[data-date="2026-11-30"]')
        await expect(today.locator(".grid-zone")).to_have_text("Times in CET (Europe/Berlin)")
        await today.get_by_role("button", name="Select all").click()
        await expect(today.locator(".slot-pending")).to_have_count(8)
        await expect(grace.locator(".alert-warn")).to_contain_text(
            "Selected 8 slots: that is all your company's quota has left"
        )
        await expect(left).to_have_text(
            "0 slots left in your company's quota after confirming 8 new."
        )
        # One more by hand is over the quota: said before Confirm, and Confirm saves nothing.
        tomorrow = grace.locator('.day[data-date="2026-12-01"]')
        await tomorrow.locator(f'.slot-cell[data-start="{GRACE_FREE_TOMORROW}"]').click()
        over = (
            "Your selection is 1 slot over your company's quota. "
            "Remove it or ask the organizer for a larger quota."
        )
        await expect(left).to_have_text(over)
        await grace.get_by_role("button", name="Confirm Availability").click()
        await expect(grace.locator(".alert-error")).to_have_text(over)
        await grace.reload()
        await expect(grace.locator(".slot-grid").first).to_be_visible()
        await expect(grace.locator(".slot-pending")).to_have_count(0)  # no draft was saved
        await expect(grace.locator(".quota-box")).to_contain_text("12 of 20")
        # The profile takes what the server takes: the question is a multi-line box.
        question = grace.get_by_label("Question for participants")
        assert await question.evaluate("(el) => el.tagName") == "TEXTAREA"
        await expect(question).to_have_attribute("maxlength", "500")
        await expect(question).to_have_value("Which project are you proudest of?")
        await expect(grace.get_by_label("Background")).to_have_attribute("maxlength", "1000")
        # Signing out forgets the token in this tab only.
        await grace.get_by_role("button", name="Sign out").click()
        await expect(grace).to_have_url(f"{duet.base_url}/#/signin")
        assert await grace.evaluate("() => sessionStorage.getItem('duet.token')") is None
        assert await olivia.evaluate("() => sessionStorage.getItem('duet.token')") is not None
        assert olivia.duet_errors == [] and grace.duet_errors == []  # type: ignore[attr-defined]


async def test_invitation_accepted_and_a_request_declined_with_a_message(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        # Mei accepts Linus's invitation (seeded) and then picks one of his free times.
        _, mei = await new_person_page(browser, duet)
        await sign_in(mei, "Mei Chen")
        # On the Companies tab, Linus's invitation is an invitation, not a request of hers.
        linus = mei.locator('.offer[data-person="Linus Berg"] .badge')
        await expect(linus).to_have_text("Invitation")
        await expect(linus).to_have_attribute("href", "#/participant/invitations")
        await mei.goto("/#/participant/invitations")
        invitation = mei.locator('.chat-card[data-person="Linus Berg"]')
        await expect(invitation.locator(".badge")).to_have_text("Invitation")
        await invitation.get_by_role("button", name="Accept").click()
        await mei.goto("/#/participant/requests")
        accepted = mei.locator('.chat-card[data-person="Linus Berg"]')
        await expect(accepted).to_have_attribute("data-state", "approved")
        await accepted.get_by_role("button", name="Pick a time").click()
        await expect(accepted.locator(".slot-button")).to_have_count(6)
        await expect(accepted.locator(".slot-day-title")).to_have_text(
            re.compile(r"^Tue,? 1 Dec · CET · \d+-minute chats$")
        )

        # Someone whose name, answer and message are each one 2,000-character word asks Ada
        # for a chat: every page wraps the word instead of growing sideways.
        _, word = await new_person_page(browser, duet)
        person = UserRecord("longword", LONG_WORD, Role.PARTICIPANT, None)
        await sign_in_with_token(word, mint_token(SECRET, person, clock.now()))
        offer = word.locator('.offer[data-person="Ada Lovelace"]')
        await offer.get_by_role("button", name="Request a chat").click()
        await offer.get_by_label("What role are you looking for?").fill(LONG_WORD)
        await offer.get_by_label("Message").fill(LONG_WORD)
        await offer.get_by_role("button", name="Send request").click()
        await expect(word).to_have_url(f"{duet.base_url}/#/participant/requests")
        await expect(word.locator(".chat-card .chat-answer .answer-text")).to_have_text(LONG_WORD)
        assert await page_overflow(word) == 0

        # Ada declines Priya's waiting request with a sentence Priya then reads in History.
        _, ada = await new_person_page(browser, duet)
        await sign_in(ada, "Ada Lovelace")
        await ada.goto("/#/employee/requested")
        request = ada.locator('.chat-card[data-person="Priya Patel"]')
        # The answer is labelled with the question it answers, as on every page.
        await expect(request.locator(".chat-answer .label")).to_have_text(
            "What role are you looking for?"
        )
        await expect(request.locator(".chat-answer .answer-text")).to_have_text(
            "Platform engineering roles"
        )
        long_request = ada.locator(f'.chat-card[data-person="{LONG_WORD}"]')
        await expect(long_request.locator(".chat-detail")).to_have_count(2)  # answer, message
        assert await page_overflow(ada) == 0
        await ada.goto("/#/employee/invite")
        await expect(ada.locator(f'.person-row[data-person="{LONG_WORD}"]')).to_be_visible()
        assert await page_overflow(ada) == 0
        await ada.goto("/#/employee/requested")
        await request.get_by_role("button", name="Decline").click()
        await request.get_by_label("A short message for them").fill(
            "Our platform team is full this year; Alan's team is hiring!"
        )
        await request.get_by_role("button", name="Send and decline").click()
        await expect(ada.locator('.chat-card[data-person="Priya Patel"]')).to_have_count(0)

        _, priya = await new_person_page(browser, duet)
        await sign_in(priya, "Priya Patel")
        await priya.goto("/#/participant/history")
        declined = priya.locator('.chat-card[data-person="Ada Lovelace"]')
        await expect(declined).to_have_attribute("data-state", "declined")
        await expect(declined).to_contain_text("Alan's team is hiring!")
        for page in (mei, ada, priya, word):
            assert page.duet_errors == []  # type: ignore[attr-defined]
