"""Finding the right person: the offers list's search, filters and pages run over the cached
list (one build for every query), each query with an ETag of its own, and bad values refused
in words."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.apiclient import ADA, ALAN, GRACE, SAM, Api
from tests.support.seed import setup_event
from web.keys import OFFERS

pytestmark = pytest.mark.both_backends

PROFILES = {
    ADA: {"experience_level": "Senior", "languages": ["English", "German"], "topics": ["Backend"]},
    ALAN: {"experience_level": "Junior", "languages": ["English"], "topics": ["Cryptography"]},
    GRACE: {"experience_level": "Senior", "languages": ["French"], "topics": ["Compilers"]},
}


async def fair(api: Api) -> str:
    """Ada free on both days, Alan on the first, Grace on the second (WINTER_FAIR)."""
    event_id = await setup_event(api)
    days = {ADA: ["2026-12-01", "2026-12-02"], ALAN: ["2026-12-01"], GRACE: ["2026-12-02"]}
    for who, dates in days.items():
        body: dict[str, Any] = {"days": [], "profile": PROFILES[who]}
        for day in dates:
            duration = 30 if day == "2026-12-01" else 20
            grid = await api.call(
                who, "GET", f"/api/v1/events/{event_id}/grid?date={day}&duration_min={duration}"
            )
            body["days"].append(
                {"date": day, "duration_min": duration, "slots": [grid["slots"][0]["starts_at"]]}
            )
        await api.call(who, "PUT", f"/api/v1/events/{event_id}/availability", body)
        await api.call(who, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    return event_id


async def names(api: Api, event_id: str, query: str) -> list[str]:
    body = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/offers?{query}")
    return [o["employee_id"] for o in body["offers"]]


async def test_search_and_filters_combine_and_share_one_build(api: Api) -> None:
    event_id = await fair(api)
    everything = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/offers")
    assert everything["total"] == 3 and everything["facets"] == {
        "languages": ["English", "French", "German"],
        "levels": ["Junior", "Senior"],
        "topics": ["Backend", "Compilers", "Cryptography"],
        "days": ["2026-12-01", "2026-12-02"],
    }
    assert {o["employee_id"]: o["free_days"] for o in everything["offers"]} == {
        "ada": ["2026-12-01", "2026-12-02"],
        "alan": ["2026-12-01"],
        "grace": ["2026-12-02"],
    }
    assert await names(api, event_id, "q=lovelace") == ["ada"]
    assert await names(api, event_id, "q=globex") == ["grace"]  # the company's name
    assert await names(api, event_id, "q=CRYPTO") == ["alan"]  # a topic, any case
    assert await names(api, event_id, "q=acme+alan") == ["alan"]  # every word must match
    assert await names(api, event_id, "language=german&language=french") == ["ada", "grace"]
    assert await names(api, event_id, "level=senior&language=english") == ["ada"]
    assert await names(api, event_id, "topic=Backend&topic=Compilers") == ["ada", "grace"]
    assert await names(api, event_id, "free_on=2026-12-01") == ["ada", "alan"]
    assert await names(api, event_id, "free_on=2026-12-02&level=Junior") == []
    assert api.client.app[OFFERS].builds == 1


async def test_pages_count_every_match(api: Api) -> None:
    event_id = await fair(api)
    first = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/offers?limit=2")
    second = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/offers?limit=2&offset=2")
    assert [len(first["offers"]), first["total"], first["offset"]] == [2, 3, 0]
    assert [len(second["offers"]), second["total"], second["offset"]] == [1, 3, 2]
    everyone = [o["employee_id"] for o in first["offers"] + second["offers"]]
    assert sorted(everyone) == ["ada", "alan", "grace"]


async def test_each_query_has_its_etag_and_a_booking_changes_it(api: Api) -> None:
    event_id = await fair(api)
    path = f"/api/v1/events/{event_id}/offers?free_on=2026-12-01"
    auth = {"Authorization": f"Bearer {api.token(SAM)}"}
    resp = await api.client.get(path, headers=auth)
    etag = resp.headers["ETag"]
    whole = (await api.client.get(f"/api/v1/events/{event_id}/offers", headers=auth)).headers
    assert etag != whole["ETag"]
    again = await api.client.get(path, headers={**auth, "If-None-Match": etag})
    assert again.status == 304
    # Alan's only slot is booked: the filtered answer changes, so does its tag.
    chat = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": ALAN.id}, expect=201
    )
    await api.call(ALAN, "POST", f"/api/v1/chats/{chat['id']}/approve")
    slots = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ALAN.id}/slots")
    await api.call(
        SAM, "POST", f"/api/v1/chats/{chat['id']}/book", {"slot_id": slots["slots"][0]["id"]}
    )
    after = await api.client.get(path, headers={**auth, "If-None-Match": etag})
    assert after.status == 200 and after.headers["ETag"] != etag
    assert [o["employee_id"] for o in (await after.json())["offers"]] == ["ada"]


@pytest.mark.parametrize(
    ("query", "field", "detail"),
    [
        (
            "free_on=2026-12-24",
            "free_on",
            "'free_on' must be one of the event's days: 2026-12-01, 2026-12-02.",
        ),
        ("free_on=tomorrow", "free_on", "'free_on' must be a date like 2026-11-28."),
        ("limit=0", "limit", "'limit' must be"),
        ("limit=501", "limit", "'limit' must be"),
        ("offset=-1", "offset", "'offset' must be"),
        ("q=" + "x" * 201, "q", "'q' must be text of at most 200 characters."),
        ("topic=", "topic[0]", "'topic[0]' must be a short word or phrase."),
    ],
)
async def test_bad_values_are_refused_in_words(
    api: Api, query: str, field: str, detail: str
) -> None:
    event_id = await setup_event(api)
    problem = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/offers?{query}", expect=422)
    assert problem["field"] == field and problem["detail"].startswith(detail), problem
