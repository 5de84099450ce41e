"""The whole journey in two real browsers: publish, request, approve, book, call, chat, Completed.

Grace (employee, Globex) and Priya (participant) each have their own browser context. The server's
ManualClock stands two minutes before the slot Grace publishes, so the slot is still bookable
and its Join window (open 5 minutes before the start) is already open.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from rooms.attendance import settle_ended
from scheduling.clock import ManualClock
from signaling.ws import NODE
from tests.support.browser import (
    UI_TIMEOUT_MS,
    chromium,
    new_person_page,
    running_duet,
    screenshot,
    sign_in,
    wait_for_media_flowing,
)

pytestmark = [pytest.mark.browser, pytest.mark.media]

# 10:58 in Berlin on the demo's first day; the 10-minute slot at 11:00 Berlin is 10:00 UTC.
NOW = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)
SLOT_START = "2026-11-30T10:00:00Z"
SLOT_END = datetime(2026, 11, 30, 10, 10, tzinfo=UTC)


async def open_tab(page: Page, role: str, tab: str) -> None:
    """Go to (or re-load) one tab of a dashboard, with fresh data, and wait for its content."""
    url = f"{page.url.split('#')[0]}#/{role}/{tab}"
    if page.url == url:
        await page.reload()
    else:
        await page.goto(url)
    await page.locator(f'.tabs .tab.is-current[data-tab="{tab}"]').wait_for()
    await page.locator(".tab-content > *:not(.loading)").first.wait_for()


async def test_publish_request_approve_book_call_and_complete(tmp_path: Path) -> None:
    clock = ManualClock(NOW)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, grace = await new_person_page(browser, duet)
        _, priya = await new_person_page(browser, duet)

        # --- Grace publishes one 10-minute slot, starting in two minutes -------------------
        await sign_in(grace, "Grace Hopper")
        quota = grace.locator(".quota-box")
        await expect(quota).to_contain_text("12 of 16")
        today = grace.locator('.day[data-date="2026-11-30"]')
        await today.locator('.segment[data-duration="10"]').click()
        slot = today.locator(f'.slot-cell[data-start="{SLOT_START}"]')
        await slot.click()
        await expect(slot).to_have_attribute("data-kind", "pending")
        await expect(
            today.locator('.slot-cell[data-start="2026-11-30T09:50:00Z"]')
        ).to_be_disabled()
        await grace.get_by_role("button", name="Confirm Availability").click()
        await expect(grace.locator(".alert-success")).to_contain_text("uses 13 of 16 slots")
        await expect(slot).to_have_attribute("data-kind", "published")
        await expect(quota).to_contain_text("13 of 16")
        await screenshot(grace, "employee-availability")

        # --- Priya finds Grace and requests a chat, answering Grace's question ---------------
        await sign_in(priya, "Priya Patel")
        offer = priya.locator('.offer[data-person="Grace Hopper"]')
        await expect(offer).to_contain_text("Compilers and developer tools")
        await expect(offer).to_contain_text("6 free slots")  # 5 left tomorrow + the new one
        await screenshot(priya, "participant-offers")
        await offer.get_by_role("button", name="Request a chat").click()
        await offer.get_by_label("Which project are you proudest of?").fill(
            "A compiler for a tiny robot language."
        )
        await offer.get_by_role("button", name="Send request").click()
        await expect(priya).to_have_url(f"{duet.base_url}/#/participant/requests")
        mine = priya.locator('.chat-card[data-person="Grace Hopper"]')
        await expect(mine).to_have_attribute("data-state", "requested")

        # --- Grace approves -------------------------------------------------------------------
        await open_tab(grace, "employee", "requested")
        request = grace.locator('.chat-card[data-person="Priya Patel"]')
        await expect(request).to_contain_text("A compiler for a tiny robot language.")
        await request.get_by_role("button", name="Approve").click()
        await open_tab(grace, "employee", "in_scheduling")
        await expect(grace.locator('.chat-card[data-person="Priya Patel"]')).to_have_attribute(
            "data-state", "approved"
        )

        # --- Priya picks the slot that starts in two minutes ---------------------------------
        await open_tab(priya, "participant", "requests")
        await mine.get_by_role("button", name="Pick a time").click()
        await mine.locator(f'.slot-button[data-start="{SLOT_START}"]').click()
        await open_tab(priya, "participant", "schedule")
        booked = priya.locator('.chat-card[data-person="Grace Hopper"]')
        await expect(booked).to_have_attribute("data-state", "confirmed")
        chat_id = await booked.get_attribute("data-chat-id")
        assert chat_id
        await expect(booked.locator(".join-control")).to_have_attribute("data-join-state", "open")

        # --- Both join the call from their lists ----------------------------------------------
        await booked.locator("[data-action=join]").click()
        await priya.get_by_role("button", name="Join now").click()
        await open_tab(grace, "employee", "confirmed")
        await grace.locator(f'.chat-card[data-chat-id="{chat_id}"] [data-action=join]').click()
        await grace.get_by_role("button", name="Join now").click()
        for page in (grace, priya):
            await page.locator("#call").wait_for()
        await expect(grace.locator("#call-status")).to_contain_text("Priya Patel")
        grace_media = await wait_for_media_flowing(grace)
        priya_media = await wait_for_media_flowing(priya)
        assert grace_media["audioSamples"] > 0 and priya_media["audioSamples"] > 0

        # --- Priya shares her screen: Grace gets a second, screen video ------------------------
        await priya.get_by_role("button", name="Share screen").click()
        await expect(grace.locator("#remote-screen")).to_be_visible(timeout=UI_TIMEOUT_MS)
        await expect(grace.locator("#stage")).to_have_class("stage has-screen")
        with_screen = await wait_for_media_flowing(grace, video_streams=2)
        assert len([v for v in with_screen["video"] if v["frames"] > 0]) == 2
        await grace.wait_for_function(
            "() => document.getElementById('remote-screen').videoWidth > 0"
        )

        # --- Text chat both ways ----------------------------------------------------------------
        await priya.get_by_role("textbox", name="Message").fill(
            "Hello Grace! My repo: https://example.org/tiny"
        )
        await priya.keyboard.press("Enter")
        received = grace.locator(".msg.theirs .bubble", has_text="Hello Grace!")
        await expect(received).to_be_visible()
        await expect(received.locator("a")).to_have_attribute("href", "https://example.org/tiny")
        await grace.get_by_role("textbox", name="Message").fill("Nice to meet you, Priya.")
        await grace.get_by_role("button", name="Send").click()
        await expect(priya.locator(".msg.theirs .bubble")).to_have_text("Nice to meet you, Priya.")
        await expect(grace.locator(".msg.mine")).to_have_attribute("data-status", "sent")
        await expect(grace.locator("#call-status")).to_have_text("Connected with Priya Patel")
        for page in (grace, priya):  # one socket each, all along: no drop, no resume
            log = await page.evaluate("() => window.duetCall.state.log")
            assert log.count("joined") == 1 and not [t for t in log if t.startswith("closed:")]
        await screenshot(grace, "call-employee-screen-share")
        await screenshot(priya, "call-participant")

        # --- Mic and camera off, and the share stopped, as the other side sees it ---------------
        await priya.get_by_role("button", name="Mute").click()
        await priya.get_by_role("button", name="Stop video").click()
        await priya.get_by_role("button", name="Stop sharing").click()
        await expect(grace.locator("#peer-flags")).to_contain_text("Mic off")
        await expect(grace.locator("#peer-flags")).to_contain_text("Camera off")
        await expect(grace.locator("#peer-placeholder")).to_have_text(
            re.compile("Priya Patel's camera is off")
        )
        await expect(grace.locator("#remote-screen")).to_be_hidden()
        await expect(priya.get_by_role("button", name="Unmute")).to_have_class(
            re.compile(r"\bis-off\b")
        )

        # --- Leave; after the window the settler completes the chat ---------------------------
        await priya.get_by_role("button", name="Leave").click()
        await expect(grace.locator("#call-status")).to_contain_text("left the chat")
        await grace.get_by_role("button", name="Leave").click()
        for page in (grace, priya):
            await expect(page.locator("#call-ended")).to_contain_text("You left the chat")
        # The participant is asked for a short feedback right there; the employee is not.
        await expect(grace.locator("#call-ended .feedback-form")).to_have_count(0)
        feedback = priya.locator("#call-ended .feedback-form")
        await feedback.get_by_label("4").check()
        await feedback.get_by_label("One sentence about the chat").fill("Clear answers.")
        await feedback.get_by_role("button", name="Send feedback").click()
        await expect(feedback.locator(".alert-success")).to_contain_text("summed up per company")
        clock.set(SLOT_END + timedelta(minutes=3))
        settled = await settle_ended(duet.engine, clock.now(), [duet.app[NODE].joins])
        assert chat_id in {c.id for c in settled}
        await open_tab(grace, "employee", "completed")
        done = grace.locator(f'.chat-card[data-chat-id="{chat_id}"]')
        await expect(done).to_have_attribute("data-state", "completed")
        await expect(done).to_contain_text("Priya Patel")
        assert grace.duet_errors == [] and priya.duet_errors == []  # type: ignore[attr-defined]
