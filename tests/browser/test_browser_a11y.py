"""Accessibility: every page of the client passes axe-core (no serious or critical findings), and
the call page tells a screen reader who came, who went and what they wrote, and keeps the focus
sensible around the phone's chat drawer."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from scheduling.clock import ManualClock
from scheduling.model import Role
from scheduling.store_events import UserRecord
from tests.support.a11y import serious_violations
from tests.support.browser import (
    SECRET,
    chromium,
    new_person_page,
    running_duet,
    sign_in,
)
from web.auth import mint_token
from web.demo import LIVE_CHAT_ID

pytestmark = [pytest.mark.browser, pytest.mark.media]

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)  # the live chat Ada ↔ Sam is open
SAM = UserRecord("sam", "Sam Student", Role.PARTICIPANT, None)
PHONE = {"width": 390, "height": 844}
EMPLOYEE_TABS = ("availability", "requested", "in_scheduling", "confirmed", "completed", "history")
PARTICIPANT_TABS = ("offers", "invitations", "requests", "schedule", "completed", "history")


class Findings:
    """Every page's serious and critical axe-core findings, reported together at the end."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.pages = 0

    async def check(self, page: Page, where: str) -> None:
        self.pages += 1
        for line in await serious_violations(page):
            self.lines.append(f"{where}: {line}")


async def settled(page: Page) -> None:
    """The route has rendered: no loading placeholder left in the main region."""
    await expect(page.locator("#app .loading")).to_have_count(0)


async def dashboard_pages(page: Page, findings: Findings, label: str, ask: str) -> None:
    """Sign-in, Ada's tabs and forms, Jonas's tabs and forms (he asks `ask` for a chat), and
    the organizer's page, each checked as it is shown and with its forms and messages open."""
    await page.goto("/#/signin")
    await page.get_by_role("button", name="Ada Lovelace").wait_for()
    await findings.check(page, f"{label} sign-in")
    await sign_in(page, "Ada Lovelace")
    for tab in (*EMPLOYEE_TABS, "invite"):
        await page.goto(f"/#/employee/{tab}")
        await page.locator(f'.tabs .tab.is-current[data-tab="{tab}"]').wait_for()
        await settled(page)
        await page.locator(".tab-content > *:not(.loading)").first.wait_for()
        if tab == "availability":
            await page.locator(".slot-cell").first.wait_for()
        await findings.check(page, f"{label} employee/{tab}")
    await page.get_by_role("button", name="Invite").first.click()
    await page.locator(".person-row textarea").wait_for()
    await findings.check(page, f"{label} employee invite form")
    await page.goto("/#/employee/requested")
    await page.get_by_role("button", name="Decline").click()
    await page.get_by_label("A short message for them").wait_for()
    await findings.check(page, f"{label} employee decline form")
    await page.goto("/#/employee/availability")
    await page.locator(".slot-cell").first.wait_for()
    # Tomorrow: today holds the live chat's slot, of another length than the day's grid.
    await page.locator('.day[data-date="2026-12-01"] .slot-cell[data-kind=free]').first.click()
    await findings.check(page, f"{label} employee/availability with a pending slot")
    await page.get_by_role("button", name="Confirm Availability").click()
    await page.locator(".alert-success").wait_for()
    await findings.check(page, f"{label} employee/availability published")

    await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, "Jonas Weber")  # approved by Ada: he has a time to pick
    for tab in PARTICIPANT_TABS:
        await page.goto(f"/#/participant/{tab}")
        await page.locator(f'.tabs .tab.is-current[data-tab="{tab}"]').wait_for()
        await settled(page)
        await findings.check(page, f"{label} participant/{tab}")
    await page.goto("/#/participant/offers")
    offer = page.locator(f'.offer[data-person="{ask}"]')
    await offer.get_by_role("button", name="Request a chat").click()
    await offer.locator(".request-form").wait_for()
    await findings.check(page, f"{label} participant request form")
    await offer.locator("textarea[name=answer]").fill("Embedded robotics")
    await offer.get_by_role("button", name="Send request").click()
    await page.locator(".toast").first.wait_for()
    await settled(page)
    await findings.check(page, f"{label} participant/requests with a toast")
    await page.locator('.chat-card[data-person="Ada Lovelace"] [data-action=book]').click()
    await page.locator(".slot-button").first.wait_for()
    await findings.check(page, f"{label} participant slot picker")

    await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, "Olivia Organizer")
    await page.locator(".event-form").wait_for()
    await settled(page)
    await findings.check(page, f"{label} organizer")
    await page.get_by_role("button", name="+ Add a company").click()
    globex = page.locator('.quota-row[data-company="globex"]')
    await globex.get_by_label("Slot quota").fill("-1")
    await globex.get_by_role("button", name="Save").click()
    await page.locator(".alert-error").wait_for()
    await findings.check(page, f"{label} organizer, a company added and an error shown")


