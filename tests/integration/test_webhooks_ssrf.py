"""The shipped default refuses webhook URLs on internal addresses, when an endpoint is created
and again when a delivery is sent (a name may resolve elsewhere later)."""

from __future__ import annotations

import pytest

from scheduling.db import write_tx
from scheduling.store_webhooks import PENDING, create_endpoint
from scheduling.webhook_payloads import EventType
from tests.support import seed
from tests.support.apiclient import ORGANIZER, Api
from tests.support.webhook_receiver import receiver
from web.config import Config
from web.keys import CLOCK, ENGINE, WEBHOOKS
from web.url_guard import GuardedResolver, UrlRefused

pytestmark = pytest.mark.both_backends


async def test_the_default_config_refuses_loopback_and_private_urls(api: Api) -> None:
    assert Config().webhook_allow_private is False
    event = await api.call(ORGANIZER, "POST", "/api/v1/events", seed.EVENT, expect=201)
    base = f"/api/v1/events/{event['id']}/webhooks"
    async with receiver() as rx:  # a real server answers there: still refused
        for url in (
            rx.url,
            f"http://localhost:{rx.port}/hooks",
            "http://10.0.0.7/hooks",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hooks",
        ):
            problem = await api.call(
                ORGANIZER, "POST", base, {"url": url, "event_types": ["chat.requested"]}, 422
            )
            assert problem["code"] == "url_refused" and problem["field"] == "url", url
        assert rx.requests == []
    assert (await api.call(ORGANIZER, "GET", base))["endpoints"] == []


async def test_a_delivery_is_checked_again_when_it_is_sent(api: Api) -> None:
    """An endpoint accepted while internal addresses were allowed is refused at delivery by a
    worker that does not allow them: the check runs on every attempt, not only at creation."""
    async with receiver() as rx:
        worker = api.client.app[WEBHOOKS]
        event = await api.call(ORGANIZER, "POST", "/api/v1/events", seed.EVENT, expect=201)
        base = f"/api/v1/events/{event['id']}/webhooks"
        endpoint = await create_anyway(api, base, rx.url)  # as if it had been public then
        worker.allow_private = False
        await seed.confirmed_chat(api)
        await worker.drain()
        deliveries = await api.call(ORGANIZER, "GET", f"{base}/{endpoint}/deliveries")
        tried = [d for d in deliveries["deliveries"] if d["attempts"]]
        assert tried and all(d["status"] == PENDING for d in tried)
        assert all(d["last_error"].startswith("refused: 127.0.0.1") for d in tried)
        assert rx.requests == []
    with pytest.raises(UrlRefused):
        await GuardedResolver(allow_private=False).resolve("localhost", 80)


async def create_anyway(api: Api, base: str, url: str) -> str:
    """An endpoint on an internal URL, written below the API's check."""
    async with write_tx(api.client.app[ENGINE]) as db:
        endpoint, _ = await create_endpoint(
            db,
            event_id=base.split("/")[4],
            url=url,
            event_types=list(EventType),
            created_by="olivia",
            now=api.client.app[CLOCK].now(),
        )
    return endpoint.id
