"""Who came to a chat, and settling chats after their room closed: completed or no-show.

Every node may run the settler; each transition is a compare-and-swap, so a chat settled by
one node is simply skipped by the others.

Joins are recorded through a per-node `JoinBuffer`: one write transaction per second for all the
joins of that second instead of one `BEGIN IMMEDIATE` per join (docs/performance.md, finding 1).
Attendance only feeds the settler, which runs after the room closed; `settle_ended` writes what
every buffer of its engine in this process still holds first, and nodes write joins near a
room's close at once (a settler on another node cannot see their buffers).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduling.db import insert_or, write_tx
from scheduling.errors import DomainError
from scheduling.join_window import window_times
from scheduling.model import JoinPolicy
from scheduling.schema import attendance
from scheduling.store_chats import SETTLE_BATCH, ChatRecord, ended_unsettled, settle_chats
from scheduling.store_events import join_terms

log = logging.getLogger("duet.rooms.attendance")


FLUSH_EVERY_S = 1.0

Pending = dict[tuple[str, str], tuple[datetime, datetime]]  # (chat, user) -> (first, last join)


class JoinBuffer:
    """Joins waiting for one batched upsert; flushed `FLUSH_EVERY_S` after the first one."""

    def __init__(self, engine: AsyncEngine, flush_every_s: float = FLUSH_EVERY_S) -> None:
        self.engine = engine
        self._every = flush_every_s
        self._pending: Pending = {}
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        # Held while rows are out of `_pending` but not committed yet (by a flush, or by the
        # settler writing them in its own transaction), so nobody settles without them.
        self.lock = asyncio.Lock()

    def add(self, chat_id: str, user_id: str, now: datetime) -> None:
        first, _ = self._pending.get((chat_id, user_id), (now, now))
        self._pending[(chat_id, user_id)] = (first, now)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._every, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_logged(), name="attendance-flush")

    async def _flush_logged(self) -> None:
        try:
            await self.flush()
        except Exception:
            log.exception("could not record %d joins; retrying", len(self._pending))
            if self._timer is None and self._pending:
                self._timer = asyncio.get_running_loop().call_later(self._every, self._on_timer)

    async def flush(self) -> None:
        """Write every pending join in one transaction; on failure they stay pending."""
        async with self.lock:
            if not self._pending:
                return
            batch = self.take()
            try:
                async with write_tx(self.engine) as conn:
                    await _upsert(conn, batch)
            except BaseException:
                self.restore(batch)
                raise

    def take(self) -> Pending:
        """Everything pending, for a writer holding `lock`."""
        batch, self._pending = self._pending, {}
        return batch

    def restore(self, batch: Pending) -> None:
        """Put back what a failed write took, keeping the times of joins added meanwhile."""
        for key, (first, last) in batch.items():
            newer = self._pending.get(key)
            self._pending[key] = (first, last if newer is None else newer[1])

    async def close(self) -> None:
        """Flush what is left (shutdown); the buffer takes no more joins after this."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None and not self._task.done():
            with contextlib.suppress(Exception):
                await self._task
        await self.flush()


async def _upsert(conn: AsyncConnection, batch: Pending) -> None:
    """First join kept, last join updated, for many rows at once."""
    stmt = insert_or(conn, attendance)
    stmt = stmt.on_conflict_do_update(
        index_elements=[attendance.c.chat_id, attendance.c.user_id],
        set_={"last_seen_at": stmt.excluded.last_seen_at},
    )
    rows = [
        {"chat_id": c, "user_id": u, "first_joined_at": first, "last_seen_at": last}
        for (c, u), (first, last) in batch.items()
    ]
    await conn.execute(stmt, rows)


def absent_side(chat: ChatRecord, attended: set[str]) -> str:
    """ "" when both came; else who did not: "employee", "participant" or "both"."""
    missing = [
        side
        for side, uid in (("employee", chat.employee_id), ("participant", chat.participant_id))
        if uid not in attended
    ]
    return "" if not missing else ("both" if len(missing) == 2 else missing[0])


async def settle_ended(
    engine: AsyncEngine, now: datetime, buffers: Sequence[JoinBuffer] = ()
) -> list[ChatRecord]:
    """Settle confirmed chats whose join window has closed; returns the settled chats.

    Joins still in `buffers` (the calling node's `JoinBuffer`) are written in the same transaction
    before attendance is read, and only when some chat is due: the periodic run stays one
    transaction. The buffers' locks are held throughout, so a flush in flight finishes first
    and none starts meanwhile (same order as a flush: buffer lock, then the write lock).

    In batches (one attendance read, a few updates per SETTLE_BATCH chats): the rooms of a
    closing instant are settled together, thousands at a fair (docs/performance.md).
    """
    async with contextlib.AsyncExitStack() as stack:
        for buffer in buffers:
            await stack.enter_async_context(buffer.lock)
        taken: list[tuple[JoinBuffer, Pending]] = []
        try:
            async with write_tx(engine) as conn:
                policies: dict[str, JoinPolicy] = {}
                due: list[ChatRecord] = []
                for chat in await ended_unsettled(conn, now):
                    if chat.event_id not in policies:
                        terms = await join_terms(conn, chat.event_id)
                        policies[chat.event_id] = terms.join_policy
                    assert chat.starts_at is not None and chat.ends_at is not None
                    times = window_times(chat.starts_at, chat.ends_at, policies[chat.event_id])
                    if times.closes_at <= now:  # else the room is still open: too early
                        due.append(chat)
                if not due:
                    return []
                taken = [(b, b.take()) for b in buffers]
                for _, batch in taken:
                    if batch:
                        await _upsert(conn, batch)
                outcomes: list[tuple[ChatRecord, str]] = []
                for start in range(0, len(due), SETTLE_BATCH):
                    chunk = due[start : start + SETTLE_BATCH]
                    came: dict[str, set[str]] = {}
                    rows = await conn.execute(
                        sa.select(attendance.c.chat_id, attendance.c.user_id).where(
                            attendance.c.chat_id.in_([c.id for c in chunk])
                        )
                    )
                    for chat_id, user_id in rows:
                        came.setdefault(chat_id, set()).add(user_id)
                    outcomes += [(c, absent_side(c, came.get(c.id, set()))) for c in chunk]
                try:
                    # A savepoint: on PostgreSQL a refused statement spoils the whole
                    # transaction unless rolled back to one, and the joins above still count.
                    async with conn.begin_nested():
                        return await settle_chats(conn, outcomes, now)
                except DomainError as exc:
                    log.warning("chats not settled: %s", exc.message)
                    return []
        except BaseException:
            for buffer, batch in taken:
                buffer.restore(batch)
            raise
