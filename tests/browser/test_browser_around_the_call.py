"""Around the call in the browser: Sam shares a résumé that Ada opens from the chat card and the
pre-join page; after the chat Ada keeps notes, marks a no-show and invites Sam to a follow-up,
Sam gives feedback, and Olivia sees it summed up and exports every chat as CSV."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import expect

from scheduling.clock import ManualClock
from scheduling.db import write_tx
from scheduling.store_chats import get_chat, settle_chats
from tests.support.around import pdf_bytes
from tests.support.browser import chromium, new_person_page, running_duet, screenshot, sign_in
from web.demo import LIVE_CHAT_ID

pytestmark = pytest.mark.browser

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)


async def test_resume_notes_feedback_and_export(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    resume = pdf_bytes(2, "Sam's CV")
    async with running_duet(tmp_path, clock) as duet, chromium() as browser:
        _, sam = await new_person_page(browser, duet)
        await sign_in(sam, "Sam Student")
        await sam.goto("/#/participant/profile")
        await expect(sam.locator('[data-resume="none"]')).to_have_text("No résumé shared yet.")
        # Not a PDF, whatever its name: the server's sentence, and nothing stored.
        await sam.locator("#resume-file").set_input_files(
            {"name": "cv.pdf", "mimeType": "application/pdf", "buffer": b"<html>hi</html>"}
        )
        await sam.get_by_role("button", name="Upload PDF").click()
        await expect(sam.locator("#resume-messages .alert-error")).to_contain_text("not a PDF")
        await sam.locator("#resume-file").set_input_files(
            {"name": "Sam Student CV.pdf", "mimeType": "application/pdf", "buffer": resume}
        )
        await sam.get_by_role("button", name="Upload PDF").click()
        await expect(sam.locator('[data-resume="Sam Student CV.pdf"]')).to_contain_text("2 pages")
        await screenshot(sam, "participant-resume")

        # Ada opens it from the confirmed chat's card and from the pre-join page.
        _, ada = await new_person_page(browser, duet)
        await sign_in(ada, "Ada Lovelace")
        await ada.goto("/#/employee/confirmed")
        card = ada.locator(f'.chat-card[data-chat-id="{LIVE_CHAT_ID}"]')
        async with ada.expect_download() as caught:
            await card.locator('[data-action="resume"]').click()
        download = await caught.value
        assert download.suggested_filename == "resume-Sam Student.pdf"
        assert await asyncio.to_thread(Path(await download.path()).read_bytes) == resume
        # Priya shared nothing: her request card has no link.
        await ada.goto("/#/employee/requested")
        await expect(ada.locator('.chat-card[data-person="Priya Patel"]')).to_be_visible()
        await expect(ada.locator('[data-action="resume"]')).to_have_count(0)
        await ada.goto(f"/#/chat/{LIVE_CHAT_ID}")
        await expect(ada.locator('.precheck-info [data-action="resume"]')).to_be_visible()

        # The slot is over and the room settled the chat.
        chat_end = SEED.replace(second=0, microsecond=0) + timedelta(minutes=40)
        clock.set(chat_end)
        async with write_tx(duet.engine) as conn:
            chat = await get_chat(conn, LIVE_CHAT_ID)
            assert chat is not None and chat.ends_at is not None and chat.ends_at <= chat_end
            assert await settle_chats(conn, [(chat, "participant")], chat_end)

        await ada.goto("/#/employee/completed")
        card = ada.locator(f'.chat-card[data-chat-id="{LIVE_CHAT_ID}"]')
        await card.get_by_label("Notes on Sam Student").fill("=SUM(1) strong on SQL")
        await card.get_by_label("Rating").select_option("4")
        await card.get_by_label("Next step").select_option("interview")
        await card.get_by_role("button", name="Save notes").click()
        await expect(card.locator(".alert-success")).to_have_text(
            "Notes saved. Only your company can see them."
        )
        await card.get_by_role("button", name="Sam Student did not come").click()
        await expect(card.get_by_role("button", name="Undo “did not come”")).to_be_visible()
        await screenshot(ada, "employee-completed-notes")
        await card.get_by_role("button", name="Invite to a follow-up chat").click()
        await card.get_by_label("Message").fill("Let's talk about the interview.")
        await card.get_by_role("button", name="Send invitation").click()
        await expect(ada).to_have_url(f"{duet.base_url}/#/employee/requested")
        await expect(ada.locator('.chat-card[data-person="Sam Student"]')).to_contain_text(
            "Invited"
        )

        # Sam's feedback, from the Completed tab.
        await sam.goto("/#/participant/completed")
        await sam.get_by_role("button", name="Give feedback").click()
        form = sam.locator(f'.feedback-form[data-chat-id="{LIVE_CHAT_ID}"]')
        await form.get_by_label("5").check()
        await form.get_by_label("One sentence about the chat").fill("@ada was great")
        await form.get_by_role("button", name="Send feedback").click()
        await expect(form.locator(".alert-success")).to_contain_text("summed up per company")

        # Olivia: the sum per company, and every chat as CSV.
        _, olivia = await new_person_page(browser, duet)
        await sign_in(olivia, "Olivia Organizer")
        row = olivia.locator('#feedback-summary tr[data-company="acme"]')
        await expect(row).to_contain_text("Acme")
        await expect(row.locator("td").nth(1)).to_have_text("5.0")
        await expect(row).to_contain_text("shown from 5 answers")
        await expect(
            olivia.get_by_label("Minimum gap between one participant\u2019s chats (minutes)")
        ).to_have_value("0")
        await olivia.locator("#after-the-fair").scroll_into_view_if_needed()
        await screenshot(olivia, "organizer-after-the-chats")
        async with olivia.expect_download() as caught:
            await olivia.locator('[data-action="export-chats"]').click()
        download = await caught.value
        rows = list(
            csv.DictReader(
                io.StringIO(await asyncio.to_thread(Path(await download.path()).read_text))
            )
        )
        live = next(r for r in rows if r["chat_id"] == LIVE_CHAT_ID)
        assert (live["state"], live["absent"], live["marked_no_show"]) == (
            "no_show",
            "participant",
            "yes",
        )
        assert live["feedback_score"] == "5" and live["participant_name"] == "Sam Student"
        assert len(rows) == 9  # every chat of the demo, the follow-up invitation included
        for page in (sam, ada, olivia):
            assert page.duet_errors == []  # type: ignore[attr-defined]
