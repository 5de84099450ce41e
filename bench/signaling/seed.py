"""Seed a throw-away SQLite database with N confirmed chats whose join window is open now.

Rows are bulk-inserted with SQLAlchemy Core, like `web/demo.py` does for its live chat: one
event, a few companies, and per room its own employee, participant, slot and confirmed chat, so
no slot overlaps another for any employee or participant (the database triggers check that).
Every chat started a minute ago and lasts an hour, far longer than a benchmark run.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from rooms.chatlog import last_seq_in  # noqa: E402
from rooms.tickets import RoomPass  # noqa: E402
from scheduling.db import make_engine, migrate, read_tx, write_tx  # noqa: E402
from scheduling.schema import (  # noqa: E402
    chat_history,
    chats,
    companies,
    event_companies,
    event_days,
    events,
    slots,
    users,
)
from scheduling.store_chats import get_chat  # noqa: E402
from scheduling.store_events import require_event  # noqa: E402

EVENT_ID = "bench"
COMPANIES = 50  # a large career fair; the join path reads every quota row of the event
CHAT_MINUTES = 60
BATCH = 2000


@dataclass(frozen=True, slots=True)
class Room:
    chat_id: str
    employee_id: str
    participant_id: str
    # What a ticket of each person carries, read back with the join endpoint's own functions.
    passes: tuple[RoomPass, RoomPass] | None = None


def chat_id(i: int) -> str:
    """Room i's chat id, in the API's form (32 hex digits, like a uuid4().hex)."""
    return f"{0xBE7C << 112 | i:032x}"


def _batches(rows: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    return [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]


async def seed(
    db: Path | str,
    rooms: int,
    now: datetime | None = None,
    *,
    passes: bool = True,
    join_policy: tuple[int, int] | None = None,
) -> list[Room]:
    """Create the schema (migrations) and `rooms` confirmed chats; returns their seats.

    `db` is a SQLite file or a database URL (PostgreSQL). `passes=False` skips reading back
    each room's `RoomPass` (bench/storm.py fetches tickets through the REST API instead);
    `join_policy` sets the event's (opens_before_s, grace_after_s)."""
    now = now or datetime.now(UTC)
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=1)
    end = start + timedelta(minutes=CHAT_MINUTES)
    n_companies = min(COMPANIES, rooms)
    url = db if isinstance(db, str) else f"sqlite+aiosqlite:///{db}"
    engine = make_engine(url)
    try:
        await migrate(engine)
        async with write_tx(engine) as conn:
            await conn.execute(
                companies.insert(),
                [{"id": f"co{c}", "name": f"Company {c}"} for c in range(n_companies)],
            )
            await conn.execute(
                users.insert(),
                [
                    {
                        "id": "organizer",
                        "name": "Bench Organizer",
                        "role": "organizer",
                        "company_id": None,
                    }
                ],
            )
            people: list[dict[str, object]] = []
            for i in range(rooms):
                people.append(
                    {
                        "id": f"e{i}",
                        "name": f"Employee {i}",
                        "role": "employee",
                        "company_id": f"co{i % n_companies}",
                    }
                )
                people.append(
                    {
                        "id": f"p{i}",
                        "name": f"Participant {i}",
                        "role": "participant",
                        "company_id": None,
                    }
                )
            for batch in _batches(people):
                await conn.execute(users.insert(), batch)
            policy = {}
            if join_policy is not None:
                policy = {
                    "join_opens_before_s": join_policy[0],
                    "join_grace_after_s": join_policy[1],
                }
            await conn.execute(
                events.insert().values(
                    id=EVENT_ID,
                    name="Signaling benchmark fair",
                    timezone="UTC",
                    created_by="organizer",
                    created_at=now,
                    **policy,
                )
            )
            await conn.execute(
                event_days.insert(),
                [
                    {
                        "event_id": EVENT_ID,
                        "day": d,
                        "start_time": time(0, 0),
                        "end_time": time(23, 59),
                        "durations": f"{CHAT_MINUTES}",
                    }
                    for d in sorted({start.date(), end.date()})
                ],
            )
            await conn.execute(
                event_companies.insert(),
                [
                    {"event_id": EVENT_ID, "company_id": f"co{c}", "slot_quota": rooms}
                    for c in range(n_companies)
                ],
            )
            slot_rows: list[dict[str, object]] = [
                {
                    "id": i + 1,
                    "event_id": EVENT_ID,
                    "employee_id": f"e{i}",
                    "company_id": f"co{i % n_companies}",
                    "day": start.date(),
                    "starts_at": start,
                    "ends_at": end,
                    "published": True,
                }
                for i in range(rooms)
            ]
            for batch in _batches(slot_rows):
                await conn.execute(slots.insert(), batch)
            chat_rows: list[dict[str, object]] = [
                {
                    "id": chat_id(i),
                    "event_id": EVENT_ID,
                    "company_id": f"co{i % n_companies}",
                    "employee_id": f"e{i}",
                    "participant_id": f"p{i}",
                    "initiator": "participant",
                    "state": "confirmed",
                    "slot_id": i + 1,
                    "starts_at": start,
                    "ends_at": end,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(rooms)
            ]
            for batch in _batches(chat_rows):
                await conn.execute(chats.insert(), batch)
            history: list[dict[str, object]] = [
                {
                    "chat_id": chat_id(i),
                    "at": now,
                    "actor_id": f"p{i}",
                    "actor_side": "participant",
                    "action": "book",
                    "from_state": "approved",
                    "to_state": "confirmed",
                    "reason": "benchmark seed",
                }
                for i in range(rooms)
            ]
            for batch in _batches(history):
                await conn.execute(chat_history.insert(), batch)
        seats = [Room(chat_id(i), f"e{i}", f"p{i}") for i in range(rooms)]
        return await _with_passes(engine, seats) if passes else seats
    finally:
        await engine.dispose()


async def _with_passes(engine: AsyncEngine, rooms: list[Room]) -> list[Room]:
    """Each room with both people's `RoomPass`, built from the stored chat as `POST .../join`
    builds it (get_chat, the event's join policy, the chat log's last seq)."""
    out: list[Room] = []
    async with read_tx(engine) as conn:
        event = await require_event(conn, EVENT_ID)
        for room in rooms:
            chat = await get_chat(conn, room.chat_id)
            assert chat is not None
            seq = await last_seq_in(conn, chat.id)
            passes = tuple(
                RoomPass.of(chat, user, event.join_policy, event.media_mode, seq)
                for user in (chat.employee_id, chat.participant_id)
            )
            out.append(replace(room, passes=passes))  # type: ignore[arg-type]
    return out


if __name__ == "__main__":
    import asyncio

    target = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    seeded = asyncio.run(seed(target, count))
    print(f"seeded {len(seeded)} rooms into {target}")
