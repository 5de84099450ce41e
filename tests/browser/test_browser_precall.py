"""The pre-join "Test my connection" check in Chromium, against the app's real pre-call peer.

Ada opens the demo's live chat, runs the check and gets a verdict from the server's aiortc peer
(which mirrors her fake camera and mic back to her); afterwards the server holds no peer. A busy
server shows the API's sentence and Join still works; Join during a check ends it. The app runs
in-process, so the loopback_ice patch lets its aiortc peer gather 127.0.0.1 candidates.
Leaving the page during a check ends it too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from media.peer_pool import PoolFull
from scheduling.clock import ManualClock
from tests.support.browser import (
    MEDIA_TIMEOUT_MS,
    RunningDuet,
    chromium,
    new_person_page,
    running_duet,
    screenshot,
    sign_in,
)
from web.demo import LIVE_CHAT_ID
from web.keys import PRECALL

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.usefixtures("loopback_ice")]

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)  # the live chat Ada ↔ Sam is open
WITHIN_S = MEDIA_TIMEOUT_MS / 1000
# Installed before the check starts: the echoed video's first decoded size, from its 'resize'
# event (media events do not bubble, but a capturing listener on the document sees them).
ECHO_PROBE_JS = """() => document.addEventListener('resize', (e) => {
  if (e.target.id === 'precall-echo' && e.target.videoWidth > 0)
    window.__echoSize = [e.target.videoWidth, e.target.videoHeight];
}, true)"""


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Poll a server-side condition until it holds (a bounded wait, not a fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WITHIN_S
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def open_prejoin(duet: RunningDuet, page: Page) -> None:
    await sign_in(page, "Ada Lovelace")
    await page.goto(f"/#/chat/{LIVE_CHAT_ID}")
    await expect(page.get_by_role("button", name="Join now")).to_be_enabled()
    await page.locator("#precall").wait_for()


async def test_connection_check_reaches_a_verdict_and_leaves_no_peer(tmp_path: Path) -> None:
    async with running_duet(tmp_path, ManualClock(SEED)) as duet, chromium() as browser:
        service = duet.app[PRECALL]
        _, ada = await new_person_page(browser, duet, {"width": 1280, "height": 900})
        await open_prejoin(duet, ada)
        await ada.evaluate(ECHO_PROBE_JS)

        await ada.get_by_role("button", name="Test my connection").click()
        panel = ada.locator("#precall")
        await expect(panel).to_have_attribute("data-phase", "done", timeout=MEDIA_TIMEOUT_MS)

        # What the server echoed back was shown while the check ran.
        echo_size: Any = await ada.evaluate("() => window.__echoSize || null")
        assert echo_size and echo_size[0] > 0 and echo_size[1] > 0
        # The verdict, in words, with its indicators.
        await expect(ada.locator('dd[data-check="camera"]')).to_have_attribute("data-value", "ok")
        await expect(ada.locator('dd[data-check="camera"]')).to_have_text("Works")
        await expect(ada.locator('dd[data-check="microphone"]')).to_have_attribute(
            "data-value", "ok"
        )
        # Graded from measured figures (a loaded machine may stretch the round trip).
        await expect(ada.locator('dd[data-check="connection"]')).to_have_attribute(
            "data-value", re.compile("^(good|fair|poor)$")
        )
        await expect(ada.locator('dd[data-check="path"]')).to_have_text("Direct")
        await expect(ada.locator('dd[data-check="rtt"]')).to_have_text(re.compile(r"^\d+ ms$"))
        await expect(ada.locator("#precall-summary")).to_have_text(
            re.compile(r"^Your camera and microphone work; your connection is (good|fair|poor)\b")
        )
        await expect(ada.locator("#precall-echo")).to_be_hidden()  # the server's peer is gone

        # The check was deleted, not left to time out: no peer, and its verdict was kept.
        assert service.pool.size == 0
        assert service.results_kept == 1
        await expect(ada.get_by_role("button", name="Test again")).to_be_enabled()
        await screenshot(ada, "precall")
        assert ada.duet_errors == []  # type: ignore[attr-defined]


async def test_busy_server_shows_its_sentence_and_join_ends_a_running_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_duet(tmp_path, ManualClock(SEED)) as duet, chromium() as browser:
        service = duet.app[PRECALL]
        _, ada = await new_person_page(browser, duet)
        await open_prejoin(duet, ada)

        async def full(*_: object) -> None:
            raise PoolFull("test: every place taken")

        with monkeypatch.context() as patch:
            patch.setattr(service, "start", full)
            await ada.get_by_role("button", name="Test my connection").click()
            await expect(ada.locator("#precall")).to_have_attribute("data-phase", "error")
        await expect(ada.locator(".precall-message .alert")).to_have_text(
            "Too many checks are running; try again in a minute. You can still join the chat."
        )
        await expect(ada.get_by_role("button", name="Join now")).to_be_enabled()

        # Leaving the page during a check ends it on the server.
        await ada.get_by_role("button", name="Test again").click()
        await eventually(lambda: service.pool.size == 1, "the check's peer")
        await ada.get_by_role("link", name="Back to my chats").click()
        await eventually(lambda: service.pool.size == 0, "the check to be deleted on leaving")
        assert service.results_kept == 1

        # Back again: Join while a check runs ends it on the server and starts the call.
        await ada.goto(f"/#/chat/{LIVE_CHAT_ID}")
        await ada.get_by_role("button", name="Test my connection").click()
        await eventually(lambda: service.pool.size == 1, "the check's peer")
        await expect(ada.locator("#precall")).to_have_attribute("data-phase", "running")
        await ada.get_by_role("button", name="Join now").click()
        await ada.locator("#call").wait_for()
        await eventually(lambda: service.pool.size == 0, "the check to be deleted on joining")
        assert service.results_kept == 2
        assert ada.duet_errors == []  # type: ignore[attr-defined]
