"""The organizer's Webhooks section: add an endpoint (its secret shown once), see a delivery
fail against a broken receiver, retry it, and see it delivered; disable and delete."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.async_api import expect

from scheduling.clock import ManualClock
from scheduling.db import read_tx, write_tx
from scheduling.schema import chats
from scheduling.store_chats import chat_payload, get_chat
from scheduling.store_webhooks import record
from scheduling.webhook_payloads import EventType
from tests.support.browser import chromium, new_person_page, running_duet, screenshot, sign_in
from tests.support.webhook_receiver import receiver
from web.demo import DEMO_EVENT_ID
from web.keys import WEBHOOKS

pytestmark = pytest.mark.browser

SEED = datetime(2026, 11, 30, 9, 58, tzinfo=UTC)


async def test_an_organizer_adds_an_endpoint_and_retries_a_delivery(tmp_path: Path) -> None:
    clock = ManualClock(SEED)
    async with (
        receiver() as rx,
        running_duet(tmp_path, clock, webhook_allow_private=True, webhook_timeout_s=2) as duet,
        chromium() as browser,
    ):
        worker = duet.app[WEBHOOKS]
        _, olivia = await new_person_page(browser, duet)
        await sign_in(olivia, "Olivia Organizer")
        section = olivia.locator('[data-section="webhooks"]')
        await section.get_by_label("Webhook URL").fill(rx.url)
        await section.get_by_role("button", name="Add endpoint").click()
        secret = section.locator("[data-secret]")
        await expect(secret).to_have_text(re.compile(r"^whsec_"))
        rx.secret = await secret.inner_text()
        endpoint = section.locator(".webhook-endpoint")
        await expect(endpoint.locator(".webhook-url")).to_have_text(rx.url)

        # Something happens in the fair; the receiver is broken for now.
        rx.mode = "error"
        async with write_tx(duet.engine) as db:
            chat_id = (
                (await db.execute(sa.select(chats.c.id).where(chats.c.event_id == DEMO_EVENT_ID)))
                .scalars()
                .first()
            )
            assert chat_id is not None
            chat = await get_chat(db, chat_id)
            assert chat is not None
            await record(db, EventType.CHAT_CONFIRMED, chat_id, chat_payload(chat), now=clock.now())
        await worker.drain()
        await endpoint.get_by_role("button", name="Refresh").click()
        row = endpoint.locator("tr[data-delivery]")
        await expect(row).to_have_attribute("data-status", "pending")
        await expect(row).to_contain_text("500")
        await screenshot(olivia, "organizer-webhooks")

        rx.mode = "ok"
        await row.get_by_role("button", name="Retry").click()
        await expect(endpoint.locator(".alert-success")).to_contain_text("will be sent again now")
        await worker.drain()
        await endpoint.get_by_role("button", name="Refresh").click()
        await expect(row).to_have_attribute("data-status", "delivered")
        assert [(r.type, r.verified) for r in rx.accepted] == [("chat.confirmed", True)]

        # The secret is not shown again after a reload; disable, then delete.
        await olivia.reload()
        await expect(endpoint).to_have_count(1)
        await expect(section.locator("[data-secret]")).to_have_count(0)
        await endpoint.get_by_role("button", name="Disable").click()
        await expect(endpoint.locator(".badge").first).to_have_text("disabled")
        await endpoint.get_by_role("button", name="Delete").click()
        await expect(endpoint).to_have_count(0)
        async with read_tx(duet.engine) as db:
            left = (await db.execute(sa.text("SELECT count(*) FROM webhook_endpoints"))).scalar()
        assert left == 0
        assert olivia.duet_errors == []  # type: ignore[attr-defined]
