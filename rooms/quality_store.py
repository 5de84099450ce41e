"""Call quality summaries in the database: one row per person per chat, upserted as a call runs.

The summary (rooms/call_quality.py) is written every few samples and when a socket ends, so it
is in the database by the time the room closes and the chat is settled; `call_quality_payload`
is what the `call.quality` webhook sends at the end of a call (docs/live.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from rooms.call_quality import Summary
from scheduling.db import insert_or, read_tx, write_tx
from scheduling.schema import call_quality, chats


async def save(
    engine: AsyncEngine, chat_id: str, user_id: str, summary: Summary, now: datetime
) -> None:
    data = summary.as_dict()
    async with write_tx(engine) as conn:
        stmt = insert_or(conn, call_quality).values(
            chat_id=chat_id,
            user_id=user_id,
            samples=summary.samples,
            verdict=data["verdict"],
            summary=data,
            updated_at=now,
        )
        await conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[call_quality.c.chat_id, call_quality.c.user_id],
                set_={
                    "samples": stmt.excluded.samples,
                    "verdict": stmt.excluded.verdict,
                    "summary": stmt.excluded.summary,
                    "updated_at": stmt.excluded.updated_at,
                },
            )
        )


async def load(engine: AsyncEngine, chat_id: str, user_id: str) -> Summary | None:
    """The stored summary to carry on from (a reconnect to another node), if any."""
    async with read_tx(engine) as conn:
        row = (
            await conn.execute(
                sa.select(call_quality.c.summary).where(
                    call_quality.c.chat_id == chat_id, call_quality.c.user_id == user_id
                )
            )
        ).first()
    return None if row is None else Summary.from_dict(row[0])


async def summaries_in(conn: AsyncConnection, chat_ids: list[str]) -> dict[str, dict[str, Any]]:
    """chat_id -> {user_id: summary dict}, for the live board and exports."""
    found: dict[str, dict[str, Any]] = {}
    if not chat_ids:
        return found
    rows = await conn.execute(
        sa.select(call_quality.c.chat_id, call_quality.c.user_id, call_quality.c.summary).where(
            call_quality.c.chat_id.in_(chat_ids)
        )
    )
    for chat_id, user_id, summary in rows:
        found.setdefault(chat_id, {})[user_id] = summary
    return found


async def call_quality_payload(conn: AsyncConnection, chat_id: str) -> dict[str, Any] | None:
    """The `call.quality` webhook's payload (docs/live.md), read in the caller's transaction
    (the one that settles the chat, so the event is written with the outcome); None when
    neither person sent a sample (nobody joined, or a client too old to measure)."""
    chat = (
        await conn.execute(
            sa.select(
                chats.c.id, chats.c.event_id, chats.c.employee_id, chats.c.participant_id
            ).where(chats.c.id == chat_id)
        )
    ).first()
    if chat is None:
        return None
    by_user = (await summaries_in(conn, [chat_id])).get(chat_id)
    if not by_user:
        return None
    return {
        "chat_id": chat.id,
        "event_id": chat.event_id,
        "employee": by_user.get(chat.employee_id),
        "participant": by_user.get(chat.participant_id),
    }
