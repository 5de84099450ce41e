"""CSV exports on SQLite and PostgreSQL: what each holds and who may have it, formulas
neutralised, the call-quality seam, and 50,000 chats streamed under a memory bound."""

from __future__ import annotations

import csv
import gc
import io
import time
import tracemalloc
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.call_quality import Sample, Summary
from rooms.quality_store import save as save_quality
from scheduling.clock import ManualClock
from scheduling.db import write_tx
from scheduling.model import Role
from scheduling.schema import attendance, chat_feedback, chat_messages, chats, companies, users
from scheduling.store_exports import COMPANY_COLUMNS, ORGANIZER_COLUMNS, Cell
from tests.support.apiclient import ADA, ALAN, GRACE, ORGANIZER, PRIYA, SAM, Api, Person
from tests.support.app import TEST_SECRET
from tests.support.around import approved_chat, new_event, starts
from tests.support.seed import at
from web.app import create_app
from web.config import Config
from web.keys import CALL_QUALITY, ENGINE

pytestmark = pytest.mark.both_backends

# A participant whose name is a formula: the export must show it as text.
MALLORY = Person("mallory", '=HYPERLINK("http://evil.example","x")', Role.PARTICIPANT)


class MessageCount:
    """A call-quality source for the test: it reads the database on the export's connection
    between batches, as the live board's summary will."""

    columns = ("call_quality_verdict", "call_quality_messages")

    def __init__(self) -> None:
        self.batches = 0

    async def cells(
        self, conn: AsyncConnection, chat_ids: Sequence[str]
    ) -> Mapping[str, Sequence[Cell]]:
        self.batches += 1
        rows = await conn.execute(
            sa.select(chat_messages.c.chat_id, sa.func.count())
            .where(chat_messages.c.chat_id.in_(chat_ids))
            .group_by(chat_messages.c.chat_id)
        )
        return {chat_id: ("good", int(n)) for chat_id, n in rows}


@pytest.fixture
async def quality_api(
    aiohttp_client: Any, app_config: Config, clock: ManualClock
) -> tuple[Api, MessageCount]:
    app = create_app(app_config, clock=clock)
    source = app[CALL_QUALITY] = MessageCount()
    client: TestClient = await aiohttp_client(app)
    return Api(client, TEST_SECRET, clock), source


async def get_csv(api: Api, who: Person, path: str, expect: int = 200) -> list[dict[str, str]]:
    resp = await api.client.get(path, headers={"Authorization": f"Bearer {api.token(who)}"})
    body = await resp.read()
    assert resp.status == expect, body[:300]
    if expect != 200:
        assert resp.content_type == "application/problem+json"
        return []
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="duet-')
    assert "Content-Length" not in resp.headers  # streamed, chunk by chunk
    return list(csv.DictReader(io.StringIO(body.decode())))


