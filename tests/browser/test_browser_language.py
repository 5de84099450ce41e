"""The client in German: a browser set to de-DE gets every page in German (no English sentence
of the catalogue where a German one exists, dates in German, <html lang="de">), and the language
setting in the top bar switches at once, survives a reload, and can follow the browser again."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Page, expect

from scheduling.clock import ManualClock
from scheduling.model import Role
from scheduling.store_events import UserRecord
from tests.support.browser import (
    MEDIA_TIMEOUT_MS,
    SECRET,
    chromium,
    new_person_page,
    running_duet,
    screenshot,
    sign_in,
)
from tests.support.client_catalogue import PLACEHOLDER, forms, load
from web.auth import mint_token
from web.demo import LIVE_CHAT_ID

pytestmark = pytest.mark.browser

# The demo's live chat (Ada ↔ Sam) has its Join window open at this instant.
SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)
ADA = UserRecord("ada", "Ada Lovelace", Role.EMPLOYEE, "acme")
EN = load("en")
DE = load("de")
# Each language's own name is shown in that language in the picker, whatever the page's.
SHOWN_IN_OWN_LANGUAGE = {"language.self"}

# Every text node, and every title, label and placeholder, of the page (hidden ones too).
PAGE_TEXTS_JS = """() => {
  const out = [document.title];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.nodeValue.trim();
    if (text && !walker.currentNode.parentElement.closest('script, style')) out.push(text);
  }
  for (const el of document.querySelectorAll('[title], [aria-label], [placeholder], [alt]')) {
    for (const name of ['title', 'aria-label', 'placeholder', 'alt']) {
      const value = el.getAttribute(name);
      if (value && value.trim()) out.push(value.trim());
    }
  }
  return out;
}"""


def _pattern(template: str) -> re.Pattern[str] | None:
    """An English message as a pattern over a whole text, its placeholders matching anything."""
    template = template.strip()
    parts = PLACEHOLDER.split(template)
    literal = "".join(parts[::2])
    if not re.search(r"[A-Za-z]{2,}", literal):
        return None
    pieces = [re.escape(p) if i % 2 == 0 else ".+?" for i, p in enumerate(parts)]
    return re.compile("".join(pieces), re.S)


ENGLISH_ONLY = [
    (key, pattern)
    for key, message in EN.items()
    if key not in SHOWN_IN_OWN_LANGUAGE
    for english, german in zip(forms(message), forms(DE[key]), strict=True)
    if english.strip() != german.strip() and (pattern := _pattern(english))
]


async def english_on(page: Page) -> list[tuple[str, str]]:
    """(key, text) for every text on the page that is an English message with a German one."""
    texts: list[str] = await page.evaluate(PAGE_TEXTS_JS)
    return [
        (key, text) for text in texts for key, pattern in ENGLISH_ONLY if pattern.fullmatch(text)
    ]


async def settled(page: Page) -> None:
    """The route has rendered (no loading line left)."""
    await expect(page.locator("#app .loading")).to_have_count(0)


async def assert_german(page: Page, where: str) -> None:
    await settled(page)
    await expect(page.locator("html")).to_have_attribute("lang", "de")
    leaks = await english_on(page)
    assert not leaks, f"English on {where}: {leaks}"


async def test_a_german_browser_gets_every_page_in_german(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        pages: list[Page] = []

        async def german(name: str | None = None) -> Page:
            """A browser context of its own, set to de-DE, signed in as `name`."""
            _, page = await new_person_page(browser, duet, locale="de-DE")
            pages.append(page)
            if name:
                await sign_in(page, name)
            return page

        page = await german()
        await page.goto("/#/signin")
        await expect(page.locator(".signin h1")).to_have_text("Bei Duet anmelden")
        await expect(page).to_have_title("Duet · 1:1-Gespräche")
        await expect(page.locator("#language-select")).to_have_value("")
        await assert_german(page, "sign-in")

        # The participant's tabs, with a request form open on the companies.
        page = await german("Priya Patel")
        await expect(page.locator('.tab[data-tab="offers"]')).to_have_text("Unternehmen")
        await page.locator(".offer [data-action=request]:enabled").first.click()
        await expect(page.locator(".request-form")).to_be_visible()
        await assert_german(page, "participant/offers")
        for tab in ("invitations", "requests", "schedule", "completed", "history"):
            await page.goto(f"/#/participant/{tab}")
            await expect(page.locator(f'.tab.is-current[data-tab="{tab}"]')).to_be_visible()
            await assert_german(page, f"participant/{tab}")

        # Sam's schedule: a live Join, its time in German, then the pre-join page.
        page = await german("Sam Student")
        await page.goto("/#/participant/schedule")
        card = page.locator(f'.chat-card[data-chat-id="{LIVE_CHAT_ID}"]')
        await expect(card.locator("[data-action=join]")).to_have_text("Beitreten")
        await expect(card.locator(".chat-time")).to_have_text(
            re.compile(r"^Mo\., 30\. Nov\., 10:57\u201311:27 MEZ · 30 Min\.$")
        )
        await expect(card.get_by_role("link", name="Zum Kalender hinzufügen")).to_be_visible()
        await assert_german(page, "participant/schedule")
        await card.locator("[data-action=join]").click()
        await expect(page.get_by_role("button", name="Jetzt beitreten")).to_be_enabled()
        await expect(page.locator("#precall-start")).to_have_text("Meine Verbindung testen")
        await assert_german(page, "the pre-join check")
        # The connection check: Duet's server peer grades camera, mic and connection in German.
        await page.locator("#precall-start").click()
        await expect(page.locator("#precall")).to_have_attribute(
            "data-phase", re.compile(r"^(done|error)$"), timeout=MEDIA_TIMEOUT_MS
        )
        await expect(page.locator("#precall-start")).to_have_text("Erneut testen")
        await assert_german(page, "the connection check's verdict")

        # In the call: Ada is awaited, arrives (a plain WebSocket client here), chats, leaves.
        await page.get_by_role("button", name="Jetzt beitreten").click()
        status = page.locator("#call-status")
        await expect(status).to_have_text("Warten auf Ada Lovelace")
        await expect(page.locator("#time-left")).to_have_text(re.compile(r"^noch \d+:\d\d$"))
        await assert_german(page, "the call, alone")
        headers = {"Authorization": f"Bearer {mint_token(SECRET, ADA, clock.now())}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{duet.base_url}/api/v1/chats/{LIVE_CHAT_ID}/join") as resp:
                assert resp.status == 200, await resp.text()
                grant = await resp.json()
            async with http.ws_connect(
                f"{duet.base_url}/api/v1/ws", protocols=("duet.v1.json",)
            ) as ws:
                await ws.send_json({"type": "join", "v": 1, "ticket": grant["ticket"]})
                assert (await ws.receive_json(timeout=5))["type"] == "joined"
                await expect(status).to_have_text(
                    re.compile(r"^(Ada Lovelace ist da|Audio und Video werden verbunden…)$")
                )
                await ws.send_json({"type": "chat_send", "client_msg_id": "a1", "text": "Hallo!"})
                await expect(page.locator(".msg.theirs .bubble")).to_have_text("Hallo!")
                await page.get_by_role("textbox", name="Nachricht").fill("Guten Tag!")
                await page.keyboard.press("Enter")
                mine = page.locator(".msg.mine")
                await expect(mine).to_have_attribute("data-status", "sent")
                await expect(mine.locator(".msg-meta")).to_have_text(re.compile(r"^\d\d:\d\d MEZ$"))
                await assert_german(page, "the call, with Ada")
                await screenshot(page, "call-german")
                await ws.send_json({"type": "leave"})
                await expect(status).to_have_text("Ada Lovelace hat das Gespräch verlassen")
        await assert_german(page, "the call, after Ada left")
        await page.locator("[data-action=leave]").click()
        await expect(page.locator("#call-ended h1")).to_have_text(
            "Sie haben das Gespräch verlassen"
        )
        await assert_german(page, "the page after the call")

        # The employee's dashboard, tab by tab; dates in German.
        page = await german("Grace Hopper")
        await expect(page.locator(".quota-box")).to_contain_text("Terminen belegt")
        await expect(page.locator('.day[data-date="2026-11-30"] h2')).to_have_text(
            re.compile(r"^Mo\., 30\. Nov\.$")
        )
        await assert_german(page, "employee/availability")
        for tab in ("requested", "in_scheduling", "confirmed", "completed", "history", "invite"):
            await page.goto(f"/#/employee/{tab}")
            await expect(page.locator(f'.tab.is-current[data-tab="{tab}"]')).to_be_visible()
            await assert_german(page, f"employee/{tab}")

        # The organizer's settings.
        page = await german("Olivia Organizer")
        await expect(page.locator(".event-form h2")).to_have_text("Veranstaltung")
        await assert_german(page, "organizer")
        # The live board: today's chats grouped, each row's sentence; a row's side panel.
        await page.get_by_role("link", name="Live-Übersicht").click()
        await expect(page.locator("#live-status")).to_have_text("Verbunden")
        row = page.locator(f'.board-row[data-chat="{LIVE_CHAT_ID}"]')
        await expect(row).to_be_visible()
        await assert_german(page, "organizer/live")
        await row.locator("button").first.click()
        await expect(page.locator("#board-panel")).to_be_visible()
        await expect(page.locator("#board-panel")).to_contain_text("Keine Support-Anfrage")
        await assert_german(page, "organizer/live, a chat's panel")
        # The email settings.
        await page.goto("/#/settings")
        await expect(page.locator(".setting-row").first).to_be_visible()
        await assert_german(page, "settings")

        # A refusal whose code the client knows is said in German (the server writes English).
        page = await german()
        await page.goto("/#token=not-a-token")
        await expect(page.locator(".alert-info")).to_have_text(
            "Ihr Anmeldetoken ist ungültig. Bitte melden Sie sich erneut an."
        )
        await assert_german(page, "sign-in after a refused token")
        assert all(p.duet_errors == [] for p in pages)  # type: ignore[attr-defined]


async def test_the_language_setting_switches_at_once_and_is_kept(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, page = await new_person_page(browser, duet, locale="en-GB")
        await sign_in(page, "Priya Patel")
        offers = page.locator('.tab[data-tab="offers"]')
        await expect(offers).to_have_text("Companies")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        picker = page.locator("#language-select")
        await expect(picker.locator("option").first).to_have_text("Browser language (English)")

        # Deutsch: the page re-renders in place (no navigation: a marker on window survives).
        await page.evaluate("() => { window.__sameDocument = true; }")
        await picker.select_option("de")
        await expect(offers).to_have_text("Unternehmen")
        await expect(page.locator("html")).to_have_attribute("lang", "de")
        await expect(page).to_have_title("Duet · 1:1-Gespräche")
        assert await page.evaluate("() => window.__sameDocument === true")
        await assert_german(page, "participant/offers after switching")

        # Kept across a reload (localStorage), and the setting shows the choice.
        await page.reload()
        await expect(offers).to_have_text("Unternehmen")
        await expect(picker).to_have_value("de")
        assert await page.evaluate("() => localStorage.getItem('duet.language')") == "de"

        # Following the browser again: English, and nothing stored.
        await picker.select_option("")
        await expect(offers).to_have_text("Companies")
        await expect(page.locator("html")).to_have_attribute("lang", "en")
        assert await page.evaluate("() => localStorage.getItem('duet.language')") is None
        # The check that found no English above finds it here (it is not blind).
        assert {key for key, _ in await english_on(page)} >= {"participant.tab.offers"}

        # How a browser's list is read: the first language with a catalogue wins, keeping its
        # region for dates; a choice beats the browser; unknown codes are not choices.
        resolve = """([choice, tags]) => import('/static/js/i18n.js')
            .then((m) => m.resolveLanguage(choice, tags))"""
        cases = [
            (("", ["fr-FR", "de-AT", "en-US"]), {"language": "de", "locale": "de-AT"}),
            (("", ["fr-FR"]), {"language": "en", "locale": "en-GB"}),
            (("", ["en-US", "de-DE"]), {"language": "en", "locale": "en-US"}),
            (("de", ["en-US"]), {"language": "de", "locale": "de-DE"}),
            (("__proto__", ["de-CH"]), {"language": "de", "locale": "de-CH"}),
        ]
        for args, expected in cases:
            assert await page.evaluate(resolve, list(args)) == expected, args

        # A German browser can choose English.
        _, german = await new_person_page(browser, duet, locale="de-DE")
        await sign_in(german, "Priya Patel")
        await expect(german.locator('.tab[data-tab="offers"]')).to_have_text("Unternehmen")
        await german.locator("#language-select").select_option("en")
        await expect(german.locator('.tab[data-tab="offers"]')).to_have_text("Companies")
        assert page.duet_errors == [] and german.duet_errors == []  # type: ignore[attr-defined]
