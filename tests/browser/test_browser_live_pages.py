"""Open pages change when a chat changes, without a reload (issue 14, "In the app, live"): two
browser contexts, Ada (employee) and Priya (participant). Ada approves Priya's request and
Priya's My Requests tab shows the approval; Sam cancels his chat with Ada (over the API, as his
own page would) and Ada's Confirmed tab drops it. Each change comes with a toast and the topbar
badge counts it; the page that made a change is not told of it again."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from scheduling.clock import ManualClock
from scheduling.model import Role
from scheduling.store_events import UserRecord
from tests.support.browser import SECRET, chromium, new_person_page, running_duet, sign_in
from web.auth import mint_token
from web.demo import LIVE_CHAT_ID

pytestmark = [pytest.mark.browser]

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)
SAM = UserRecord("sam", "Sam Student", Role.PARTICIPANT, None)


async def open_tab(page: Page, role: str, tab: str) -> None:
    await page.goto(f"/#/{role}/{tab}")
    await page.locator(f'.tabs .tab.is-current[data-tab="{tab}"]').wait_for()
    await page.locator(".tab-content > *:not(.loading)").first.wait_for()


async def test_pages_follow_changes_made_elsewhere(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, ada = await new_person_page(browser, duet)
        _, priya = await new_person_page(browser, duet)
        await sign_in(ada, "Ada Lovelace")
        await sign_in(priya, "Priya Patel")
        await open_tab(priya, "participant", "requests")
        card = priya.locator('.chat-card[data-person="Ada Lovelace"]')
        await expect(card).to_have_attribute("data-state", "requested")

        # Ada approves on her page; Priya's page shows it, with a toast and the badge.
        await open_tab(ada, "employee", "requested")
        await (
            ada.locator('.chat-card[data-person="Priya Patel"]')
            .get_by_role("button", name="Approve")
            .click()
        )
        await expect(card).to_have_attribute("data-state", "approved")
        await expect(
            priya.locator(".toast-info", has_text="Ada Lovelace approved the chat: pick a time.")
        ).to_be_visible()
        await expect(priya.locator("#events-badge")).to_be_hidden()  # seen: the list redrew
        await expect(ada.locator("#events-badge")).to_be_hidden()  # her own change: no news
        await expect(ada.locator(".toast-info")).to_have_count(0)

        # Sam cancels his chat with Ada; her Confirmed tab drops it, and says so.
        await open_tab(ada, "employee", "confirmed")
        sam_card = ada.locator(f'.chat-card[data-chat-id="{LIVE_CHAT_ID}"]')
        await expect(sam_card).to_be_visible()
        token = mint_token(SECRET, SAM, clock.now())
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
            http.post(
                f"{duet.base_url}/api/v1/chats/{LIVE_CHAT_ID}/cancel",
                json={"reason": "Something came up."},
            ) as resp,
        ):
            assert resp.status == 200, await resp.text()
        await expect(sam_card).to_have_count(0)
        await expect(
            ada.locator(".toast-info", has_text="Sam Student cancelled your chat.")
        ).to_be_visible()

        # On a tab that is not a list (availability), the badge counts what changed.
        await open_tab(ada, "employee", "availability")
        async with aiohttp.ClientSession() as http:
            priya_token = mint_token(
                SECRET, UserRecord("priya", "Priya Patel", Role.PARTICIPANT, None), clock.now()
            )
            chats = await (
                await http.get(
                    f"{duet.base_url}/api/v1/chats?tab=in_scheduling",
                    headers={"Authorization": f"Bearer {priya_token}"},
                )
            ).json()
            (approved,) = [c for c in chats["chats"] if c["employee"]["id"] == "ada"]
            async with http.post(
                f"{duet.base_url}/api/v1/chats/{approved['id']}/cancel",
                json={"reason": "Found a job."},
                headers={"Authorization": f"Bearer {priya_token}"},
            ) as resp:
                assert resp.status == 200, await resp.text()
        await expect(ada.locator("#events-badge")).to_have_text("1")
        await expect(
            ada.locator(".toast-info", has_text="Priya Patel cancelled your chat.")
        ).to_be_visible()
        for page in (ada, priya):
            assert page.duet_errors == []  # type: ignore[attr-defined]
