"""Who came to a chat, and settling chats after their room closed: completed or no-show.

Every node may run the settler; each transition is a compare-and-swap, so a chat settled by
one node is simply skipped by the others.

Joins and leaves are recorded through a per-node `JoinBuffer`: one write transaction per second
for all the joins and seats emptied in that second instead of one `BEGIN IMMEDIATE` (and one
task) per socket (docs/performance.md, finding 1). Attendance only feeds the settler, which runs
after the room closed; `settle_ended` writes what every buffer of its engine in this process
still holds first, and nodes write joins and leaves near a room's close at once (a settler on
another node cannot see their buffers).

The room's webhooks are written in the same transactions: `room.opened` and
`participant.joined` with the joins that cause them, `participant.left` with the batch it was
buffered in (a seat emptied is not stored anywhere else), in the order they happened, and
`room.closed` with the settling (store_chats). A flush makes no reference cycle (its statements
are built once, at import): a socket's life stays free of cyclic garbage (web/gc_policy.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduling.db import write_tx
from scheduling.errors import DomainError
from scheduling.join_window import window_times
from scheduling.model import JoinPolicy
from scheduling.schema import attendance, chats, rooms_opened, webhook_endpoints
from scheduling.store_chats import SETTLE_BATCH, ChatRecord, ended_unsettled, settle_chats
from scheduling.store_events import join_terms
from scheduling.store_webhooks import record_many
from scheduling.webhook_payloads import (
    EventType,
    ParticipantPayload,
    Payload,
    RoomPayload,
    SideName,
)

log = logging.getLogger("duet.rooms.attendance")


FLUSH_EVERY_S = 1.0

LeftReason = Literal["left", "timeout"]
Reason = Literal["joined", "left", "timeout"]  # a `participant` payload's `reason`

Times = dict[tuple[str, str], tuple[datetime, datetime]]  # (chat, user) -> (first, last join)
Entry = tuple[str, str, datetime, Reason]  # (chat, user, at, what happened)


@dataclass(slots=True)
class Pending:
    """What is not written yet: the join times per person, and each entry into a room (a join
    that was not a resume within the grace) and each seat emptied for good, for their
    `participant.joined` and `participant.left` webhooks, in the order they happened."""

    times: Times = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.times or self.entries)


class JoinBuffer:
    """Joins and leaves waiting for one batched write; flushed `FLUSH_EVERY_S` after the first
    one, or at once for a room about to close (`write_now`)."""

    def __init__(self, engine: AsyncEngine, flush_every_s: float = FLUSH_EVERY_S) -> None:
        self.engine = engine
        self.flush_every_s = flush_every_s
        self._pending = Pending()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._again = False  # asked to write while a flush was running: one more after it
        # Held while rows are out of `_pending` but not committed yet (by a flush, or by the
        # settler writing them in its own transaction), so nobody settles without them.
        self.lock = asyncio.Lock()

    def add(self, chat_id: str, user_id: str, now: datetime, *, entered: bool = False) -> None:
        """A join; `entered` when the person was not in the room (not a resume or another tab)."""
        times = self._pending.times
        first, _ = times.get((chat_id, user_id), (now, now))
        times[(chat_id, user_id)] = (first, now)
        if entered:
            self._pending.entries.append((chat_id, user_id, now, "joined"))
        self._schedule()

    def left(
        self,
        chat_id: str,
        user_id: str,
        reason: LeftReason,
        now: datetime,
        *,
        write_now: bool = False,
    ) -> None:
        """A seat emptied for good (`participant.left`), written after that person's join
        (an earlier entry of this buffer, or a batch already written)."""
        self._pending.entries.append((chat_id, user_id, now, reason))
        if write_now:
            self._start()
        else:
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.flush_every_s, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._start()

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_logged(), name="attendance-flush")
        else:
            self._again = True

    async def _flush_logged(self) -> None:
        again = True
        while again:
            self._again = False
            try:
                await self.flush()
            except Exception:
                pending = self._pending
                log.exception(
                    "could not record %d joins and %d entries or leaves; retrying",
                    len(pending.times),
                    len(pending.entries),
                )
                if self._pending:
                    self._schedule()
                return
            again = self._again

    async def flush(self) -> None:
        """Write everything pending in one transaction; on failure it stays pending."""
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
        batch, self._pending = self._pending, Pending()
        return batch

    def restore(self, batch: Pending) -> None:
        """Put back what a failed write took, keeping the times of joins added meanwhile."""
        times = self._pending.times
        for key, (first, last) in batch.times.items():
            newer = times.get(key)
            times[key] = (first, last if newer is None else newer[1])
        self._pending.entries[:0] = batch.entries

    async def idle(self) -> None:
        """Wait for the write in flight (if any) to end, however it ends."""
        if self._task is not None and not self._task.done():
            with contextlib.suppress(Exception):
                await self._task

    async def close(self) -> None:
        """Flush what is left (shutdown); the buffer takes no more joins after this."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.idle()
        await self.flush()


