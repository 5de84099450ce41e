"""In-call Support requests: raised from the call page, answered by the organizer in the chat.

A request is stored before it is acknowledged; the organizer's answer is a chat message from
`SUPPORT_SENDER` in the chat's own log (both people see it, and it stays with the chat), and
marks the chat's open requests answered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.schema import support_requests

# The `sender_id` of the organizer's answers in the chat log: not a person's id, so the client
# shows them as "Support" (docs/live.md).
SUPPORT_SENDER: Final = "support"


@dataclass(frozen=True, slots=True)
class SupportRequest:
    id: str
    chat_id: str
    user_id: str
    text: str
    created_at: datetime
    answered_at: datetime | None = None
    answered_by: str | None = None


def _request(row: Any) -> SupportRequest:
    return SupportRequest(
        row.id,
        row.chat_id,
        row.user_id,
        row.text,
        row.created_at,
        row.answered_at,
        row.answered_by,
    )


async def raise_request(
    conn: AsyncConnection, chat_id: str, user_id: str, text: str, now: datetime
) -> SupportRequest:
    request = SupportRequest(uuid.uuid4().hex, chat_id, user_id, text, now)
    await conn.execute(
        support_requests.insert().values(
            id=request.id, chat_id=chat_id, user_id=user_id, text=text, created_at=now
        )
    )
    return request


async def latest_open(conn: AsyncConnection, chat_id: str, user_id: str) -> SupportRequest | None:
    """The person's latest unanswered request in the chat, if any."""
    row = (
        await conn.execute(
            sa.select(support_requests)
            .where(
                support_requests.c.chat_id == chat_id,
                support_requests.c.user_id == user_id,
                support_requests.c.answered_at.is_(None),
            )
            .order_by(support_requests.c.created_at.desc())
            .limit(1)
        )
    ).first()
    return None if row is None else _request(row)


async def requests_of(
    conn: AsyncConnection, chat_ids: list[str]
) -> dict[str, list[SupportRequest]]:
    """chat_id -> its requests, oldest first."""
    found: dict[str, list[SupportRequest]] = {}
    if not chat_ids:
        return found
    rows = await conn.execute(
        sa.select(support_requests)
        .where(support_requests.c.chat_id.in_(chat_ids))
        .order_by(support_requests.c.created_at, support_requests.c.id)
    )
    for row in rows:
        found.setdefault(row.chat_id, []).append(_request(row))
    return found


async def mark_answered(
    conn: AsyncConnection, chat_id: str, organizer_id: str, now: datetime
) -> int:
    """Every open request of the chat is answered now; how many were open."""
    result = await conn.execute(
        support_requests.update()
        .where(support_requests.c.chat_id == chat_id, support_requests.c.answered_at.is_(None))
        .values(answered_at=now, answered_by=organizer_id)
    )
    return int(result.rowcount or 0)
