"""The demo's mail in the browser: the mail outbox page shows what the catch-all wrote (each
HTML mail in a sandboxed frame), a confirmed chat's mail renders as a person would see it
(saved as the README's screenshot), and the Email settings turn a kind of email off."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.async_api import expect

from scheduling.clock import ManualClock
from scheduling.db import read_tx
from scheduling.schema import mail_deliveries
from tests.support.browser import ARTIFACTS, chromium, new_person_page, running_duet, sign_in
from web.keys import MAIL

pytestmark = pytest.mark.browser

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)


async def test_mail_outbox_shows_the_demo_mail_and_settings_turn_a_kind_off(
    tmp_path: Path,
) -> None:
    clock = ManualClock(SEED)
    mail_dir = tmp_path / "mail"
    async with running_duet(tmp_path, clock, mail_dir=str(mail_dir)) as duet, chromium() as browser:
        # The seed's mails, written as .eml files by the test's rounds or the app's own loop.
        for _ in range(200):
            async with read_tx(duet.engine) as conn:
                statuses = set((await conn.execute(sa.select(mail_deliveries.c.status))).scalars())
            if statuses == {"sent"}:
                break
            await duet.app[MAIL].run_once()
        assert statuses == {"sent"}
        assert len(list(mail_dir.glob("*.eml"))) >= 4

        context, page = await new_person_page(browser, duet)
        try:
            # The outbox needs no sign-in in the demo; the sign-in page links to it.
            await page.goto("/#/signin")
            await page.get_by_role("link", name="mail outbox").click()
            await expect(page.get_by_role("heading", name="Mail outbox")).to_be_visible()
            confirmed = page.locator('.mail-card[data-kind="chat_confirmed"]').first
            await expect(confirmed.locator(".mail-subject")).to_contain_text(
                "Confirmed: 1-1 chat with"
            )
            frame = confirmed.locator("iframe.mail-frame")
            await expect(frame).to_have_attribute("sandbox", "")
            inside = confirmed.frame_locator("iframe.mail-frame")
            await expect(inside.get_by_role("link", name="Open the chat")).to_be_visible()
            await expect(inside.get_by_text("(Europe/Berlin)")).to_be_visible()

            # One received mail, with its subject, recipient and invitation: the README's
            # picture (docs/screenshots/mail-confirmed.png is a copy of this artifact).
            await page.set_viewport_size({"width": 760, "height": 900})
            await confirmed.scroll_into_view_if_needed()
            await expect(inside.get_by_text("Your 1-1 chat is confirmed.")).to_be_visible()
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await confirmed.locator(".mail-head").evaluate(
                "e => e.closest('article').querySelector('details').remove()"
            )
            await confirmed.screenshot(path=str(ARTIFACTS / "mail-confirmed.png"))
            # The mail's own page is served with a sandbox CSP (no script, nothing fetched).
            src = await frame.get_attribute("src")
            assert src is not None
            answer = await page.request.get(src)
            policy = answer.headers["content-security-policy"]
            assert policy.startswith("sandbox;") and "script-src" not in policy
            await page.set_viewport_size({"width": 1280, "height": 800})

            # Email settings: Sam turns reminders off; the choice is kept.
            await sign_in(page, "Sam Student")
            await page.get_by_role("link", name="Email settings").click()
            await expect(page.get_by_text("sam@duet-demo.example")).to_be_visible()
            reminder = page.get_by_label("Reminder 15 minutes before a chat")
            await expect(reminder).to_be_checked()
            await reminder.uncheck()
            await expect(page.locator(".toast")).to_contain_text("Turned off.")
            await page.reload()
            await expect(page.get_by_label("Reminder 15 minutes before a chat")).not_to_be_checked()
            await expect(
                page.get_by_label("A chat is confirmed (with a calendar invitation)")
            ).to_be_checked()
            assert page.duet_errors == []  # type: ignore[attr-defined]
        finally:
            await context.close()
