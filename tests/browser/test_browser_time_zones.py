"""Each person's own time zone in the browser (Playwright's `timezone_id`): the schedule, the
Join countdown, the slot picker and the `.ics` agree, in zones far from the event's (Berlin):
+14, -11, +5:30, a viewer who crosses a DST switch between booking and the chat, and a
setting that overrides the browser's zone."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from icalendar import Calendar
from playwright.async_api import Page, expect

from scheduling.clock import ManualClock
from scheduling.model import Role
from scheduling.store_events import UserRecord
from tests.support.browser import (
    SECRET,
    RunningDuet,
    chromium,
    new_person_page,
    running_duet,
    screenshot,
    sign_in,
)
from web.auth import mint_token
from web.demo import DEMO_EVENT_ID, LIVE_CHAT_ID

pytestmark = pytest.mark.browser

# The demo seeded at SEED: the live chat (Ada and Sam) runs 09:57-10:27 UTC, its Join window
# opens at 09:52 UTC; Sam's chat with Grace is tomorrow 09:30 Berlin (08:30 UTC); Alan's free
# 20-minute slots start tomorrow 09:00 Berlin (08:00 UTC).
SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)
BEFORE_WINDOW = datetime(2026, 11, 30, 9, 50, 30, tzinfo=UTC)
SAM = UserRecord("sam", "Sam Student", Role.PARTICIPANT, None)
ALAN = UserRecord("alan", "Alan Turing", Role.EMPLOYEE, "acme")
D = "\u2013"  # the en dash of a time range

ZONES = {
    # zone: (live chat, its Join hint, Grace tomorrow, Alan's first free slot)
    "Pacific/Kiritimati": (
        rf"^Mon,? 30 Nov, 23:57{D}00:27 your time · 10:57{D}11:27 in Berlin · 30 min$",
        "Opens at 23:52 your time · 10:52 in Berlin",
        rf"^Tue,? 1 Dec, 22:30{D}22:45 your time · 09:30{D}09:45 in Berlin · 15 min$",
        "22:00",
    ),
    "Pacific/Pago_Pago": (
        rf"^Sun,? 29 Nov, 22:57{D}23:27 your time · Mon,? 30 Nov, 10:57{D}11:27 in Berlin"
        r" · 30 min$",
        r"^Opens at 22:52 your time · Mon,? 30 Nov, 10:52 in Berlin$",
        rf"^Mon,? 30 Nov, 21:30{D}21:45 your time · Tue,? 1 Dec, 09:30{D}09:45 in Berlin"
        r" · 15 min$",
        "21:00",
    ),
    "Asia/Kolkata": (
        rf"^Mon,? 30 Nov, 15:27{D}15:57 your time · 10:57{D}11:27 in Berlin · 30 min$",
        "Opens at 15:22 your time · 10:52 in Berlin",
        rf"^Tue,? 1 Dec, 14:00{D}14:15 your time · 09:30{D}09:45 in Berlin · 15 min$",
        "13:30",
    ),
}


async def call(duet: RunningDuet, who: UserRecord, method: str, path: str, body: Any = None) -> Any:
    token = mint_token(SECRET, who, duet.clock.now())
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, duet.base_url + path, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        assert resp.status < 300, await resp.text()
        return await resp.json()


async def approved_with_alan(duet: RunningDuet) -> str:
    chat = await call(
        duet, SAM, "POST", f"/api/v1/events/{DEMO_EVENT_ID}/chats", {"employee_id": "alan"}
    )
    await call(duet, ALAN, "POST", f"/api/v1/chats/{chat['id']}/approve")
    return str(chat["id"])


async def ics_start(page: Page, card: Any) -> tuple[str, datetime]:
    """The card's "Add to calendar" file: its DTSTART line and the instant it names."""
    async with page.expect_download() as info:
        await card.get_by_role("link", name="Add to calendar").click()
    text = await asyncio.to_thread(Path(await (await info.value).path()).read_text)
    line = next(x for x in text.splitlines() if x.startswith("DTSTART"))
    event = next(c for c in Calendar.from_ical(text).walk("VEVENT"))
    return line, event.decoded("dtstart")