# Built once: building a statement makes reference cycles (an upsert's `excluded` alias, an
# `in_` list's bind parameters), which a flush per second would leave for the collector.
def _attendance_upsert(
    insert: Callable[[sa.Table], sqlite.Insert | postgresql.Insert],
) -> sqlite.Insert | postgresql.Insert:
    stmt = insert(attendance)
    return stmt.on_conflict_do_update(
        index_elements=[attendance.c.chat_id, attendance.c.user_id],
        set_={"last_seen_at": stmt.excluded.last_seen_at},
    )


_UPSERT_SQLITE = _attendance_upsert(sqlite.insert)
_UPSERT_POSTGRESQL = _attendance_upsert(postgresql.insert)
# Claiming a room's `room.opened`: the transaction whose row goes in sends it. Two nodes that
# write the two people's first joins in the same second both read "nobody came yet"; the
# second insert waits for the first transaction and then inserts nothing.
_CLAIM_OPENED_SQLITE = (
    sqlite.insert(rooms_opened).on_conflict_do_nothing().returning(rooms_opened.c.chat_id)
)
_CLAIM_OPENED_POSTGRESQL = (
    postgresql.insert(rooms_opened).on_conflict_do_nothing().returning(rooms_opened.c.chat_id)
)
# The chats some enabled webhook endpoint of their fair listens to, and whether someone had
# entered each (read before the batch's joins are written).
_LISTENED_ROOMS = sa.select(
    chats.c.id,
    chats.c.event_id,
    chats.c.employee_id,
    sa.exists().where(attendance.c.chat_id == chats.c.id).label("came"),
).where(
    chats.c.id.in_(sa.bindparam("chat_ids", expanding=True)),
    sa.exists().where(
        webhook_endpoints.c.event_id == chats.c.event_id, webhook_endpoints.c.enabled.is_(True)
    ),
)


async def _upsert(conn: AsyncConnection, batch: Pending) -> None:
    """First join kept, last join updated, for many rows at once; and in the same transaction
    the webhooks of the entries and leaves, in order: `room.opened` for a chat nobody had
    entered before, `participant.joined`, `participant.left` (one statement more when no
    endpoint wants them)."""
    rooms = await _listened_rooms(conn, batch.entries) if batch.entries else {}
    if batch.times:
        upsert = _UPSERT_POSTGRESQL if conn.dialect.name == "postgresql" else _UPSERT_SQLITE
        rows = [
            {"chat_id": c, "user_id": u, "first_joined_at": first, "last_seen_at": last}
            for (c, u), (first, last) in batch.times.items()
        ]
        await conn.execute(upsert, rows)
    if rooms:
        await _record_entries(conn, batch.entries, rooms)


@dataclass(slots=True)
class _Room:
    event_id: str
    employee_id: str
    opened: bool  # someone had entered it before this batch


async def _listened_rooms(conn: AsyncConnection, entries: Sequence[Entry]) -> dict[str, _Room]:
    chat_ids = sorted({chat_id for chat_id, _, _, _ in entries})
    rows = await conn.execute(_LISTENED_ROOMS, {"chat_ids": chat_ids})
    return {row.id: _Room(row.event_id, row.employee_id, bool(row.came)) for row in rows}


async def _claim_opened(
    conn: AsyncConnection, entries: Sequence[Entry], rooms: dict[str, _Room]
) -> set[str]:
    """The rooms whose `room.opened` this transaction sends (see `_CLAIM_OPENED_SQLITE`)."""
    first: dict[str, datetime] = {}
    for chat_id, _, at, reason in entries:
        room = rooms.get(chat_id)
        if reason == "joined" and room is not None and not room.opened:
            first.setdefault(chat_id, at)
    if not first:
        return set()
    claim = _CLAIM_OPENED_POSTGRESQL if conn.dialect.name == "postgresql" else _CLAIM_OPENED_SQLITE
    rows = [{"chat_id": c, "opened_at": first[c]} for c in sorted(first)]  # one lock order
    return set((await conn.execute(claim, rows)).scalars())


async def _record_entries(
    conn: AsyncConnection, entries: Sequence[Entry], rooms: dict[str, _Room]
) -> None:
    hooks: list[tuple[EventType, str, Payload]] = []
    claimed = await _claim_opened(conn, entries, rooms)
    for chat_id, user_id, at, reason in entries:
        room = rooms.get(chat_id)
        if room is None:
            continue
        # The first entry into a room nobody had entered: `room.opened`, unless another
        # node's transaction claimed it first.
        if reason == "joined" and not room.opened:
            room.opened = True
            if chat_id in claimed:
                opened = RoomPayload(chat_id=chat_id, event_id=room.event_id, at=at)
                hooks.append((EventType.ROOM_OPENED, chat_id, opened))
        side: SideName = "employee" if user_id == room.employee_id else "participant"
        person = ParticipantPayload(
            chat_id=chat_id,
            event_id=room.event_id,
            user_id=user_id,
            side=side,
            at=at,
            reason=reason,
        )
        kind = EventType.PARTICIPANT_JOINED if reason == "joined" else EventType.PARTICIPANT_LEFT
        hooks.append((kind, chat_id, person))
    await record_many(conn, hooks, now=max(at for _, _, at, _ in entries))


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
