"""A relay-mode call between two Chromium pages: media goes through Duet's relay, never p2p.

The demo event is switched to media_mode "relay" through the organizer's API, then Ada and Sam
join the live chat in their own browser contexts with the unchanged call page. Both must be
told to offer (and be polite), see and hear each other through the server's relay peers (each
page's selected ICE pair ends at its relay peer's port), and Sam's screen share must reach Ada as
the *screen* (the relay offers it to Ada and labels it by the mid on Ada's connection), then go
away when Sam stops. The app runs in-process, so loopback_ice covers the relay's aiortc peers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Page, expect

from media.relay import RelayRoom
from scheduling.clock import ManualClock
from scheduling.model import Role
from scheduling.store_events import UserRecord
from signaling.ws import NODE
from tests.support.browser import (
    MEDIA_TIMEOUT_MS,
    SECRET,
    RunningDuet,
    chromium,
    inbound,
    new_person_page,
    running_duet,
    sign_in,
    wait_for_media_flowing,
)
from web.auth import mint_token
from web.demo import DEMO_EVENT_ID, LIVE_CHAT_ID

pytestmark = [pytest.mark.browser, pytest.mark.media, pytest.mark.usefixtures("loopback_ice")]

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)  # the live chat Ada ↔ Sam is open
OLIVIA = UserRecord("olivia", "Olivia Organizer", Role.ORGANIZER, None)

# The page's selected ICE candidate pair: the remote address and port it sends media to.
SELECTED_PAIR_JS = """async () => {
  const stats = await window.duetCall.pc.getStats();
  let pairId = null;
  stats.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pairId = r.selectedCandidatePairId; });
  const pair = pairId && stats.get(pairId);
  const remote = pair && stats.get(pair.remoteCandidateId);
  return remote ? {address: remote.address, port: remote.port, state: pair.state} : null;
}"""


async def use_relay(duet: RunningDuet) -> None:
    """The organizer switches the demo event to relay mode (PUT the event as it is, plus mode)."""
    token = mint_token(SECRET, OLIVIA, duet.clock.now())
    url = f"{duet.base_url}/api/v1/events/{DEMO_EVENT_ID}"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        async with http.get(url) as resp:
            assert resp.status == 200, await resp.text()
            event = await resp.json()
        async with http.put(url, json={**event, "media_mode": "relay"}) as resp:
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["media_mode"] == "relay"


async def join_call(page: Page, name: str) -> None:
    await sign_in(page, name)
    await page.goto(f"/#/chat/{LIVE_CHAT_ID}")
    await page.get_by_role("button", name="Join now").click()
    await page.locator("#call").wait_for()


def relay_ports(room: RelayRoom, user_id: str) -> set[int]:
    """The ports in the relay peer's own answer to that person (its host candidates)."""
    sdp = room.connection(user_id).localDescription.sdp
    return {int(line.split()[5]) for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def test_relay_mode_call_with_screen_share_between_two_browsers(tmp_path: Path) -> None:
    async with running_duet(tmp_path, ManualClock(SEED)) as duet, chromium() as browser:
        await use_relay(duet)
        hub = duet.app[NODE].relay
        _, ada = await new_person_page(browser, duet)
        _, sam = await new_person_page(browser, duet)
        await join_call(ada, "Ada Lovelace")
        await join_call(sam, "Sam Student")

        # Both are offerers and polite; camera and mic flow both ways.
        for page in (ada, sam):
            state: Any = await page.evaluate("() => window.duetCall.state")
            assert state["offerer"] is True and state["polite"] is True, state
        ada_media = await wait_for_media_flowing(ada)
        camera_mids = {v["mid"] for v in ada_media["video"] if v["frames"] > 0}
        sam_media = await wait_for_media_flowing(sam)
        assert ada_media["audioSamples"] > 0 and sam_media["audioSamples"] > 0
        await expect(ada.locator("#call-status")).to_have_text("Connected with Sam Student")

        # The media really ends at the relay: each page's pair points at its own relay peer.
        room = hub.room(LIVE_CHAT_ID)
        assert room is not None, "the hub holds a relay room for the chat"
        for page, user_id in ((ada, "ada"), (sam, "sam")):
            pair: Any = await page.evaluate(SELECTED_PAIR_JS)
            assert pair and pair["state"] == "succeeded", pair
            assert pair["port"] in relay_ports(room, user_id), (pair, user_id)
        for key, figures in room.stats().items():
            assert figures["forwarded"] + figures["decoded"] > 0, (key, figures)

        # Sam shares a screen: the relay offers it to Ada, who shows it as the screen.
        await sam.get_by_role("button", name="Share screen").click()
        await expect(ada.locator("#remote-screen")).to_be_visible(timeout=MEDIA_TIMEOUT_MS)
        await expect(ada.locator("#stage")).to_have_class("stage has-screen")
        with_screen = await wait_for_media_flowing(ada, video_streams=2)
        assert len([v for v in with_screen["video"] if v["frames"] > 0]) == 2
        await ada.wait_for_function(
            "() => document.getElementById('remote-screen').videoWidth > 0"
            " && document.getElementById('remote-camera').videoWidth > 0",
            timeout=MEDIA_TIMEOUT_MS,
        )
        (screen_mid,) = {v["mid"] for v in with_screen["video"]} - camera_mids
        screen_stats = room.stats()[f"to:ada:screen:{screen_mid}"]  # labelled by Ada's own mid
        assert screen_stats["forwarded"] > 0
        # Ada answered the relay's offer: what she sends still reaches Sam (same numbers kept).
        await wait_for_media_flowing(sam)

        # Sam stops: Ada's screen tile goes away; camera and mic keep flowing both ways.
        await sam.get_by_role("button", name="Stop sharing").click()
        await expect(ada.locator("#remote-screen")).to_be_hidden(timeout=MEDIA_TIMEOUT_MS)
        await expect(ada.locator("#stage")).to_have_class("stage")
        await ada.wait_for_function(  # the relay's second offer paused the m-line
            """(mid) => window.duetCall.pc.getTransceivers()
                .some((t) => t.mid === mid && t.currentDirection === 'inactive')""",
            arg=screen_mid,
            timeout=MEDIA_TIMEOUT_MS,
        )
        camera_moved_on = """([first, screenMid]) => {
              const s = window.__duetInbound;
              const frames = (st, mid) => (st.video.find((v) => v.mid === mid) || {frames: 0}).frames;
              const camera = first.video.find((v) => v.mid !== screenMid);
              return frames(s, camera.mid) > camera.frames + 10
                && s.audioPackets > first.audioPackets;
            }"""
        # Screen frames already received may still be decoded (more of them on a loaded
        # machine), so wait for the camera to move on once before measuring: from then on the
        # screen must not advance while the camera does.
        stopped = await inbound(ada)
        await ada.wait_for_function(
            camera_moved_on, arg=[stopped, screen_mid], timeout=MEDIA_TIMEOUT_MS
        )
        settled = await inbound(ada)
        await ada.wait_for_function(
            camera_moved_on, arg=[settled, screen_mid], timeout=MEDIA_TIMEOUT_MS
        )
        after = await inbound(ada)
        frames = {v["mid"]: v["frames"] for v in after["video"]}
        was = {v["mid"]: v["frames"] for v in settled["video"]}
        assert frames.get(screen_mid, 0) - was.get(screen_mid, 0) <= 1, "the share stopped"
        await wait_for_media_flowing(sam)

        # Leaving closes the relay room.
        await sam.get_by_role("button", name="Leave").click()
        await expect(ada.locator("#call-status")).to_contain_text("left the chat")
        assert hub.room(LIVE_CHAT_ID) is None
        assert ada.duet_errors == [] and sam.duet_errors == []  # type: ignore[attr-defined]
