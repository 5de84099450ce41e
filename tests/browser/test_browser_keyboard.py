"""The whole journey with the keyboard alone: Tab, Shift+Tab, Enter, Space and typing, never a
click. Grace (employee) publishes a slot, Priya (participant) requests a chat, Grace approves,
Priya picks the slot, both join, write to each other and leave; the focus is visible on the way.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from scheduling.clock import ManualClock
from tests.support.a11y import focus_ring, tab_to
from tests.support.browser import chromium, new_person_page, running_duet

pytestmark = [pytest.mark.browser, pytest.mark.media]

# 10:58 in Berlin on the demo's first day; the 10-minute slot at 11:00 Berlin is 10:00 UTC, so
# it is still bookable and its Join window (open 5 minutes before) is already open.
NOW = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)
SLOT_START = "2026-11-30T10:00:00Z"
ANSWER = "A compiler for a tiny robot language."


async def press_on(
    page: Page, target: Locator, key: str = "Enter", *, backwards: bool = False
) -> None:
    """Tab to `target`, check that its focus can be seen, and press `key` on it."""
    await tab_to(page, target, backwards=backwards)
    ring = await focus_ring(page)
    assert ring["style"] != "none" and ring["width"] >= 2, f"focus not visible on {target}: {ring}"
    await page.keyboard.press(key)


async def sign_in_by_keyboard(page: Page, name: str) -> None:
    await page.goto("/#/signin")
    await press_on(page, page.get_by_role("button", name=name))
    await page.locator(".topbar .who-text strong", has_text=name).wait_for(state="attached")


async def open_tab_by_keyboard(
    page: Page, label: str, tab: str, *, backwards: bool = False
) -> None:
    """Follow a dashboard tab's link (pressed on the current tab, it reloads the list)."""
    link = page.locator(f'.tabs .tab[data-tab="{tab}"]', has_text=label)
    await press_on(page, link, backwards=backwards)
    await page.locator(f'.tabs .tab.is-current[data-tab="{tab}"]').wait_for()
    await page.locator(".tab-content > *:not(.loading)").first.wait_for()


