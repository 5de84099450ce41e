"""The organizer's live board in a real browser, beside a real call: three browser contexts (Ada
and Sam in their call, Olivia on #/organizer/live). The board shows the call live, then
reconnecting while Sam's page is offline, then Sam's Support request on top; Olivia's answer
appears in the call's chat for both, as Support. Each person's connection indicator shows the
server's verdict for themselves and for the other. Its screenshot of the board
(artifacts/screenshots/live-board.png) is the README's (docs/screenshots/live-board.png)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from scheduling.clock import ManualClock
from tests.support.browser import chromium, new_person_page, running_duet, screenshot, sign_in
from web.demo import LIVE_CHAT_ID

pytestmark = [pytest.mark.browser, pytest.mark.media]

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)  # the demo's live chat Ada ↔ Sam is open
ROW = f'.board-row[data-chat="{LIVE_CHAT_ID}"]'
# The call page's reconnect backoff tops out at 10 s (signaling_socket.js `backoffDelay`).
BACK_ONLINE_MS = 30_000


async def join_call(page: Page, name: str) -> None:
    await sign_in(page, name)
    await page.goto(f"/#/chat/{LIVE_CHAT_ID}")
    await page.get_by_role("button", name="Join now").click()
    await page.locator("#call").wait_for()


def in_group(board: Page, group: str) -> object:
    return board.locator(f'.board-group[data-group="{group}"] {ROW}')


async def test_board_follows_the_call_and_support_reaches_both(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, ada = await new_person_page(browser, duet)
        sam_context, sam = await new_person_page(browser, duet)
        _, olivia = await new_person_page(browser, duet, {"width": 1400, "height": 900})

        await sign_in(olivia, "Olivia Organizer")
        await olivia.get_by_role("link", name="Live board").click()
        await expect(olivia.locator("#live-status")).to_have_text("Live")
        await expect(in_group(olivia, "open")).to_be_visible()

        await join_call(ada, "Ada Lovelace")
        waiting = in_group(olivia, "waiting")
        await expect(waiting).to_contain_text("Ada Lovelace is in, waiting for Sam Student")
        await join_call(sam, "Sam Student")
        live = in_group(olivia, "live")
        await expect(live).to_contain_text("Live for")

        # Both pages measure their call and send `stats`; each sees both verdicts.
        for page in (ada, sam):
            await page.wait_for_function(
                "() => window.duetCall.pc && window.duetCall.pc.connectionState === 'connected'"
            )
        for page in (ada, sam):
            await page.evaluate("() => window.duetCall.sendStats()")
        for page, other in ((ada, "Sam Student"), (sam, "Ada Lovelace")):
            await expect(page.locator("#my-quality")).to_have_attribute("data-verdict", "good")
            await expect(page.locator("#peer-quality")).to_have_attribute("data-verdict", "good")
            title = await page.locator("#peer-quality").get_attribute("title")
            assert title is not None and title.startswith(f"{other}: Good connection:")
        await expect(live.locator(".quality")).to_have_attribute("data-verdict", "good")
        await expect(live.locator('.badge[data-media="direct"]')).to_have_text("Direct")

        # Sam's page loses the network: the board says he is reconnecting, then back.
        # Chromium's offline mode fails new requests but leaves an open WebSocket be, so the
        # socket is cut by hand as the network would (no `leave`); offline, every reconnect
        # attempt fails until the network is back.
        await sam_context.set_offline(True)
        await sam.evaluate("() => window.duetCall.ws.close()")
        reconnecting = in_group(olivia, "reconnecting")
        await expect(reconnecting).to_contain_text("Sam Student is reconnecting")
        await sam_context.set_offline(False)
        # Back online, Sam's page reconnects at its next backoff step (up to 10 s away).
        await expect(in_group(olivia, "live")).to_be_visible(timeout=BACK_ONLINE_MS)

        # Sam asks for help; it is on top of Olivia's board.
        await sam.locator('[data-action="support"]').click()
        await sam.get_by_label("What do you need help with? (optional)").fill("Ada cannot hear me")
        await sam.get_by_role("button", name="Ask for help").click()
        await expect(sam.locator(".support-note")).to_contain_text("The organizer will answer")
        request = olivia.locator(f'#board-support .support-row[data-chat="{LIVE_CHAT_ID}"]')
        await expect(request).to_contain_text("“Ada cannot hear me”")
        await expect(in_group(olivia, "live").locator(".badge[data-support]")).to_have_text(
            "Support"
        )
        await screenshot(olivia, "live-board")

        # Olivia answers in the chat's side panel; both people see it, as Support.
        await request.locator("button").click()
        panel = olivia.locator("#board-panel")
        await expect(panel).to_contain_text("Ada cannot hear me")
        answer = "Sam, please pick your headset under Devices; Ada, check your speaker."
        await panel.get_by_label("Answer as Support").fill(answer)
        await panel.get_by_role("button", name="Send as Support").click()
        await expect(panel).to_contain_text("both people see it")
        for page in (ada, sam):
            said = page.locator('.msg-support[data-sender="support"]')
            await expect(said.locator(".msg-author")).to_have_text("Support")
            await expect(said.locator(".bubble")).to_have_text(answer)
        await expect(request).to_have_count(0)
        await expect(panel.locator('#panel-support li[data-answered="true"]')).to_have_count(1)
        await screenshot(olivia, "live-board-answered")

        for page in (ada, sam, olivia):
            assert page.duet_errors == []  # type: ignore[attr-defined]
