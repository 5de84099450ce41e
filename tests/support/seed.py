"""Seeding through the real API, the one way tests build a schedule: an event, published
availability, a confirmed chat. (tests/integration/test_integrity_properties.py seeds at the store
level on purpose: it checks the database's own rules below the API.)"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from tests.support.apiclient import ADA, ORGANIZER, SAM, Api, Person

EVENT = {
    "name": "Room Test Fair",
    "timezone": "Europe/Berlin",
    "days": [{"date": "2026-12-01", "start": "09:00", "end": "12:00", "durations": [10, 15, 30]}],
    "quotas": [
        {"company_id": "acme", "slot_quota": 20},
        {"company_id": "globex", "slot_quota": 20},
    ],
}


async def confirmed_chat(
    api: Api, employee: Person = ADA, participant: Person = SAM, duration: int = 30, nth: int = 0
) -> tuple[str, dict]:
    """A confirmed chat at the nth slot of 2026-12-01; returns (chat id, chat json)."""
    events = await api.call(ORGANIZER, "GET", "/api/v1/events")
    if events["events"]:
        event_id = events["events"][0]["id"]
    else:
        event_id = (await api.call(ORGANIZER, "POST", "/api/v1/events", EVENT, expect=201))["id"]
    grid = await api.call(
        employee, "GET", f"/api/v1/events/{event_id}/grid?date=2026-12-01&duration_min={duration}"
    )
    start = grid["slots"][nth]["starts_at"]
    mine = await api.call(employee, "GET", f"/api/v1/events/{event_id}/availability")
    have = [s["starts_at"] for s in mine["slots"]]
    await api.call(
        employee,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {
            "days": [
                {"date": "2026-12-01", "duration_min": duration, "slots": sorted({*have, start})}
            ]
        },
    )
    await api.call(employee, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    chat = await api.call(
        participant,
        "POST",
        f"/api/v1/events/{event_id}/chats",
        {"employee_id": employee.id},
        expect=201,
    )
    await api.call(employee, "POST", f"/api/v1/chats/{chat['id']}/approve")
    free = await api.call(
        participant, "GET", f"/api/v1/events/{event_id}/employees/{employee.id}/slots"
    )
    slot = next(s for s in free["slots"] if s["starts_at"] == start)
    booked = await api.call(
        participant, "POST", f"/api/v1/chats/{chat['id']}/book", {"slot_id": slot["id"]}
    )
    return chat["id"], booked


def next_event_day(now: datetime) -> date:
    """The event's next local day: its 09:00-12:00 slots are all ahead of ``now``."""
    return (now.astimezone(ZoneInfo(EVENT["timezone"])) + timedelta(days=1)).date()


class Caller(Protocol):
    """What the booking helpers need of a client: the test app's `Api`, or a real node's
    `tests.support.duet_nodes.Rest`."""

    async def call(
        self, person: Person, method: str, path: str, json: Any = None, expect: int = 200
    ) -> Any: ...


async def confirmed_chat_on(
    api: Caller, day: date, *, on_event: Callable[[str], Awaitable[object]] | None = None
) -> tuple[str, dict[str, Any]]:
    """`confirmed_chat` for a new event on ``day`` (that one books a fixed date): for tests on
    the real clock, whose TURN credentials a real coturn checks. `on_event(event_id)` runs
    before anyone books (a webhook endpoint that should hear the whole story, say)."""
    event = {**EVENT, "days": [{**EVENT["days"][0], "date": day.isoformat()}]}
    event_id = (await api.call(ORGANIZER, "POST", "/api/v1/events", event, expect=201))["id"]
    if on_event is not None:
        await on_event(event_id)
    grid = await api.call(
        ADA, "GET", f"/api/v1/events/{event_id}/grid?date={day.isoformat()}&duration_min=30"
    )
    start = grid["slots"][0]["starts_at"]
    await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": day.isoformat(), "duration_min": 30, "slots": [start]}]},
    )
    await api.call(ADA, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    chat = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": ADA.id}, expect=201
    )
    await api.call(ADA, "POST", f"/api/v1/chats/{chat['id']}/approve")
    free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
    slot = next(s for s in free["slots"] if s["starts_at"] == start)
    booked = await api.call(
        SAM, "POST", f"/api/v1/chats/{chat['id']}/book", {"slot_id": slot["id"]}
    )
    return chat["id"], booked


def at(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


PROFILE = {
    "background": "Backend",
    "experience_level": "Senior",
    "languages": ["en", "de"],
    "topics": ["careers"],
    "custom_question": "What would you like to talk about?",
}


async def publish(
    api: Api,
    event_id: str,
    who: Person,
    day: str,
    duration: int,
    slots: list[str] | str,
    *,
    profile: dict[str, Any] | None = None,
    expect: int = 200,
) -> dict[str, Any]:
    """Choose `slots` (or "all") of one day for `who`, then Confirm Availability."""
    body: dict[str, Any] = {"days": [{"date": day, "duration_min": duration, "slots": slots}]}
    if profile is not None:
        body["profile"] = profile
    await api.call(who, "PUT", f"/api/v1/events/{event_id}/availability", body)
    result: dict[str, Any] = await api.call(
        who, "POST", f"/api/v1/events/{event_id}/availability/confirm", expect=expect
    )
    return result


# A two-day fair with a quota per company, employee invitations and a support link.
WINTER_FAIR: dict[str, Any] = {
    "name": "Winter Career Fair",
    "timezone": "Europe/Berlin",
    "days": [
        {"date": "2026-12-01", "start": "09:00", "end": "12:00", "durations": [15, 30]},
        {"date": "2026-12-02", "start": "09:00", "end": "11:00", "durations": [20]},
    ],
    "quotas": [{"company_id": "acme", "slot_quota": 6}, {"company_id": "globex", "slot_quota": 4}],
    "employee_requests_allowed": True,
    "support_url": "https://help.example/booth",
}


async def setup_event(api: Api, event: dict[str, Any] = WINTER_FAIR) -> str:
    """The organizer creates `event`; its id."""
    created = await api.call(ORGANIZER, "POST", "/api/v1/events", event, expect=201)
    return str(created["id"])


async def publish_with_profile(
    api: Api, event_id: str, who: Person, day: str, duration: int, slots: list[str] | str
) -> dict[str, Any]:
    """`publish` with a filled-in profile, as an employee does the first time."""
    return await publish(api, event_id, who, day, duration, slots, profile=PROFILE)
