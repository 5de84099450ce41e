"""Every integrity rule of the schedule, checked by SQL over the whole database: what the
property tests and the demo seed assert after every step."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.schema import chat_history, chats, events, slots

# --- The invariants, as SQL over the whole database (also used by tests/integration/test_demo_seed.py) ------


async def integrity_violations(conn: AsyncConnection) -> list[str]:
    """Every broken integrity rule, in words; an empty list means the data is sound."""
    found: list[str] = []
    double = (
        await conn.execute(
            sa.text(
                "SELECT slot_id FROM chats WHERE slot_id IS NOT NULL"
                " GROUP BY slot_id HAVING count(*) > 1"
            )
        )
    ).all()
    found += [f"slot {r.slot_id} is held by more than one chat" for r in double]

    over_promised = (
        await conn.execute(
            sa.text(
                "SELECT e.event_id, e.employee_id, e.promised, "
                " (SELECT count(*) FROM slots s WHERE s.event_id = e.event_id"
                "   AND s.employee_id = e.employee_id AND s.published) AS published"
                " FROM (SELECT event_id, employee_id, count(*) AS promised FROM chats"
                "   WHERE state = 'approved' OR slot_id IS NOT NULL"
                "   GROUP BY event_id, employee_id) e"
                " WHERE e.promised > (SELECT count(*) FROM slots s WHERE s.event_id = e.event_id"
                "   AND s.employee_id = e.employee_id AND s.published)"
            )
        )
    ).all()
    found += [
        f"{r.employee_id} promised {r.promised} chats with {r.published} published slots"
        for r in over_promised
    ]

    overlaps = (
        await conn.execute(
            sa.text(
                "SELECT a.participant_id, a.id AS a_id, b.id AS b_id FROM chats a"
                " JOIN chats b ON a.participant_id = b.participant_id AND a.id < b.id"
                " WHERE a.slot_id IS NOT NULL AND b.slot_id IS NOT NULL"
                "   AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at"
            )
        )
    ).all()
    found += [f"{r.participant_id} holds overlapping chats {r.a_id}, {r.b_id}" for r in overlaps]
    found += await _gap_violations(conn)

    over_quota = (
        await conn.execute(
            sa.text(
                "SELECT s.event_id, s.company_id, count(*) AS n,"
                " coalesce((SELECT q.slot_quota FROM event_companies q WHERE q.event_id = s.event_id"
                "   AND q.company_id = s.company_id), 0) AS quota"
                " FROM slots s WHERE s.published GROUP BY s.event_id, s.company_id"
                " HAVING count(*) > coalesce((SELECT q.slot_quota FROM event_companies q"
                "   WHERE q.event_id = s.event_id AND q.company_id = s.company_id), 0)"
            )
        )
    ).all()
    found += [f"{r.company_id} published {r.n} slots, quota {r.quota}" for r in over_quota]

    chat_rows = {
        r.id: r
        for r in (
            await conn.execute(
                sa.select(
                    chats.c.id,
                    chats.c.state,
                    chats.c.slot_id,
                    chats.c.starts_at,
                    chats.c.ends_at,
                    chats.c.employee_id,
                    chats.c.event_id,
                )
            )
        ).all()
    }
    slot_rows = {
        r.id: r
        for r in (
            await conn.execute(
                sa.select(
                    slots.c.id,
                    slots.c.starts_at,
                    slots.c.ends_at,
                    slots.c.employee_id,
                    slots.c.event_id,
                )
            )
        ).all()
    }
    for chat in chat_rows.values():
        holds = chat.state in ("confirmed", "completed", "no_show")
        if holds != (chat.slot_id is not None):
            found.append(f"chat {chat.id} in {chat.state} has slot {chat.slot_id}")
        if chat.slot_id is not None:
            slot = slot_rows[chat.slot_id]
            if (slot.starts_at, slot.ends_at, slot.employee_id, slot.event_id) != (
                chat.starts_at,
                chat.ends_at,
                chat.employee_id,
                chat.event_id,
            ):
                found.append(f"chat {chat.id} disagrees with its slot {chat.slot_id}")

    history_rows = (
        await conn.execute(
            sa.select(
                chat_history.c.chat_id,
                chat_history.c.action,
                chat_history.c.from_state,
                chat_history.c.to_state,
            ).order_by(chat_history.c.chat_id, chat_history.c.id)
        )
    ).all()
    last: dict[str, str | None] = {}
    for h in history_rows:
        expected_from = last.get(h.chat_id)
        if h.chat_id not in last and (h.action != "request" or h.from_state is not None):
            found.append(f"chat {h.chat_id} history does not start with its request")
        elif h.chat_id in last and h.from_state != expected_from:
            found.append(f"chat {h.chat_id} history jumps from {expected_from} to {h.from_state}")
        last[h.chat_id] = h.to_state
    for chat in chat_rows.values():
        if last.get(chat.id) != chat.state:
            found.append(
                f"chat {chat.id} is {chat.state} but its history ends at {last.get(chat.id)}"
            )
    return found


# --- A small world to act in ---------------------------------------------------------------------


async def _gap_violations(conn: AsyncConnection) -> list[str]:
    """One participant's booked chats of an event closer than its minimum gap (migration
    "after"); compared here in Python, so the check does not share the triggers' SQL."""
    rows = await conn.execute(
        sa.select(
            chats.c.id,
            chats.c.event_id,
            chats.c.participant_id,
            chats.c.starts_at,
            chats.c.ends_at,
            events.c.min_gap_min,
        )
        .join(events, events.c.id == chats.c.event_id)
        .where(chats.c.slot_id.is_not(None), events.c.min_gap_min > 0)
        .order_by(chats.c.event_id, chats.c.participant_id, chats.c.starts_at)
    )
    found: list[str] = []
    previous = None
    for row in rows:
        if (
            previous is not None
            and (previous.event_id, previous.participant_id) == (row.event_id, row.participant_id)
            and previous.ends_at
            <= row.starts_at
            < previous.ends_at + timedelta(minutes=row.min_gap_min)
        ):
            found.append(
                f"{row.participant_id} holds chats {previous.id}, {row.id} closer than "
                f"{row.min_gap_min} minutes"
            )
        previous = row
    return found