def times(zone: str) -> tuple[Any, ...]:
    live, hint, grace, first_free = ZONES[zone]
    as_text = [re.compile(x) if x.startswith("^") else x for x in (live, hint, grace)]
    return (*as_text, first_free)


@pytest.mark.parametrize("zone", list(ZONES))
async def test_schedule_countdown_slots_and_ics_in_the_viewer_s_zone(
    tmp_path: Path, zone: str
) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        clock.set(BEFORE_WINDOW)
        live, hint, grace, first_free = times(zone)
        _, sam = await new_person_page(browser, duet, timezone_id=zone)
        # Chromium's ICU may name a zone by an old link (Asia/Calcutta); the page says Kolkata.
        own = await sam.evaluate("() => Intl.DateTimeFormat().resolvedOptions().timeZone")
        assert own == zone or (zone, own) == ("Asia/Kolkata", "Asia/Calcutta")
        await sign_in(sam, "Sam Student")
        await sam.goto("/#/participant/schedule")
        card = sam.locator(f'.chat-card[data-chat-id="{LIVE_CHAT_ID}"]')
        await expect(card.locator(".chat-time")).to_have_text(live)
        await expect(card.locator(".join-hint")).to_have_text(hint)
        # The countdown is the server's, whatever the zone: 90 s to the window.
        await expect(card.locator("[data-action=join]")).to_have_text(
            re.compile(r"^Join in 1:[0-3]\d$")
        )
        grace_card = sam.locator('.chat-card[data-person="Grace Hopper"]')
        await expect(grace_card.locator(".chat-time")).to_have_text(grace)
        if zone == "Asia/Kolkata":
            await screenshot(sam, "participant-time-zone")
        # The calendar file is in UTC: the same instant in every zone.
        line, start = await ics_start(sam, card)
        assert line == "DTSTART:20261130T095700Z"
        assert start == datetime(2026, 11, 30, 9, 57, tzinfo=UTC)

        # The slot picker: Alan's slots in the viewer's digits, the event's clock named.
        chat_id = await approved_with_alan(duet)
        await sam.goto("/#/participant/requests")
        picker_card = sam.locator(f'.chat-card[data-chat-id="{chat_id}"]')
        await picker_card.get_by_role("button", name="Pick a time").click()
        await expect(picker_card.locator(".slot-button").first).to_have_text(first_free)
        await expect(picker_card.locator(".slot-zone")).to_contain_text("Times in your zone, ")
        await expect(picker_card.locator(".slot-zone")).to_contain_text(
            f"({zone}); the event is on Berlin time (CET)"
        )
        assert sam.duet_errors == []  # type: ignore[attr-defined]


