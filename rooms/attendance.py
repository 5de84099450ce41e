"""Who came to a chat, and settling chats after their room closed: completed or no-show.

Every node may run the settler; each transition is a compare-and-swap, so a chat settled by
one node is simply skipped by the others.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduling.db import write_tx
from scheduling.errors import DomainError
from scheduling.schema import attendance
from scheduling.states import Action
from scheduling.store_chats import SYSTEM, ChatRecord, act, ended_unsettled
from scheduling.store_events import require_event

log = logging.getLogger("duet.rooms.attendance")


async def record_join(engine: AsyncEngine, chat_id: str, user_id: str, now: datetime) -> None:
    async with write_tx(engine) as conn:
        found = (
            await conn.execute(
                sa.select(attendance.c.user_id).where(
                    attendance.c.chat_id == chat_id, attendance.c.user_id == user_id
                )
            )
        ).first()
        if found is None:
            await conn.execute(
                attendance.insert().values(
                    chat_id=chat_id, user_id=user_id, first_joined_at=now, last_seen_at=now
                )
            )
        else:
            await conn.execute(
                attendance.update()
                .where(attendance.c.chat_id == chat_id, attendance.c.user_id == user_id)
                .values(last_seen_at=now)
            )


def absent_side(chat: ChatRecord, attended: set[str]) -> str:
    """ "" when both came; else who did not: "employee", "participant" or "both"."""
    missing = [
        side
        for side, uid in (("employee", chat.employee_id), ("participant", chat.participant_id))
        if uid not in attended
    ]
    return "" if not missing else ("both" if len(missing) == 2 else missing[0])


async def settle_ended(
    engine: AsyncEngine, now: datetime, max_grace: timedelta = timedelta(hours=1)
) -> list[ChatRecord]:
    """Settle confirmed chats whose join window has closed; returns the settled chats."""
    settled: list[ChatRecord] = []
    async with write_tx(engine) as conn:
        for chat in await ended_unsettled(conn, now):
            event = await require_event(conn, chat.event_id)
            assert chat.ends_at is not None
            if chat.ends_at + timedelta(seconds=event.join_policy.grace_after_s) > now:
                continue
            rows = (
                await conn.execute(
                    sa.select(attendance.c.user_id).where(attendance.c.chat_id == chat.id)
                )
            ).scalars()
            missing = absent_side(chat, set(rows))
            try:
                if missing:
                    settled.append(await act(conn, chat, Action.NO_SHOW, SYSTEM, now, text=missing))
                else:
                    settled.append(await act(conn, chat, Action.COMPLETE, SYSTEM, now))
            except DomainError as exc:
                log.info("chat %s not settled: %s", chat.id, exc.message)
    return settled
