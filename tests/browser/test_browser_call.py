"""The call page under stress: hostile chat text, a signaling socket that drops mid-call, twenty
chat messages sent as fast as a person can, and leaving and joining again while the window is open."""

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
from tests.support.browser import (
    SECRET,
    chromium,
    new_person_page,
    page_overflow,
    running_duet,
    screenshot,
    sign_in,
    wait_for_media_flowing,
)
from tests.support.xss import LINKS, XSS
from web.auth import mint_token
from web.demo import LIVE_CHAT_ID

pytestmark = [pytest.mark.browser, pytest.mark.media]

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)  # the live chat Ada ↔ Sam is open
SAM = UserRecord("sam", "Sam Student", Role.PARTICIPANT, None)
# Sam's answer when he requested the chat, under Ada's question (the request form's label).
ADA_QUESTION = "What role are you looking for?"
SAM_ANSWER = "Robotics careers, and how to prepare for interviews"
# The chat's slot ends at 10:27 UTC (11:27 in Berlin); the room closes 2 minutes later.
SLOT_ENDS = "11:27 CET"
ROOM_CLOSES = "11:29 CET"
# Sending 20 chat messages at the server's pace (a burst of 5, then 1/s) takes ~15 s of real time.
CHAT_BURST_TIMEOUT_MS = 45_000


async def join_call(page: Page, name: str) -> None:
    await sign_in(page, name)
    await page.goto(f"/#/chat/{LIVE_CHAT_ID}")
    # The pre-join page labels the participant's answer with the question it answers.
    answer = page.locator(".precheck .chat-answer")
    await expect(answer.locator(".label")).to_have_text(ADA_QUESTION)
    await expect(answer.locator(".answer-text")).to_have_text(SAM_ANSWER)
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
                        LINKS,
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
                # Message times name the event's zone, like every other time.
                await expect(mine.locator(".msg-meta")).to_have_text(re.compile(r"^\d\d:\d\d CET$"))
                echoed = None
                while echoed is None:
                    msg = await ws.receive_json(timeout=5)
                    if msg["type"] == "chat_message" and msg["sender_id"] == "ada":
                        echoed = msg
                assert echoed["text"] == XSS

                # A message the server refuses as it is (a control character) is marked as not
                # sent, with the server's sentence, and the next one goes out as usual.
                await ada.get_by_role("textbox", name="Message").fill("ring \a ring")
                await ada.keyboard.press("Enter")
                await expect(mine.nth(1)).to_have_attribute("data-status", "failed")
                await expect(mine.nth(1).locator(".msg-meta")).to_have_text("Not sent")
                await expect(ada.locator(".chat-errors")).to_have_text(
                    "The message contains control characters; send plain text only."
                )
                await ada.get_by_role("textbox", name="Message").fill("After the bell.")
                await ada.keyboard.press("Enter")
                await expect(mine.nth(2)).to_have_attribute("data-status", "sent")
                echoed = None
                while echoed is None:
                    msg = await ws.receive_json(timeout=5)
                    if msg["type"] == "chat_message" and msg["sender_id"] == "ada":
                        echoed = msg
                assert echoed["text"] == "After the bell."
        assert await ada.evaluate("() => window.pwned") is None
        assert ada.duet_errors == []  # type: ignore[attr-defined]


