"""One employee's free slots are cached per (event, employee) (web/offers_cache.py): served
without a rebuild while nothing changed, with an ETag and 304 for clients, never staler than the
last committed publish, edit, booking or cancel, whichever node made it, and never showing a slot
that has started."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from scheduling.clock import ManualClock
from tests.support.apiclient import ADA, ALAN, SAM, Api, Person
from tests.support.app import TEST_SECRET
from tests.support.seed import at, publish, setup_event
from tests.support.services import RunningService
from web.app import create_app
from web.config import Config
from web.keys import SLOTS

pytestmark = pytest.mark.both_backends

DAY = "2026-12-01"


async def slots(
    api: Api, event_id: str, employee: Person = ADA, headers: dict[str, str] | None = None
) -> tuple[int, str | None, Any]:
    """(status, ETag, body or None) of GET one employee's slots, as Sam."""
    resp = await api.client.get(
        f"/api/v1/events/{event_id}/employees/{employee.id}/slots",
        headers={"Authorization": f"Bearer {api.token(SAM)}", **(headers or {})},
    )
    body = await resp.json() if resp.status == 200 else None
    return resp.status, resp.headers.get("ETag"), body


def starts(body: Any) -> list[str]:
    return [s["starts_at"] for s in body["slots"]]


async def fair(api: Api) -> tuple[str, list[str]]:
    """An event where Ada published three 30-minute slots and Alan one; Ada's three starts."""
    event_id = await setup_event(api)
    grid = await api.call(ADA, "GET", f"/api/v1/events/{event_id}/grid?date={DAY}&duration_min=30")
    chosen = [s["starts_at"] for s in grid["slots"][:3]]
    await publish(api, event_id, ADA, DAY, 30, chosen)
    await publish(api, event_id, ALAN, DAY, 30, [grid["slots"][5]["starts_at"]])
    return event_id, chosen


async def book(api: Api, event_id: str, slot_id: int) -> str:
    """Sam asks Ada, Ada approves, Sam books `slot_id`: the chat's id."""
    chat = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": ADA.id}, expect=201
    )
    await api.call(ADA, "POST", f"/api/v1/chats/{chat['id']}/approve")
    await api.call(SAM, "POST", f"/api/v1/chats/{chat['id']}/book", {"slot_id": slot_id})
    return str(chat["id"])


async def test_the_answer_is_built_once_then_served_with_an_etag_and_304(api: Api) -> None:
    event_id, chosen = await fair(api)
    cache = api.client.app[SLOTS]
    status, etag, body = await slots(api, event_id)
    assert status == 200 and etag and starts(body) == chosen
    # The answer's shape is what it always was: free slots, in time order.
    first = body["slots"][0]
    assert set(first) == {"id", "date", "starts_at", "ends_at", "published", "booked"}
    assert (first["date"], first["published"], first["booked"]) == (DAY, True, False)
    assert at(first["ends_at"]) - at(first["starts_at"]) == timedelta(minutes=30)
    status, again, same_body = await slots(api, event_id)
    assert (status, again, same_body, cache.builds) == (200, etag, body, 1)
    status, same, nothing = await slots(api, event_id, headers={"If-None-Match": etag})
    assert (status, same, nothing, cache.builds) == (304, etag, None, 1)
    status, _, body = await slots(api, event_id, headers={"If-None-Match": '"other", W/"x"'})
    assert status == 200 and starts(body) == chosen


async def test_a_slot_taken_is_gone_from_the_next_read_and_back_after_a_cancel(api: Api) -> None:
    event_id, chosen = await fair(api)
    cache = api.client.app[SLOTS]
    _, etag, body = await slots(api, event_id)
    _, alans, _ = await slots(api, event_id, ALAN)
    assert cache.builds == 2
    chat_id = await book(api, event_id, body["slots"][0]["id"])
    status, after_booking, body = await slots(api, event_id, headers={"If-None-Match": etag})
    assert status == 200 and after_booking != etag and starts(body) == chosen[1:]
    # Only Ada's answer was built again: Alan's free slots did not change.
    assert (await slots(api, event_id, ALAN, {"If-None-Match": alans}))[0] == 304
    assert cache.builds == 3
    await api.call(
        SAM, "POST", f"/api/v1/chats/{chat_id}/reschedule", {"slot_id": body["slots"][1]["id"]}
    )
    _, _, body = await slots(api, event_id)
    assert starts(body) == [chosen[0], chosen[1]]
    await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "Sorry."})
    _, _, body = await slots(api, event_id)
    assert starts(body) == chosen


async def test_a_publish_and_an_edit_show_at_once(api: Api) -> None:
    event_id, chosen = await fair(api)
    _, etag, _ = await slots(api, event_id)
    grid = await api.call(ADA, "GET", f"/api/v1/events/{event_id}/grid?date={DAY}&duration_min=30")
    more = [*chosen, grid["slots"][4]["starts_at"]]
    await publish(api, event_id, ADA, DAY, 30, more)
    status, _, body = await slots(api, event_id, headers={"If-None-Match": etag})
    assert status == 200 and starts(body) == more
    # A draft that drops a published slot takes it off at once (it is not offered any more).
    body = {"days": [{"date": DAY, "duration_min": 30, "slots": chosen[:1]}]}
    await api.call(ADA, "PUT", f"/api/v1/events/{event_id}/availability", body)
    _, _, body = await slots(api, event_id)
    assert starts(body) == chosen[:1]


async def test_a_slot_drops_out_when_it_starts(api: Api) -> None:
    event_id, chosen = await fair(api)
    cache = api.client.app[SLOTS]
    api.clock.set(at(chosen[0]) - timedelta(seconds=30))  # within an entry's MAX_AGE_S
    _, etag, body = await slots(api, event_id)
    assert starts(body) == chosen
    api.clock.set(at(chosen[0]) - timedelta(microseconds=1))
    assert (await slots(api, event_id, headers={"If-None-Match": etag}))[0] == 304
    assert cache.builds == 1
    api.clock.set(at(chosen[0]))  # no longer free from the instant it starts
    status, _, body = await slots(api, event_id, headers={"If-None-Match": etag})
    assert (status, starts(body), cache.builds) == (200, chosen[1:], 2)


async def test_an_unknown_event_is_404_and_an_employee_without_slots_an_empty_list(
    api: Api,
) -> None:
    event_id, _ = await fair(api)
    status, _, _ = await slots(api, "no-such-event")
    assert status == 404
    assert (await slots(api, "no-such-event"))[0] == 404  # not cached as an answer
    status, etag, body = await slots(api, event_id, SAM)
    assert (status, body) == (200, {"slots": []}) and etag


async def test_a_booking_on_another_node_shows_on_this_one(
    aiohttp_client: Any, app_config: Config, clock: ManualClock, redis_service: RunningService
) -> None:
    shared = dataclasses.replace(
        app_config, broker="redis", redis_url=f"redis://127.0.0.1:{redis_service.port}/0"
    )
    one, two = [
        Api(
            await aiohttp_client(create_app(dataclasses.replace(shared, node_id=n), clock=clock)),
            TEST_SECRET,
            clock,
        )
        for n in ("one", "two")
    ]
    event_id, chosen = await fair(one)
    _, etag, body = await slots(two, event_id)
    assert starts(body) == chosen
    assert (await slots(two, event_id, headers={"If-None-Match": etag}))[0] == 304
    await book(one, event_id, body["slots"][0]["id"])
    status, _, body = await slots(two, event_id, headers={"If-None-Match": etag})
    assert status == 200 and starts(body) == chosen[1:]
    assert two.client.app[SLOTS].builds == 2