async def test_what_each_export_holds_and_who_may_have_it(
    quality_api: tuple[Api, MessageCount],
) -> None:
    api, source = quality_api
    event_id = await new_event(api)
    grid = await starts(api, event_id, 30)
    chat_id, free = await approved_chat(api, event_id, ADA, MALLORY, grid[:1], 30)
    chat = await api.call(
        MALLORY, "POST", f"/api/v1/chats/{chat_id}/book", {"slot_id": free[grid[0]]}
    )
    await approved_chat(api, event_id, GRACE, PRIYA, grid[:1], 30)
    await api.call(
        ADA,
        "PUT",
        f"/api/v1/events/{event_id}/notes/{MALLORY.id}",
        {"notes": "-1 for the formula name; @ping HR", "rating": 2, "next_step": "not_a_fit"},
    )
    started = at(chat["slot"]["starts_at"])
    engine = api.client.app[ENGINE]
    async with write_tx(engine) as conn:
        await conn.execute(
            attendance.insert(),
            [
                {
                    "chat_id": chat_id,
                    "user_id": ADA.id,
                    "first_joined_at": started,
                    "last_seen_at": started + timedelta(minutes=29),
                },
            ],
        )
        await conn.execute(
            chat_messages.insert().values(
                chat_id=chat_id,
                seq=1,
                sender_id=ADA.id,
                client_msg_id="m1",
                text="hi",
                sent_at=started,
            )
        )
    api.clock.set(started + timedelta(minutes=31))
    await api.call(ADA, "PUT", f"/api/v1/chats/{chat_id}/no-show", {"participant_no_show": True})
    await api.call(
        MALLORY, "PUT", f"/api/v1/chats/{chat_id}/feedback", {"score": 2, "comment": "+meh"}
    )

    rows = await get_csv(api, ORGANIZER, f"/api/v1/events/{event_id}/export/chats.csv")
    assert list(rows[0]) == [*ORGANIZER_COLUMNS, *MessageCount.columns]
    assert len(rows) == 2 and source.batches == 1
    mine = next(r for r in rows if r["chat_id"] == chat_id)
    assert mine["participant_name"] == "'" + MALLORY.name  # a formula no more
    assert mine["company_id"] == "acme" and mine["state"] == "confirmed"
    assert mine["slot_starts_at"] == chat["slot"]["starts_at"]
    assert mine["employee_joined_at"] == chat["slot"]["starts_at"]
    assert mine["employee_left_at"] == "2026-12-01T08:29:00Z"
    assert mine["participant_joined_at"] == "" and mine["marked_no_show"] == "yes"
    assert mine["feedback_score"] == "2"
    assert (mine["call_quality_verdict"], mine["call_quality_messages"]) == ("good", "1")
    other = next(r for r in rows if r["chat_id"] != chat_id)
    assert other["call_quality_verdict"] == "" and other["feedback_score"] == ""

    company = await get_csv(api, ALAN, f"/api/v1/events/{event_id}/export/company.csv")
    assert list(company[0]) == list(COMPANY_COLUMNS)  # no feedback score for companies
    assert [r["chat_id"] for r in company] == [chat_id]
    assert company[0]["notes"] == "'-1 for the formula name; @ping HR"
    assert (company[0]["rating"], company[0]["next_step"]) == ("2", "not_a_fit")
    globex = await get_csv(api, GRACE, f"/api/v1/events/{event_id}/export/company.csv")
    assert [r["participant_id"] for r in globex] == [PRIYA.id] and globex[0]["notes"] == ""

    for outsider in (ADA, SAM):
        await get_csv(api, outsider, f"/api/v1/events/{event_id}/export/chats.csv", 403)
    for outsider in (ORGANIZER, SAM):
        await get_csv(api, outsider, f"/api/v1/events/{event_id}/export/company.csv", 403)
    await get_csv(api, ORGANIZER, f"/api/v1/events/{'0' * 32}/export/chats.csv", 404)
    await get_csv(api, ADA, f"/api/v1/events/{'0' * 32}/export/company.csv", 404)


CHATS = 50_000
# The whole organizer CSV of 50,000 chats is ~12 MB and its rows as Python objects several
# times that; streamed, the export holds one batch of 1,000 rows and its text at a time (a
# peak of ~5.4 MB measured on SQLite, test client and server together).
PEAK_BOUND = 8 * 1024 * 1024