# Five chat_send frames on the page's own socket, around its pacer, so the server's chat bucket
# (a burst of 5) is empty; then, in the same task, a message typed and sent from the chat form.
DRAIN_THEN_SEND_JS = """(text) => {
  for (let i = 0; i < 5; i++) {
    window.duetCall.ws.send(JSON.stringify(
      {type: 'chat_send', client_msg_id: `drain-${i}`, text: `drain ${i}`}));
  }
  document.querySelector('.chat-form textarea').value = text;
  document.querySelector('.chat-form').requestSubmit();
}"""
# The most messages seen in the "sending" state at once, while they wait their turn.
SENDING_PEAK_JS = """() => {
  window.__sendingPeak = 0;
  const log = document.querySelector('.chat-log');
  new MutationObserver(() => {
    const n = log.querySelectorAll('li.msg[data-status="sending"]').length;
    window.__sendingPeak = Math.max(window.__sendingPeak, n);
  }).observe(log, {childList: true, subtree: true, attributes: true, attributeFilter: ['data-status']});
}"""
STATUS_RECORDER_JS = """() => {
  window.__statusSeen = [];
  const status = document.getElementById('call-status');
  new MutationObserver(() => window.__statusSeen.push(status.textContent))
    .observe(status, {childList: true, characterData: true, subtree: true});
}"""
UFRAG_JS = "() => /a=ice-ufrag:(\\S+)/.exec(window.duetCall.pc.localDescription.sdp)[1]"


async def test_call_survives_a_dropped_socket_and_fast_chat_and_can_be_joined_again(
    tmp_path: Path,
) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, ada = await new_person_page(browser, duet)
        _, sam = await new_person_page(browser, duet)
        await join_call(ada, "Ada Lovelace")
        await join_call(sam, "Sam Student")
        await wait_for_media_flowing(ada)
        await wait_for_media_flowing(sam)
        # The time left counts to the chat's end (its slot, 29 minutes away), not to the room's
        # close two minutes later.
        time_left = ada.locator("#time-left")
        await expect(time_left).to_have_text(re.compile(r"^2[89]:\d\d left$"))
        await expect(time_left).to_have_attribute(
            "title", f"The chat ends at {SLOT_ENDS}; the room stays open until {ROOM_CLOSES}."
        )
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

        # --- Twenty messages as fast as Sam can type them: over the server's chat limit (a
        # burst of 5, then 1/s), so the page queues them, "Sending…", and paces them.
        sam_log_before = await sam.evaluate("() => window.duetCall.state.log")
        await sam.evaluate(SENDING_PEAK_JS)
        long_word = "W" * 2000  # one unbroken word, as long as a message may be
        texts = [f"Quick question {i + 1} of 20" for i in range(19)] + [long_word]
        box = sam.get_by_role("textbox", name="Message")
        for text in texts:
            await box.fill(text)
            await box.press("Enter")
        sent = ["Sorry, my Wi-Fi hiccuped.", *texts]
        await expect(sam.locator(".msg.mine .bubble")).to_have_text(
            sent, timeout=CHAT_BURST_TIMEOUT_MS
        )
        await expect(sam.locator('.msg.mine[data-status="sent"]')).to_have_count(
            21, timeout=CHAT_BURST_TIMEOUT_MS
        )
        await expect(ada.locator(".msg.theirs .bubble")).to_have_text(
            sent, timeout=CHAT_BURST_TIMEOUT_MS
        )
        sam_messages = await sam.evaluate("() => window.duetCall.messages()")
        seqs = [m["seq"] for m in sam_messages]
        assert seqs == sorted(seqs) and len(set(seqs)) == 21, seqs
        assert await sam.evaluate("() => window.__sendingPeak") > 5  # they really queued
        # The call is intact: the same socket all along, nothing refused, media connected.
        sam_log = await sam.evaluate("() => window.duetCall.state.log")
        new_entries = sam_log[len(sam_log_before) :]
        assert not [t for t in new_entries if t.startswith("closed:") or t == "error"], new_entries
        assert sam_log.count("joined") == 2
        for page in (ada, sam):
            assert await page.evaluate("() => window.duetCall.pc.connectionState") == "connected"
        await expect(ada.locator("#call-status")).to_have_text("Connected with Sam Student")
        # The long word wraps in the chat like any text: the call page does not grow sideways.
        assert await page_overflow(sam) == 0 and await page_overflow(ada) == 0

        # --- Sam leaves; while the chat is open he can join again, without a reload.
        await sam.get_by_role("button", name="Leave").click()
        ended = sam.locator("#call-ended")
        await expect(ended).to_contain_text("You left the chat")
        await expect(ended.locator("#rejoin-note")).to_have_text(
            f"You can join again until {ROOM_CLOSES}."
        )
        await expect(ada.locator("#call-status")).to_have_text("Sam Student left the chat")
        await sam.evaluate("() => { window.__samePage = true; }")
        await ended.get_by_role("button", name="Join again").click()
        await sam.locator("#call").wait_for()
        assert await sam.evaluate("() => window.__samePage") is True  # no reload
        await expect(sam.locator(".msg.mine .bubble")).to_have_text(sent)  # the chat is back
        await expect(ada.locator("#call-status")).to_have_text("Connected with Sam Student")
        await expect(sam.locator("#call-status")).to_have_text("Connected with Ada Lovelace")

        # Time moves on the server: the warnings, then the room closes for both.
        ends_at = datetime.fromtimestamp(
            await ada.evaluate("() => window.duetCall.state.endsAt") / 1000, UTC
        )
        clock.set(ends_at - timedelta(seconds=300))  # 3 minutes before the slot's end
        for page in (ada, sam):
            await expect(page.locator("#call-banner")).to_have_text("3 minutes left in this chat.")
            await expect(page.locator("#time-left")).to_have_class(re.compile("is-warning"))
        clock.set(ends_at - timedelta(seconds=60))  # the slot is over; the grace runs
        for page in (ada, sam):
            await expect(page.locator("#call-banner")).to_have_text(
                "Time is up. The room closes in one minute."
            )
            await expect(page.locator("#time-left")).to_have_text(
                re.compile(r"^Overtime · room closes in (1:00|0:[0-5]\d)$")
            )
        # Sam leaves seconds before the close: Join again is offered, then taken away at the
        # close, counted on the server's clock (which the ended page asks for).
        clock.set(ends_at - timedelta(seconds=8))
        await sam.get_by_role("button", name="Leave").click()
        rejoin = ended.get_by_role("button", name="Join again")
        await expect(rejoin).to_be_visible()
        await expect(rejoin).to_have_count(0, timeout=20_000)
        await expect(ended.locator("#rejoin-note")).to_have_text(
            "The chat's time is over, so it cannot be joined again."
        )
        clock.set(ends_at)
        closed = ada.locator("#call-ended")
        await expect(closed).to_contain_text("The time for this chat is up. Thank you!")
        await expect(closed.get_by_role("button", name="Join again")).to_have_count(0)
        assert ada.duet_errors == [] and sam.duet_errors == []  # type: ignore[attr-defined]


