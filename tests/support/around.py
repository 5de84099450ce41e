"""Seeding for the "around the call" tests: a fair with a minimum gap, PDFs, approved chats."""

from __future__ import annotations

import io
from typing import Any

from pypdf import PdfWriter

from tests.support.apiclient import ORGANIZER, Api, Person
from tests.support.seed import publish

DAY = "2026-12-01"


def fair(min_gap_min: int = 0) -> dict[str, Any]:
    return {
        "name": "Gap Fair",
        "timezone": "Europe/Berlin",
        "days": [{"date": DAY, "start": "09:00", "end": "12:00", "durations": [10, 15, 30]}],
        "quotas": [
            {"company_id": "acme", "slot_quota": 20},
            {"company_id": "globex", "slot_quota": 20},
        ],
        "min_gap_min": min_gap_min,
    }


def pdf_bytes(pages: int = 1, text: str = "") -> bytes:
    """A real PDF of blank pages (with `text` as metadata, so two files differ)."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    if text:
        writer.add_metadata({"/Title": text})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def new_event(api: Api, min_gap_min: int = 0) -> str:
    created = await api.call(ORGANIZER, "POST", "/api/v1/events", fair(min_gap_min), expect=201)
    assert created["min_gap_min"] == min_gap_min
    return str(created["id"])


async def starts(api: Api, event_id: str, duration: int) -> list[str]:
    grid = await api.call(
        ORGANIZER, "GET", f"/api/v1/events/{event_id}/grid?date={DAY}&duration_min={duration}"
    )
    return [s["starts_at"] for s in grid["slots"]]


async def approved_chat(
    api: Api, event_id: str, employee: Person, participant: Person, slot_starts: list[str], dur: int
) -> tuple[str, dict[str, int]]:
    """`employee` publishes `slot_starts`; `participant` requests, the employee approves.
    Returns the chat id and the employee's free slot ids by start."""
    await publish(api, event_id, employee, DAY, dur, slot_starts)
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
    return chat["id"], {s["starts_at"]: s["id"] for s in free["slots"]}
