"""The pages around the calls: the demo sign-in, the organizer's settings, a narrow screen."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import expect

from scheduling.clock import ManualClock
from tests.browser import chromium, new_person_page, running_duet, screenshot, sign_in

pytestmark = pytest.mark.browser

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)


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
        globex = olivia.locator('.quota-row[data-company="globex"]')
        await globex.get_by_label("Slot quota").fill("20")
        await globex.get_by_role("button", name="Save").click()
        await expect(olivia.locator(".alert-success")).to_have_text(
            "Quota saved: Globex Energy may publish 20 slots."
        )
        # A quota below what is published is the server's call, said in its own words.
        await globex.get_by_label("Slot quota").fill("-1")
        await globex.get_by_role("button", name="Save").click()
        await expect(olivia.locator(".alert-error")).to_have_text("A quota is 0 to 10000 slots.")

        # Grace, on a phone-sized screen in another context, sees the new figure.
        _, grace = await new_person_page(browser, duet, {"width": 390, "height": 844})
        await sign_in(grace, "Grace Hopper")
        await expect(grace.locator(".quota-box")).to_contain_text("12 of 20")
        await expect(grace.locator(".slot-grid").first).to_be_visible()
        await screenshot(grace, "employee-narrow")
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
        await mei.goto("/#/participant/invitations")
        invitation = mei.locator('.chat-card[data-person="Linus Berg"]')
        await expect(invitation.locator(".badge")).to_have_text("Invitation")
        await invitation.get_by_role("button", name="Accept").click()
        await mei.goto("/#/participant/requests")
        accepted = mei.locator('.chat-card[data-person="Linus Berg"]')
        await expect(accepted).to_have_attribute("data-state", "approved")
        await accepted.get_by_role("button", name="Pick a time").click()
        await expect(accepted.locator(".slot-button")).to_have_count(6)

        # Ada declines Priya's waiting request with a sentence Priya then reads in History.
        _, ada = await new_person_page(browser, duet)
        await sign_in(ada, "Ada Lovelace")
        await ada.goto("/#/employee/requested")
        request = ada.locator('.chat-card[data-person="Priya Patel"]')
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
        for page in (mei, ada, priya):
            assert page.duet_errors == []  # type: ignore[attr-defined]