async def test_a_chat_message_the_server_refuses_is_sent_again_not_lost(tmp_path: Path) -> None:
    """Over the chat limit the server answers `rate_limited` and keeps the socket open
    (docs/protocol.md); the page pauses and sends the same client_msg_id again."""
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, ada = await new_person_page(browser, duet)
        await join_call(ada, "Ada Lovelace")
        await ada.evaluate(DRAIN_THEN_SEND_JS, "Are you there?")
        drained = [f"drain {i}" for i in range(5)]
        mine = ada.locator(".msg.mine")
        await expect(mine.locator(".bubble")).to_have_text([*drained, "Are you there?"])
        await expect(mine.last).to_have_attribute("data-status", "sent")
        log = await ada.evaluate("() => window.duetCall.state.log")
        assert "error" in log, log  # refused once...
        assert log.count("joined") == 1 and not [t for t in log if t.startswith("closed:")], log
        await expect(ada.locator("#call")).to_be_visible()
        # ...and stored exactly once, after the five sent around the page.
        token = await ada.evaluate("() => sessionStorage.getItem('duet.token')")
        async with (
            aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
            http.get(f"{duet.base_url}/api/v1/chats/{LIVE_CHAT_ID}/messages") as resp,
        ):
            assert resp.status == 200, await resp.text()
            stored = [m["text"] for m in (await resp.json())["messages"]]
        assert stored == [*drained, "Are you there?"]
        assert ada.duet_errors == []  # type: ignore[attr-defined]