async def test_an_employee_s_grid_is_in_their_zone_too(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, ada = await new_person_page(browser, duet, timezone_id="Asia/Kolkata")
        await sign_in(ada, "Ada Lovelace")
        await ada.goto("/#/employee/availability")
        # Tomorrow's day runs 08:00-20:00 Berlin: its first 30-minute cell is 12:30 in Kolkata.
        tomorrow = ada.locator(".day").nth(1)
        await expect(tomorrow.locator(".slot-cell .slot-time").first).to_have_text("12:30")
        await expect(tomorrow.locator(".grid-zone")).to_have_text(
            "Times in your zone, GMT+5:30 (Asia/Kolkata); the event is on Berlin time (CET)"
        )
        assert ada.duet_errors == []  # type: ignore[attr-defined]


async def test_a_chosen_zone_overrides_the_browser_s_and_follows_the_person(
    tmp_path: Path,
) -> None:
    clock = ManualClock(SEED)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        clock.set(BEFORE_WINDOW)
        pago_live, _, _, _ = times("Pacific/Pago_Pago")
        kolkata_live, kolkata_hint, _, _ = times("Asia/Kolkata")
        _, sam = await new_person_page(browser, duet, timezone_id="Pacific/Pago_Pago")
        await sign_in(sam, "Sam Student")
        await sam.goto("/#/participant/schedule")
        card = sam.locator(f'.chat-card[data-chat-id="{LIVE_CHAT_ID}"]')
        await expect(card.locator(".chat-time")).to_have_text(pago_live)
        menu = sam.locator(".zone-menu")
        await expect(menu.locator("summary")).to_contain_text("Pago Pago")
        await menu.locator("summary").click()
        await menu.get_by_label("Show times in").select_option("Asia/Kolkata")
        await menu.get_by_role("button", name="Save").click()
        await expect(card.locator(".chat-time")).to_have_text(kolkata_live)
        await expect(card.locator(".join-hint")).to_have_text(kolkata_hint)
        await expect(menu.locator("summary")).to_contain_text("Kolkata")
        assert (await call(duet, SAM, "GET", "/api/v1/me/time-zone")) == {
            "time_zone": "Asia/Kolkata"
        }

        # Another window, another browser zone: the person's setting is stored on them.
        _, again = await new_person_page(browser, duet, timezone_id="America/Los_Angeles")
        await sign_in(again, "Sam Student")
        await again.goto("/#/participant/schedule")
        await expect(
            again.locator(f'.chat-card[data-chat-id="{LIVE_CHAT_ID}"] .chat-time')
        ).to_have_text(kolkata_live)

        # Back to the browser's own zone.
        await menu.locator("summary").click()
        await menu.get_by_label("Show times in").select_option("")
        await menu.get_by_role("button", name="Save").click()
        await expect(card.locator(".chat-time")).to_have_text(pago_live)
        assert (await call(duet, SAM, "GET", "/api/v1/me")).get("time_zone") is None
        assert sam.duet_errors == [] and again.duet_errors == []  # type: ignore[attr-defined]


# The day before the US switches to summer time (2027-03-14, 02:00 in New York): the demo's
# days are the 13th and the 14th (Berlin, still winter time there until the 28th).
BEFORE_DST = datetime(2027, 3, 13, 10, 0, tzinfo=UTC)


async def test_a_viewer_crossing_dst_between_booking_and_the_chat(tmp_path: Path) -> None:
    clock = ManualClock(BEFORE_DST)
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, sam = await new_person_page(browser, duet, timezone_id="America/New_York")
        await sign_in(sam, "Sam Student")
        chat_id = await approved_with_alan(duet)
        await sam.goto("/#/participant/requests")
        card = sam.locator(f'.chat-card[data-chat-id="{chat_id}"]')
        await card.get_by_role("button", name="Pick a time").click()
        # Alan's 09:00 Berlin slot tomorrow is 08:00 UTC: 04:00 in New York's summer time
        # (today's winter offset would say 03:00).
        first = card.locator(".slot-button").first
        await expect(first).to_have_text("04:00")
        await first.click()
        # (the approval's live-update toast may still be on screen beside it)
        await expect(sam.locator(".toast", has_text="Booked")).to_be_visible()
        await sam.goto("/#/participant/schedule")
        booked = sam.locator(f'.chat-card[data-chat-id="{chat_id}"]')
        await expect(booked.locator(".chat-time")).to_have_text(
            re.compile(
                rf"^Sun,? 14 Mar, 04:00{D}04:20 your time · 09:00{D}09:20 in Berlin · 20 min$"
            )
        )
        # Today's live chat is on winter time: 10:59 Berlin is 04:59 in New York (UTC-5).
        live = sam.locator(f'.chat-card[data-chat-id="{LIVE_CHAT_ID}"]')
        await expect(live.locator(".chat-time")).to_have_text(
            re.compile(
                rf"^Sat,? 13 Mar, 04:59{D}05:29 your time · 10:59{D}11:29 in Berlin · 30 min$"
            )
        )
        # The countdown counts real time across the switch: 21 h 55 min to the window
        # (08:00 UTC less 5 minutes), not the 20 h 55 min the wall clocks differ by.
        await expect(booked.locator("[data-action=join]")).to_have_text("Join in 21 h 55 min")
        line, start = await ics_start(sam, booked)
        assert line == "DTSTART:20270314T080000Z"
        assert start == datetime(2027, 3, 14, 8, 0, tzinfo=UTC)
        assert start - BEFORE_DST == timedelta(hours=22)
        assert sam.duet_errors == []  # type: ignore[attr-defined]