async def test_the_whole_journey_by_keyboard(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, grace = await new_person_page(browser, duet)
        _, priya = await new_person_page(browser, duet)

        # --- The skip link comes first and takes the focus to the main region ----------------
        await grace.goto("/#/signin")
        await grace.get_by_role("button", name="Grace Hopper").wait_for()
        await grace.keyboard.press("Tab")
        skip = grace.get_by_role("link", name="Skip to main content")
        await expect(skip).to_be_focused()
        await expect(skip).to_be_in_viewport()
        await grace.keyboard.press("Enter")
        await expect(grace.locator("#app")).to_be_focused()
        await expect(grace).to_have_url(f"{duet.base_url}/#/signin")

        # --- Grace publishes the 10-minute slot at 11:00 ----------------------------------------
        await sign_in_by_keyboard(grace, "Grace Hopper")
        today = grace.locator('.day[data-date="2026-11-30"]')
        # The chat length is a radio group: one Tab stop, the arrow keys choose.
        ten, fifteen = (today.locator(f'.segment[data-duration="{m}"]') for m in (10, 15))
        await expect(ten).to_have_attribute("aria-checked", "true")
        await tab_to(grace, ten)
        await grace.keyboard.press("ArrowRight")
        await expect(fifteen).to_have_attribute("aria-checked", "true")
        await expect(fifteen).to_be_focused()
        await grace.keyboard.press("ArrowLeft")
        await expect(ten).to_have_attribute("aria-checked", "true")
        await expect(ten).to_be_focused()
        slot = today.locator(f'.slot-cell[data-start="{SLOT_START}"]')
        await press_on(grace, slot, "Space")
        await expect(slot).to_have_attribute("data-kind", "pending")
        await expect(slot).to_be_focused()  # the redrawn grid keeps her place
        # Confirm is before the grid: back with Shift+Tab.
        confirm = grace.get_by_role("button", name="Confirm Availability")
        await tab_to(grace, confirm, backwards=True)
        await grace.keyboard.press("Enter")
        await expect(grace.locator(".alert-success")).to_contain_text("uses 13 of 16 slots")
        await expect(slot).to_have_attribute("data-kind", "published")

        # --- Priya requests a chat with Grace, answering her question ---------------------------
        await sign_in_by_keyboard(priya, "Priya Patel")
        offer = priya.locator('.offer[data-person="Grace Hopper"]')
        await press_on(priya, offer.get_by_role("button", name="Request a chat"))
        answer = offer.get_by_label("Which project are you proudest of?")
        await expect(answer).to_be_focused()
        await priya.keyboard.type(ANSWER)
        await press_on(priya, offer.get_by_role("button", name="Send request"))
        await expect(priya).to_have_url(f"{duet.base_url}/#/participant/requests")
        mine = priya.locator('.chat-card[data-person="Grace Hopper"]')
        await expect(mine).to_have_attribute("data-state", "requested")

        # --- Grace approves ---------------------------------------------------------------------
        # The tabs are above the Confirm button she just pressed.
        await open_tab_by_keyboard(grace, "Requested", "requested", backwards=True)
        request = grace.locator('.chat-card[data-person="Priya Patel"]')
        await expect(request).to_contain_text(ANSWER)
        await press_on(grace, request.get_by_role("button", name="Approve"))
        await expect(grace.locator(".toast", has_text="Approved.")).to_be_attached()

        # --- Priya picks the slot ---------------------------------------------------------------
        await open_tab_by_keyboard(priya, "My Requests", "requests")
        await expect(mine).to_have_attribute("data-state", "approved")
        await press_on(priya, mine.get_by_role("button", name="Pick a time"))
        await press_on(priya, mine.locator(f'.slot-button[data-start="{SLOT_START}"]'), "Space")
        await expect(priya.locator(".toast", has_text="Booked.")).to_be_attached()

        # --- Both join from their lists ---------------------------------------------------------
        await open_tab_by_keyboard(priya, "My Schedule", "schedule")
        booked = priya.locator('.chat-card[data-person="Grace Hopper"]')
        await expect(booked).to_have_attribute("data-state", "confirmed")
        await expect(booked.locator(".join-control")).to_have_attribute("data-join-state", "open")
        await press_on(priya, booked.get_by_role("button", name="Join"))
        join_now = priya.get_by_role("button", name="Join now")
        await expect(join_now).to_be_enabled()
        await press_on(priya, join_now)
        await open_tab_by_keyboard(grace, "Confirmed", "confirmed")
        theirs = grace.locator('.chat-card[data-person="Priya Patel"]')
        await press_on(grace, theirs.get_by_role("button", name="Join"))
        join_now = grace.get_by_role("button", name="Join now")
        await expect(join_now).to_be_enabled()
        await press_on(grace, join_now, "Space")
        for page in (grace, priya):
            await page.locator("#call").wait_for()
            # The call replaced the pre-join page: the focus starts again at the main region.
            await expect(page.locator("#app")).to_be_focused()
        await expect(grace.locator("#call-status")).to_contain_text("Priya Patel")

        # --- A message each way: Enter in the box, and the Send button by Space ------------------
        await tab_to(priya, priya.get_by_role("textbox", name="Message"))
        await priya.keyboard.type("Hello Grace!")
        await priya.keyboard.press("Enter")
        await expect(grace.locator(".msg.theirs .bubble")).to_have_text("Hello Grace!")
        await tab_to(grace, grace.get_by_role("textbox", name="Message"))
        await grace.keyboard.type("Nice to meet you, Priya.")
        await press_on(grace, grace.get_by_role("button", name="Send"), "Space")
        await expect(priya.locator(".msg.theirs .bubble")).to_have_text("Nice to meet you, Priya.")

        # --- Mute and unmute: the button's name says what pressing it does ---------------------
        await press_on(grace, grace.get_by_role("button", name="Mute"), "Space")
        unmute = grace.get_by_role("button", name="Unmute")
        await expect(unmute).to_be_focused()
        assert await unmute.get_attribute("aria-pressed") is None
        await expect(priya.locator("#peer-flags")).to_contain_text("Mic off")
        await grace.keyboard.press("Enter")
        await expect(grace.get_by_role("button", name="Mute")).to_be_focused()
        await expect(priya.locator("#peer-flags")).not_to_contain_text("Mic off")

        # --- The devices panel takes the focus, and Escape gives it back ----------------------
        devices = grace.get_by_role("button", name="Devices")
        await press_on(grace, devices)
        await expect(devices).to_have_attribute("aria-expanded", "true")
        await expect(
            grace.get_by_role("group", name="Devices").get_by_label("Camera")
        ).to_be_focused()
        await grace.keyboard.press("Escape")
        await expect(devices).to_be_focused()
        await expect(grace.get_by_role("group", name="Devices")).to_be_hidden()

        # --- Both leave -------------------------------------------------------------------------
        await press_on(priya, priya.get_by_role("button", name="Leave"))
        await expect(grace.locator("#call-announcer p").last).to_have_text(
            "Priya Patel left the chat."
        )
        await press_on(grace, grace.get_by_role("button", name="Leave"))
        for page in (grace, priya):
            await expect(page.locator("#call-ended")).to_contain_text("You left the chat")
            await expect(page.locator("#app")).to_be_focused()
        await press_on(priya, priya.get_by_role("link", name="Back to my chats"))
        await expect(priya).to_have_url(f"{duet.base_url}/#/participant/schedule")
        assert grace.duet_errors == [] and priya.duet_errors == []  # type: ignore[attr-defined]
