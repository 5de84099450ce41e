"""Call quality summaries in the database: one row per person per chat, upserted as a call runs.

The summary (rooms/call_quality.py) is written every few samples and when a socket ends, so it
is in the database by the time the room closes and the chat is settled, whose transaction
writes the `call.quality` webhook from it (scheduling/store_chats.py `settle_chats`).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from rooms.call_quality import Summary
from scheduling.db import insert_or, read_tx, write_tx
from scheduling.schema import call_quality
from scheduling.store_quality import summaries_in

__all__ = ["load", "save", "summaries_in"]


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
