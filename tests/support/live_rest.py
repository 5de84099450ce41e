"""Duet's REST API at a real address (a `duet serve` process, or HAProxy in front of several),
with tokens minted at the real current time, and a chat booked so that its join window is open
now.

Tests that run `duet serve` as a process cannot move its clock: the nodes run on the system
clock, so the chat is booked around the real now (the join window opens 5 minutes before the
slot).
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from tests.support.apiclient import ADA, ORGANIZER, SAM, Person
from web.auth import mint_token

DURATION_MIN = 10


class RestApi:
    """Checked calls to `base_url` (``ssl``: the context that trusts its certificate, if any)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        secret: str,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True

    def token(self, person: Person) -> str:
        return mint_token(self.secret, person.record, datetime.now(UTC), timedelta(hours=1))

    async def request(
        self, person: Person, method: str, path: str, json: Any = None
    ) -> tuple[int, Any]:
        """(status, decoded body) without checking the status: for callers that retry."""
        async with self.session.request(
            method,
            self.base_url + path,
            json=json,
            headers={"Authorization": f"Bearer {self.token(person)}"},
            ssl=self.ssl,
        ) as resp:
            body = await resp.read()
            return resp.status, (await resp.json(content_type=None) if body else None)

    async def call(
        self, person: Person, method: str, path: str, json: Any = None, expect: int = 200
    ) -> Any:
        status, body = await self.request(person, method, path, json)
        assert status == expect, f"{method} {path}: {status} {body!r:.500}"
        return body


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def book_chat_now(api: RestApi, *, name: str = "Cluster Fair") -> tuple[str, datetime]:
    """A confirmed 10-minute chat (Ada with Sam) starting within 5 minutes: its join window is
    open now. Returns (chat id, slot start).

    The event's day starts two whole minutes after now, in UTC; if its slots would cross
    midnight UTC the day is described in UTC-12, where it is still one calendar day.
    """
    now = datetime.now(UTC)
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
    end = start + timedelta(minutes=3 * DURATION_MIN)
    zone = ZoneInfo("UTC") if end.date() == start.date() else ZoneInfo("Etc/GMT+12")
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = local_start.date().isoformat()
    event = await api.call(
        ORGANIZER,
        "POST",
        "/api/v1/events",
        {
            "name": name,
            "timezone": zone.key,
            "days": [
                {
                    "date": day,
                    "start": local_start.strftime("%H:%M"),
                    "end": local_end.strftime("%H:%M"),
                    "durations": [DURATION_MIN],
                }
            ],
            "quotas": [{"company_id": ADA.company, "slot_quota": 10}],
        },
        expect=201,
    )
    event_id = event["id"]
    grid = await api.call(
        ADA, "GET", f"/api/v1/events/{event_id}/grid?date={day}&duration_min={DURATION_MIN}"
    )
    now = datetime.now(UTC)
    slot_start = next(
        s["starts_at"]
        for s in grid["slots"]
        if now < _instant(s["starts_at"]) <= now + timedelta(minutes=5)
    )
    await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/availability",
        {"days": [{"date": day, "duration_min": DURATION_MIN, "slots": [slot_start]}]},
    )
    await api.call(ADA, "POST", f"/api/v1/events/{event_id}/availability/confirm")
    chat = await api.call(
        SAM, "POST", f"/api/v1/events/{event_id}/chats", {"employee_id": ADA.id}, expect=201
    )
    await api.call(ADA, "POST", f"/api/v1/chats/{chat['id']}/approve")
    free = await api.call(SAM, "GET", f"/api/v1/events/{event_id}/employees/{ADA.id}/slots")
    slot = next(s for s in free["slots"] if s["starts_at"] == slot_start)
    booked = await api.call(
        SAM, "POST", f"/api/v1/chats/{chat['id']}/book", {"slot_id": slot["id"]}
    )
    assert booked["state"] == "confirmed", booked
    return chat["id"], _instant(slot_start)
