"""The call page under stress: hostile chat text, and a signaling socket that drops mid-call."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from scheduling.clock import ManualClock
from scheduling.model import Role
from scheduling.store_events import UserRecord
from tests.browser import (
    SECRET,
    chromium,
    new_person_page,
    running_duet,
    screenshot,
    sign_in,
    wait_for_media_flowing,
)
from web.auth import mint_token
from web.demo import LIVE_CHAT_ID

pytestmark = [pytest.mark.browser, pytest.mark.media]

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)  # the live chat Ada ↔ Sam is open
SAM = UserRecord("sam", "Sam Student", Role.PARTICIPANT, None)
XSS = "<img src=x onerror=window.pwned=1>"


async def join_call(page: Page, name: str) -> None:
    await sign_in(page, name)
    await page.goto(f"/#/chat/{LIVE_CHAT_ID}")
    await page.get_by_role("button", name="Join now").click()
    await page.locator("#call").wait_for()


async def test_chat_text_is_rendered_as_text_never_as_html(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        # A phone-sized window: the chat is a drawer, closed, so new messages count as unread.
        _, ada = await new_person_page(browser, duet, {"width": 390, "height": 844})
        await join_call(ada, "Ada Lovelace")

        # Sam is a plain WebSocket client here: the hostile text reaches Ada over the wire.
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
                await expect(ada.locator("#call-status")).to_contain_text("Sam Student")
                for i, text in enumerate(
                    (
                        XSS,
                        "Links: javascript:alert(1) and https://example.org/jobs?team=1&x=<b>.",
                    )
                ):
                    await ws.send_json(
                        {"type": "chat_send", "client_msg_id": f"m{i}", "text": text}
                    )

                bubbles = ada.locator(".msg.theirs .bubble")
                await expect(bubbles).to_have_count(2)
                await expect(ada.locator("#unread-badge")).to_have_text("2")
                await expect(ada.locator(".unread-divider")).to_have_count(1)
                await screenshot(ada, "call-narrow-unread")
                await ada.get_by_role("button", name="Chat").click()
                await expect(ada.locator(".chat-panel")).to_be_in_viewport()
                await expect(ada.locator("#unread-badge")).to_be_hidden()
                await expect(bubbles.first).to_have_text(XSS)
                await expect(ada.locator(".chat-log img")).to_have_count(0)
                assert await ada.evaluate("() => window.pwned") is None
                links = ada.locator(".chat-log a")
                await expect(links).to_have_count(1)
                await expect(links).to_have_attribute("href", "https://example.org/jobs?team=1&x=")
                await expect(links).to_have_attribute("rel", "noopener noreferrer")
                await expect(links).to_have_attribute("target", "_blank")
                await expect(bubbles.nth(1)).to_contain_text("javascript:alert(1)")

                # What Ada types goes out verbatim and comes back as text, too.
                await ada.get_by_role("textbox", name="Message").fill(XSS)
                await ada.keyboard.press("Enter")
                mine = ada.locator(".msg.mine")
                await expect(mine).to_have_attribute("data-status", "sent")
                await expect(mine.locator(".bubble")).to_have_text(XSS)
                echoed = None
                while echoed is None:
                    msg = await ws.receive_json(timeout=5)
                    if msg["type"] == "chat_message" and msg["sender_id"] == "ada":
                        echoed = msg
                assert echoed["text"] == XSS
        assert await ada.evaluate("() => window.pwned") is None
        assert ada.duet_errors == []  # type: ignore[attr-defined]


STATUS_RECORDER_JS = """() => {
  window.__statusSeen = [];
  const status = document.getElementById('call-status');
  new MutationObserver(() => window.__statusSeen.push(status.textContent))
    .observe(status, {childList: true, characterData: true, subtree: true});
}"""
UFRAG_JS = "() => /a=ice-ufrag:(\\S+)/.exec(window.duetCall.pc.localDescription.sdp)[1]"


async def test_call_resumes_after_the_socket_drops(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, ada = await new_person_page(browser, duet)
        _, sam = await new_person_page(browser, duet)
        await join_call(ada, "Ada Lovelace")
        await join_call(sam, "Sam Student")
        await wait_for_media_flowing(ada)
        await wait_for_media_flowing(sam)
        await ada.evaluate(STATUS_RECORDER_JS)
        ada_ufrag = await ada.evaluate(UFRAG_JS)
        await sam.evaluate("() => { window.__pcBefore = window.duetCall.pc; }")

        # The network drops Sam's signaling socket (no `leave`).
        await sam.evaluate("() => window.duetCall.ws.close()")

        await ada.wait_for_function(
            "() => window.__statusSeen.includes('Sam Student is reconnecting…')"
        )
        await sam.wait_for_function(
            "() => window.duetCall.state.log.filter((t) => t === 'joined').length === 2"
        )
        # Media was kept: same RTCPeerConnection, and Ada (the offerer) restarted ICE.
        assert await sam.evaluate("() => window.duetCall.pc === window.__pcBefore")
        await ada.wait_for_function(f"() => ({UFRAG_JS})() !== {ada_ufrag!r}")
        await expect(ada.locator("#call-status")).to_have_text("Connected with Sam Student")
        await expect(sam.locator("#call-banner")).to_be_hidden()
        await wait_for_media_flowing(ada)
        await wait_for_media_flowing(sam)

        # The chat carries on over the new socket.
        await sam.get_by_role("textbox", name="Message").fill("Sorry, my Wi-Fi hiccuped.")
        await sam.keyboard.press("Enter")
        await expect(ada.locator(".msg.theirs .bubble")).to_have_text("Sorry, my Wi-Fi hiccuped.")
        ada_log = await ada.evaluate("() => window.duetCall.state.log")
        assert "peer_reconnecting" in ada_log and ada_log.count("peer_joined") == 2

        # Time moves on the server: the 5-minute warning, then the room closes for both.
        ends_at = datetime.fromtimestamp(
            await ada.evaluate("() => window.duetCall.state.endsAt") / 1000, UTC
        )
        clock.set(ends_at - timedelta(seconds=300))
        for page in (ada, sam):
            await expect(page.locator("#call-banner")).to_have_text("5 minutes left in this chat.")
            await expect(page.locator("#time-left")).to_have_class(re.compile("is-warning"))
        clock.set(ends_at)
        for page in (ada, sam):
            ended = page.locator("#call-ended")
            await expect(ended).to_contain_text("The time for this chat is up. Thank you!")
            await expect(ended.get_by_role("button", name="Join again")).to_have_count(0)
        assert ada.duet_errors == [] and sam.duet_errors == []  # type: ignore[attr-defined]