async def seed_many(api: Api, event_id: str) -> None:
    """50,000 settled chats of 20 employees with 2,000 participants, with attendance and
    feedback, written straight into the tables (the API would take minutes)."""
    now = api.clock.now()
    start = now + timedelta(days=1)
    staff = [(f"e{i:02d}", f"c{i % 5}") for i in range(20)]
    people = [f"p{i:04d}" for i in range(2000)]
    async with write_tx(api.client.app[ENGINE]) as conn:
        await conn.execute(
            companies.insert(), [{"id": f"c{i}", "name": f"Company {i}"} for i in range(5)]
        )
        await conn.execute(
            users.insert(),
            [
                {"id": e, "name": f"Employee {e}", "role": "employee", "company_id": c}
                for e, c in staff
            ]
            + [
                {"id": p, "name": f"Participant {p}", "role": "participant", "company_id": None}
                for p in people
            ],
        )
        for first in range(0, CHATS, 5000):
            rows, seen, scores = [], [], []
            for n in range(first, first + 5000):
                employee, company = staff[n % 20]
                participant = people[n % 2000]
                begins = start + timedelta(minutes=10 * (n // 20))
                chat_id = uuid.UUID(int=n).hex
                rows.append(
                    {
                        "id": chat_id,
                        "event_id": event_id,
                        "company_id": company,
                        "employee_id": employee,
                        "participant_id": participant,
                        "initiator": "participant",
                        "state": "completed",
                        "starts_at": begins,
                        "ends_at": begins + timedelta(minutes=10),
                        "request_message": "Hello, I would like to talk about backend roles.",
                        "created_at": now + timedelta(seconds=n),
                        "updated_at": now,
                    }
                )
                for user in (employee, participant):
                    seen.append(
                        {
                            "chat_id": chat_id,
                            "user_id": user,
                            "first_joined_at": begins,
                            "last_seen_at": begins + timedelta(minutes=9),
                        }
                    )
                scores.append(
                    {"chat_id": chat_id, "score": 1 + n % 5, "comment": "", "created_at": begins}
                )
            await conn.execute(chats.insert(), rows)
            await conn.execute(attendance.insert(), seen)
            await conn.execute(chat_feedback.insert(), scores)


async def test_fifty_thousand_chats_stream_under_a_memory_bound(api: Api) -> None:
    event_id = await new_event(api)
    await seed_many(api, event_id)
    gc.collect()
    tracemalloc.start()
    try:
        began = time.perf_counter()
        resp = await api.client.get(
            f"/api/v1/events/{event_id}/export/chats.csv",
            headers={"Authorization": f"Bearer {api.token(ORGANIZER)}"},
        )
        assert resp.status == 200
        lines, size, first = 0, 0, b""
        async for chunk in resp.content.iter_chunked(64 * 1024):
            if len(first) < 2000:
                first += chunk[:2000]
            lines += chunk.count(b"\r\n")
            size += len(chunk)
        elapsed = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == CHATS + 1, lines
    header, row = first.decode().split("\r\n")[:2]
    assert header.startswith("chat_id,state,company_id") and ",completed,c0," in row
    assert size > PEAK_BOUND, size  # the file is larger than all the export may hold at once
    assert peak < PEAK_BOUND, f"peak {peak / 1e6:.1f} MB while streaming {size / 1e6:.1f} MB"
    print(
        f"export: {CHATS} chats, {size / 1e6:.1f} MB in {elapsed:.1f} s, peak {peak / 1e6:.2f} MB"
    )


async def test_the_export_carries_each_calls_quality(api: Api) -> None:
    """Without another source, the call-quality columns are the stored summaries' figures:
    the worse verdict of the two people, the worse median round trip and loss, the route."""
    event_id = await new_event(api)
    grid = await starts(api, event_id, 30)
    measured, free = await approved_chat(api, event_id, ADA, SAM, grid[:1], 30)
    await api.call(SAM, "POST", f"/api/v1/chats/{measured}/book", {"slot_id": free[grid[0]]})
    unmeasured, _ = await approved_chat(api, event_id, GRACE, PRIYA, grid[:1], 30)
    engine = api.client.app[ENGINE]
    now = api.clock.now()
    good, poor = Summary(), Summary()
    good.add(Sample(rtt_ms=40, loss=0.0, jitter_ms=4, fps=30, frames_decoded=300, pair="host"))
    poor.add(Sample(rtt_ms=700, loss=0.1, jitter_ms=30, pair="relay", transport="tls"))
    await save_quality(engine, measured, ADA.id, good, now)
    await save_quality(engine, measured, SAM.id, poor, now)
    rows = {
        r["chat_id"]: r
        for r in await get_csv(api, ORGANIZER, f"/api/v1/events/{event_id}/export/chats.csv")
    }
    got = rows[measured]
    assert (got["call_quality"], got["call_rtt_ms_median"], got["call_loss_pct"]) == (
        "poor",
        "700",
        "10.0",
    )
    assert got["call_route"] == "turn"
    assert [rows[unmeasured][c] for c in ("call_quality", "call_rtt_ms_median", "call_route")] == [
        "",
        "",
        "",
    ]
