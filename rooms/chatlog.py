"""The chat panel's log: stored before acknowledged, numbered per chat, de-duplicated by client id.

A message is written in one write transaction that also allocates its `seq`, serialised per chat
(`scheduling.db.serialize_on`: SQLite's write lock, a PostgreSQL advisory lock), so two nodes
writing to one chat never hand out the same number nor skip one (and the UNIQUE key would refuse
a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduling.db import read_tx, serialize_on, write_tx
from scheduling.schema import chat_messages

HISTORY_LIMIT = 5000


@dataclass(frozen=True, slots=True)
class StoredMessage:
    seq: int
    client_msg_id: str
    sender_id: str
    text: str
    sent_at: datetime
    duplicate: bool = False


async def append(
    engine: AsyncEngine, chat_id: str, sender_id: str, client_msg_id: str, text: str, now: datetime
) -> StoredMessage:
    """Store a message (or find its earlier copy); returns it with its `seq`."""
    async with write_tx(engine) as conn:
        await serialize_on(conn, "chat_messages", chat_id)
        existing = (
            (
                await conn.execute(
                    sa.select(chat_messages).where(
                        chat_messages.c.chat_id == chat_id,
                        chat_messages.c.sender_id == sender_id,
                        chat_messages.c.client_msg_id == client_msg_id,
                    )
                )
            )
            .mappings()
            .first()
        )
        if existing is not None:
            return StoredMessage(
                existing["seq"],
                client_msg_id,
                sender_id,
                existing["text"],
                existing["sent_at"],
                duplicate=True,
            )
        seq = await last_seq_in(conn, chat_id) + 1
        await conn.execute(
            chat_messages.insert().values(
                chat_id=chat_id,
                seq=seq,
                sender_id=sender_id,
                client_msg_id=client_msg_id,
                text=text,
                sent_at=now,
            )
        )
    return StoredMessage(seq, client_msg_id, sender_id, text, now)


async def since(
    engine: AsyncEngine, chat_id: str, after_seq: int
) -> tuple[list[StoredMessage], int]:
    """Messages with seq > after_seq (all if after_seq is beyond the end), and the last seq."""
    async with read_tx(engine) as conn:
        return await since_in(conn, chat_id, after_seq)


async def since_in(
    conn: AsyncConnection, chat_id: str, after_seq: int
) -> tuple[list[StoredMessage], int]:
    """`since` inside the caller's transaction (a join reads its chat and history together).

    Usually one query: the rows after `after_seq` end at the last seq, unless the limit cut them
    or there are none and the client claims a seq we may not have; only then ask for the max.
    """
    rows = await _after(conn, chat_id, after_seq)
    if rows and len(rows) < HISTORY_LIMIT:
        return rows, rows[-1].seq
    if not rows and after_seq == 0:
        return [], 0
    last = await last_seq_in(conn, chat_id)
    if after_seq > last:
        rows = await _after(conn, chat_id, 0)
    return rows, last


async def last_seq_in(conn: AsyncConnection, chat_id: str) -> int:
    """The chat log's last sequence number (0 for an empty log)."""
    last = (
        await conn.execute(
            sa.select(sa.func.max(chat_messages.c.seq)).where(chat_messages.c.chat_id == chat_id)
        )
    ).scalar()
    return int(last or 0)


async def _after(conn: AsyncConnection, chat_id: str, after_seq: int) -> list[StoredMessage]:
    rows = (
        (
            await conn.execute(
                sa.select(chat_messages)
                .where(chat_messages.c.chat_id == chat_id, chat_messages.c.seq > after_seq)
                .order_by(chat_messages.c.seq)
                .limit(HISTORY_LIMIT)
            )
        )
        .mappings()
        .all()
    )
    return [
        StoredMessage(r["seq"], r["client_msg_id"], r["sender_id"], r["text"], r["sent_at"])
        for r in rows
    ]
