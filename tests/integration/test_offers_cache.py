"""The offers list is cached per event (web/offers_cache.py): served without a rebuild while
nothing changed, with an ETag and 304 for clients, and never staler than the last committed
publish or booking, whichever node made it."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from scheduling.clock import ManualClock
from tests.support.apiclient import ADA, ALAN, SAM, Api
from tests.support.app import TEST_SECRET
from tests.support.seed import at, publish, setup_event
from tests.support.services import RunningService
from web.app import create_app
from web.config import Config
from web.keys import OFFERS

pytestmark = pytest.mark.both_backends

DAY = "2026-12-01"


async def offers(api: Api, headers: dict[str, str] | None = None) -> tuple[int, Any, Any]:
    """(status, ETag, body or None) of GET offers as Sam."""
    event_id = api.event_id  # type: ignore[attr-defined]
    resp = await api.client.get(
        f"/api/v1/events/{event_id}/offers",
        headers={"Authorization": f"Bearer {api.token(SAM)}", **(headers or {})},
    )
    body = await resp.json() if resp.status == 200 else None
    return resp.status, resp.headers.get("ETag"), body


def free(body: Any) -> dict[str, int]:
    return {o["employee_id"]: o["free_slots"] for o in body["offers"]}


async def fair(api: Api) -> str:
    event_id = await setup_event(api)
    api.event_id = event_id  # type: ignore[attr-defined]
    grid = await api.call(ADA, "GET", f"/api/v1/events/{event_id}/grid?date={DAY}&duration_min=30")
    starts = [s["starts_at"] for s in grid["slots"][:3]]
    await publish(api, event_id, ADA, DAY, 30, starts)
    return event_id


async def test_the_list_is_built_once_then_served_with_an_etag_and_304(api: Api) -> None:
    await fair(api)
    cache = api.client.app[OFFERS]
    status, etag, body = await offers(api)
    assert status == 200 and etag and free(body) == {"ada": 3}
    status, again, body = await offers(api)
    assert (status, again, free(body), cache.builds) == (200, etag, {"ada": 3}, 1)
    status, same, body = await offers(api, {"If-None-Match": etag})
    assert (status, same, body, cache.builds) == (304, etag, None, 1)
    status, _, body = await offers(api, {"If-None-Match": '"something-else"'})
    assert status == 200 and free(body) == {"ada": 3}


async def test_a_publish_and_a_booking_show_at_once(api: Api) -> None:
    event_id = await fair(api)
    _, etag, _ = await offers(api)
    grid = await api.call(ALAN, "GET", f"/api/v1/events/{event_id}/grid?date={DAY}&duration_min=30")
    await publish(api, event_id, ALAN, DAY, 30, [grid["slots"][5]["starts_at"]])
    status, after_publish, body = await offers(api, {"If-None-Match": etag})
    assert status == 200 and after_publish != etag and free(body) == {"ada": 3, "alan": 1}
    chat = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": ADA.id}, expect=201
    )
    await api.call(ADA, "POST", f"/api/v1/chats/{chat['id']}/approve")
    slots = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
    await api.call(
        SAM, "POST", f"/api/v1/chats/{chat['id']}/book", {"slot_id": slots["slots"][0]["id"]}
    )
    _, _, body = await offers(api)
    assert free(body) == {"ada": 2, "alan": 1}
    await api.call(SAM, "POST", f"/api/v1/chats/{chat['id']}/cancel", {"reason": "Sorry."})
    _, _, body = await offers(api)
    assert free(body) == {"ada": 3, "alan": 1}


async def test_a_slot_that_starts_leaves_the_counts_without_any_change(api: Api) -> None:
    event_id = await fair(api)
    _, _, body = await offers(api)
    assert free(body) == {"ada": 3}
    mine = await api.call(ADA, "GET", f"/api/v1/events/{event_id}/availability")
    first = min(at(s["starts_at"]) for s in mine["slots"])
    api.clock.set(first + timedelta(seconds=1))
    _, _, body = await offers(api)
    assert free(body) == {"ada": 2}


async def test_a_booking_on_another_node_shows_on_this_one(
    aiohttp_client: Any, app_config: Config, clock: ManualClock, redis_service: RunningService
) -> None:
    shared = dataclasses.replace(
        app_config, broker="redis", redis_url=f"redis://127.0.0.1:{redis_service.port}/0"
    )
    one = Api(
        await aiohttp_client(create_app(dataclasses.replace(shared, node_id="one"), clock=clock)),
        TEST_SECRET,
        clock,
    )
    two = Api(
        await aiohttp_client(create_app(dataclasses.replace(shared, node_id="two"), clock=clock)),
        TEST_SECRET,
        clock,
    )
    event_id = await fair(one)
    two.event_id = event_id  # type: ignore[attr-defined]
    _, _, body = await offers(two)
    assert free(body) == {"ada": 3}
    chat = await one.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": ADA.id}, expect=201
    )
    await one.call(ADA, "POST", f"/api/v1/chats/{chat['id']}/approve")
    slots = await one.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
    await one.call(
        SAM, "POST", f"/api/v1/chats/{chat['id']}/book", {"slot_id": slots["slots"][0]["id"]}
    )
    _, _, body = await offers(two)
    assert free(body) == {"ada": 2}