@pytest.mark.timeout(300)  # 29 pages, two people and a connection check, on a busy machine
@pytest.mark.parametrize(
    ("label", "viewport", "ask"),
    [("desktop", None, "Grace Hopper"), ("phone", PHONE, "Alan Turing")],
)
async def test_every_page_passes_axe_core(
    tmp_path: Path, label: str, viewport: dict[str, int] | None, ask: str
) -> None:
    clock = ManualClock(SEED)
    findings = Findings()
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, page = await new_person_page(browser, duet, viewport)
        await dashboard_pages(page, findings, label, ask)

        # The pre-call check, then the call with Sam arriving and writing, then the end.
        await page.get_by_role("button", name="Sign out").click()
        await sign_in(page, "Ada Lovelace")
        await page.goto(f"/#/chat/{LIVE_CHAT_ID}")
        await page.get_by_role("button", name="Join now").wait_for()
        await findings.check(page, f"{label} pre-call check")
        await page.get_by_role("button", name="Test my connection").click()
        await expect(page.locator("#precall")).to_have_attribute(
            "data-phase", "done", timeout=60_000
        )
        await findings.check(page, f"{label} pre-call check, finished")
        await page.get_by_role("button", name="Join now").click()
        await page.locator("#call").wait_for()
        await findings.check(page, f"{label} call, alone")
        token = mint_token(SECRET, SAM, clock.now())
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async with http.post(f"{duet.base_url}/api/v1/chats/{LIVE_CHAT_ID}/join") as resp:
                assert resp.status == 200, await resp.text()
                grant = await resp.json()
            async with http.ws_connect(
                f"{duet.base_url}/api/v1/ws", protocols=("duet.v1.json",)
            ) as ws:
                await ws.send_json({"type": "join", "v": 1, "ticket": grant["ticket"]})
                assert (await ws.receive_json(timeout=5))["type"] == "joined"
                await ws.send_json({"type": "chat_send", "client_msg_id": "a1", "text": "Hi Ada"})
                await expect(page.locator(".msg.theirs")).to_have_count(1)
                await findings.check(page, f"{label} call, with a message")
                if label == "phone":  # the chat is a drawer there, closed at first
                    await page.get_by_role("button", name="Chat").click()
                await page.get_by_role("button", name="Devices").click()
                await findings.check(page, f"{label} call, chat and devices open")
                await page.get_by_role("button", name="Leave").click()
                await page.locator("#call-ended").wait_for()
                await findings.check(page, f"{label} call ended")
        assert page.duet_errors == []  # type: ignore[attr-defined]
    assert findings.pages == 29  # every check above ran
    assert not findings.lines, "\n".join(findings.lines)


async def test_call_page_announces_arrivals_departures_and_messages(tmp_path: Path) -> None:
    """A phone: the live region says who joined, what they wrote and that they left; the chat
    drawer takes the focus when it opens and gives it back to its button on Escape."""
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, ada = await new_person_page(browser, duet, PHONE)
        await sign_in(ada, "Ada Lovelace")
        await ada.goto(f"/#/chat/{LIVE_CHAT_ID}")
        await ada.get_by_role("button", name="Join now").click()
        await ada.locator("#call").wait_for()
        announcer = ada.locator("#call-announcer")
        await expect(announcer).to_have_attribute("aria-live", "polite")
        await expect(announcer).to_have_text("")

        token = mint_token(SECRET, SAM, clock.now())
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async with http.post(f"{duet.base_url}/api/v1/chats/{LIVE_CHAT_ID}/join") as resp:
                assert resp.status == 200, await resp.text()
                grant = await resp.json()
            async with http.ws_connect(
                f"{duet.base_url}/api/v1/ws", protocols=("duet.v1.json",)
            ) as ws:
                await ws.send_json({"type": "join", "v": 1, "ticket": grant["ticket"]})
                assert (await ws.receive_json(timeout=5))["type"] == "joined"
                await expect(announcer.locator("p").last).to_have_text(
                    "Sam Student joined the chat."
                )
                await ws.send_json(
                    {"type": "chat_send", "client_msg_id": "s1", "text": "Can you hear me?"}
                )
                await expect(announcer.locator("p").last).to_have_text(
                    "Sam Student wrote: Can you hear me?"
                )

                # The drawer: closed, it is out of the tab order; open, it holds the focus.
                chat_button = ada.get_by_role("button", name="Chat")
                await expect(chat_button).to_have_attribute("aria-expanded", "false")
                await expect(ada.locator("#chat-panel")).to_be_hidden()
                await chat_button.focus()
                await ada.keyboard.press("Enter")
                await expect(chat_button).to_have_attribute("aria-expanded", "true")
                message = ada.get_by_role("textbox", name="Message")
                await expect(message).to_be_focused()
                await ada.keyboard.type("Loud and clear")
                await ada.keyboard.press("Enter")
                await expect(ada.locator(".msg.mine")).to_have_attribute("data-status", "sent")
                await ada.keyboard.press("Escape")
                await expect(chat_button).to_be_focused()
                await expect(chat_button).to_have_attribute("aria-expanded", "false")
                await expect(ada.locator("#chat-panel")).to_be_hidden()
                # Her own message is not read back to her.
                await expect(announcer.locator("p")).to_have_count(2)

                await ws.send_json({"type": "leave"})
                await expect(announcer.locator("p").last).to_have_text("Sam Student left the chat.")
        assert ada.duet_errors == []  # type: ignore[attr-defined]
