"""The Join button in the browser: a countdown on the server's clock, and refusals as sentences."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import expect

from scheduling.clock import ManualClock
from scheduling.model import Role
from scheduling.store_events import UserRecord
from tests.support.browser import (
    SECRET,
    chromium,
    new_person_page,
    running_duet,
    screenshot,
    sign_in,
)
from web.auth import mint_token
from web.demo import LIVE_CHAT_ID

pytestmark = pytest.mark.browser

# The demo is seeded at SEED: its live chat (Ada ↔ Sam) starts a minute earlier, at 09:57 UTC,
# so its Join window opens at 09:52 UTC (5 minutes before the start).
SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)
LIVE_OPENS = datetime(2026, 11, 30, 9, 52, tzinfo=UTC)
LIVE_CLOSES = datetime(2026, 11, 30, 10, 29, tzinfo=UTC)
ADA = UserRecord("ada", "Ada Lovelace", Role.EMPLOYEE, "acme")


async def test_join_counts_down_on_the_server_clock_and_opens_at_the_edge(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        # The server's clock says 90 s before the window; the browser's own clock says
        # something else entirely (today's real date), so only a server-based count can pass.
        clock.set(LIVE_OPENS - timedelta(seconds=90))
        _, sam = await new_person_page(browser, duet)
        await sign_in(sam, "Sam Student")
        await sam.goto("/#/participant/schedule")
        card = sam.locator(f'.chat-card[data-chat-id="{LIVE_CHAT_ID}"]')
        control = card.locator(".join-control")
        join = card.locator("[data-action=join]")
        await expect(control).to_have_attribute("data-join-state", "waiting")
        await expect(join).to_be_disabled()
        await expect(join).to_have_text(re.compile(r"^Join in 1:[0-3]\d$"))
        first = await join.text_content()
        await expect(join).not_to_have_text(first or "")  # it is live, counting down
        # Every time names its zone; in Berlin, the event's own, there is nothing to add.
        await expect(card.locator(".join-hint")).to_have_text("Opens at 10:52 CET")
        await expect(card.locator(".chat-time")).to_have_text(
            re.compile(r"^Mon,? 30 Nov, 10:57\u201311:27 CET · 30 min$")
        )
        # Sam's answer, under Ada's question, as on the pre-join page and Ada's lists.
        await expect(card.locator(".chat-answer .label")).to_have_text(
            "What role are you looking for?"
        )
        # Tomorrow's chat with Grace is far away and says so in hours.
        tomorrow = sam.locator('.chat-card[data-person="Grace Hopper"] [data-action=join]')
        await expect(tomorrow).to_have_text(re.compile(r"^Join in 22 h \d\d min$"))
        await screenshot(sam, "schedule-join-countdown")
        # In a browser set to UTC and US English, the same chat is in the reader's own time,
        # with Berlin's beside it.
        _, sam_utc = await new_person_page(browser, duet, locale="en-US", timezone_id="UTC")
        await sign_in(sam_utc, "Sam Student")
        await sam_utc.goto("/#/participant/schedule")
        utc_card = sam_utc.locator(f'.chat-card[data-chat-id="{LIVE_CHAT_ID}"]')
        await expect(utc_card.locator(".join-hint")).to_have_text(
            "Opens at 09:52 AM your time · 10:52 AM in Berlin"
        )
        await expect(utc_card.locator(".chat-time")).to_contain_text(
            "09:57 AM\u201310:27 AM your time · 10:57 AM\u201311:27 AM in Berlin"
        )

        # "Add to calendar" fetches the .ics with the bearer token and saves it as a file.
        async with sam.expect_download() as download_info:
            await card.get_by_role("link", name="Add to calendar").click()
        download = await download_info.value
        assert download.suggested_filename == f"duet-chat-{LIVE_CHAT_ID}.ics"
        ics = await asyncio.to_thread(Path(await download.path()).read_text)
        assert ics.startswith("BEGIN:VCALENDAR") and "Ada Lovelace" in ics

        # The window edge: opens_at itself is inside the window (half-open interval).
        clock.set(LIVE_OPENS)
        await sam.reload()
        await expect(control).to_have_attribute("data-join-state", "open")
        await expect(join).to_be_enabled()
        await expect(join).to_have_text("Join")
        await expect(tomorrow).to_be_disabled()

        # Two seconds before the window closes (end 10:27 + 2 min grace) it is still open; the
        # page then closes it by itself, counting on from the server's time.
        clock.set(LIVE_CLOSES - timedelta(seconds=2))
        await sam.reload()
        await expect(control).to_have_attribute("data-join-state", "open")
        await expect(control).to_have_attribute("data-join-state", "ended", timeout=10_000)
        await expect(join).to_have_count(0)
        await expect(control).to_contain_text("This chat has ended.")
        assert sam.duet_errors == [] and sam_utc.duet_errors == []  # type: ignore[attr-defined]


async def test_a_refused_join_is_shown_as_the_servers_sentence(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, sam = await new_person_page(browser, duet)
        await sign_in(sam, "Sam Student")
        await sam.goto(f"/#/chat/{LIVE_CHAT_ID}")
        join_now = sam.get_by_role("button", name="Join now")
        await expect(join_now).to_be_enabled()

        # Ada cancels while Sam looks at the pre-join check; then Sam clicks Join.
        token = mint_token(SECRET, ADA, clock.now())
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                f"{duet.base_url}/api/v1/chats/{LIVE_CHAT_ID}/cancel",
                json={"reason": "Something urgent came up, sorry!"},
                headers={"Authorization": f"Bearer {token}"},
            ) as resp,
        ):
            assert resp.status == 200, await resp.text()
        await join_now.click()
        refusal = sam.locator("#join-errors .alert-error")
        await expect(refusal).to_have_text("This chat was cancelled.")
        await expect(sam.locator("#call")).to_have_count(0)
        await expect(join_now).to_be_enabled()  # the page stays usable

        # Coming back later, the page says so instead of offering a Join button.
        await sam.reload()
        await expect(sam.locator(".precheck .alert")).to_have_text("This chat was cancelled.")
        await expect(sam.locator("[data-action=join]")).to_have_count(0)
        assert sam.duet_errors == []  # type: ignore[attr-defined]


async def test_the_call_page_opened_first_counts_on_the_server_clock(tmp_path: Path) -> None:
    """A person already signed in who opens the chat's link first: no answer with a top-level
    `now` has come yet, so the page takes the server's clock from the chat's join window (the
    browser's own clock is days after the demo's and would call the chat over)."""
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        context, ada = await new_person_page(browser, duet)
        token = mint_token(SECRET, ADA, clock.now())
        user = {"id": "ada", "name": "Ada Lovelace", "role": "employee", "company_id": "acme"}
        await context.add_init_script(
            f"sessionStorage.setItem('duet.token', {json.dumps(token)});"
            f"sessionStorage.setItem('duet.user', {json.dumps(json.dumps(user))});"
        )
        await ada.goto(f"/#/chat/{LIVE_CHAT_ID}")
        join = ada.locator(".precheck .join-control")
        await expect(join).to_have_attribute("data-join-state", "open")
        await expect(ada.get_by_role("button", name="Join now")).to_be_enabled()
        assert ada.duet_errors == []  # type: ignore[attr-defined]
