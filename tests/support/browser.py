"""Helpers for the browser tests: Duet as a real server on loopback, headless Chromium, sign-in.

The app runs in the test's own event loop (aiohttp AppRunner + TCPSite on a free 127.0.0.1
port), so a test can move its ManualClock, settle chats and read the database while Chromium
talks to it. Chromium is Debian's /usr/bin/chromium driven by Playwright with the flags from
the team's WebRTC notes; tests never download a browser.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from scheduling.clock import ManualClock
from tests.support.app import REPO_ROOT
from web.app import create_app
from web.config import Config
from web.demo import seed_or_refresh
from web.keys import ENGINE

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "artifacts" / "screenshots"
SECRET = "browser-test-secret-not-for-production-0123456789"
# Flags measured to work on these machines (see the team's webrtc-on-this-machine notes).
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
)
# Waits in the browser: generous for a loaded 2-core machine, never a fixed sleep.
UI_TIMEOUT_MS = 15_000
MEDIA_TIMEOUT_MS = 30_000


def chromium_path() -> str:
    """The Debian Chromium binary, or a clear error naming the package that provides it."""
    if not CHROMIUM.exists():
        raise RuntimeError(
            "The browser tests need Chromium at /usr/bin/chromium: install the Debian package "
            "'chromium' (apt-get install chromium). Never run 'playwright install'."
        )
    return str(CHROMIUM)


@dataclass
class RunningDuet:
    """Duet listening on 127.0.0.1:<port> with the demo seeded at the clock's time."""

    app: web.Application
    base_url: str
    clock: ManualClock

    @property
    def engine(self) -> Any:
        return self.app[ENGINE]


@asynccontextmanager
async def running_duet(
    tmp_path: Path, clock: ManualClock, **settings: Any
) -> AsyncIterator[RunningDuet]:
    """`settings`: more Config values (e.g. `mail_dir`)."""
    config = Config(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        jwt_secret=SECRET,
        dev_login=True,
        **settings,
    )
    app = create_app(config, clock=clock)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        await seed_or_refresh(app[ENGINE], clock.now())
        yield RunningDuet(app, f"http://{host}:{port}", clock)
    finally:
        await runner.cleanup()


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Headless Chromium with fake camera, mic and screen, and a fresh, throw-away profile.

    Playwright's `launch` starts every browser on a new temporary --user-data-dir and deletes
    it on close (it refuses the flag in `args`), so no state leaks between tests.
    """
    executable = chromium_path()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield browser
        finally:
            await browser.close()


async def new_person_page(
    browser: Browser,
    duet: RunningDuet,
    viewport: dict[str, int] | None = None,
    *,
    locale: str = "en-GB",
    timezone_id: str = "Europe/Berlin",
) -> tuple[BrowserContext, Page]:
    """A browser context of its own (separate storage) with one page, failing on page errors.

    The demo event is in Berlin; `timezone_id` and `locale` put the person somewhere else."""
    context = await browser.new_context(
        viewport=viewport or {"width": 1280, "height": 800},
        base_url=duet.base_url,
        locale=locale,
        timezone_id=timezone_id,
    )
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.duet_errors = errors  # type: ignore[attr-defined]
    return context, page


async def sign_in(page: Page, name: str) -> None:
    """The demo sign-in: open the page and click the person's card."""
    await page.goto("/#/signin")
    await page.get_by_role("button", name=name).click()
    await page.locator(".topbar .who-text strong", has_text=name).wait_for(state="attached")


async def sign_in_with_token(page: Page, token: str) -> None:
    """What a host platform does: hand Duet its token in the URL's fragment."""
    await page.goto(f"/#token={token}")
    await page.locator(".topbar .who-text strong").wait_for(state="attached")


async def page_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than its viewport (0: nothing sticks out)."""
    width: int = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return width


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path


# Installed in a page by `watch_inbound_media`: every 250 ms, the inbound RTP counters of the
# page's RTCPeerConnection (window.duetCall.pc) land in window.__duetInbound, so tests can wait
# on them with a synchronous predicate.
_INBOUND_PROBE_JS = """() => {
  if (window.__duetInboundProbe) return;
  window.__duetInboundProbe = setInterval(async () => {
    const pc = window.duetCall && window.duetCall.pc;
    if (!pc || pc.connectionState === 'closed') { window.__duetInbound = null; return; }
    const stats = await pc.getStats();
    const out = {video: [], audioPackets: 0, audioSamples: 0, at: performance.now()};
    stats.forEach((r) => {
      if (r.type !== 'inbound-rtp') return;
      if (r.kind === 'video') out.video.push({mid: r.mid, frames: r.framesDecoded || 0});
      if (r.kind === 'audio') {
        out.audioPackets += r.packetsReceived || 0;
        out.audioSamples += r.totalSamplesReceived || 0;
      }
    });
    window.__duetInbound = out;
  }, 250);
}"""


async def inbound(page: Page) -> dict[str, Any]:
    """The latest inbound counters: {video: [{mid, frames}], audioPackets, audioSamples}."""
    await page.evaluate(_INBOUND_PROBE_JS)
    await page.wait_for_function("() => window.__duetInbound", timeout=MEDIA_TIMEOUT_MS)
    stats: dict[str, Any] = await page.evaluate("() => window.__duetInbound")
    return stats


CALL_DIAGNOSTICS_JS = """() => {
  const call = window.duetCall;
  const pc = call && call.pc;
  return {
    state: call ? call.state : null,
    inbound: window.__duetInbound || null,
    pc: pc ? {
      connection: pc.connectionState, ice: pc.iceConnectionState, signaling: pc.signalingState,
      transceivers: pc.getTransceivers().map((t) => [t.mid, t.direction, t.currentDirection]),
    } : null,
  };
}"""


async def call_diagnostics(page: Page) -> Any:
    """What a failing media wait reports: the call's state, message log and peer connection."""
    return await page.evaluate(CALL_DIAGNOSTICS_JS)


async def wait_for_media_flowing(page: Page, video_streams: int = 1) -> dict[str, Any]:
    """Wait until `video_streams` remote videos decode frames and remote audio arrives, then
    until every one of those counters has grown again (media keeps flowing, not one frame)."""
    try:
        return await _wait_for_media(page, video_streams)
    except PlaywrightTimeoutError as exc:
        raise AssertionError(f"no media flowing: {await call_diagnostics(page)}") from exc


async def _wait_for_media(page: Page, video_streams: int) -> dict[str, Any]:
    await page.evaluate(_INBOUND_PROBE_JS)
    await page.wait_for_function(
        """(n) => {
          const s = window.__duetInbound;
          return s && s.video.filter((v) => v.frames > 0).length >= n
            && s.audioPackets > 0 && s.audioSamples > 0;
        }""",
        arg=video_streams,
        timeout=MEDIA_TIMEOUT_MS,
    )
    first = await inbound(page)
    await page.wait_for_function(
        """(first) => {
          const s = window.__duetInbound;
          const frames = (mid) => (s.video.find((v) => v.mid === mid) || {frames: 0}).frames;
          return first.video.every((v) => v.frames === 0 || frames(v.mid) > v.frames)
            && s.audioPackets > first.audioPackets && s.audioSamples > first.audioSamples;
        }""",
        arg=first,
        timeout=MEDIA_TIMEOUT_MS,
    )
    return await inbound(page)
