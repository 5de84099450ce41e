"""Reading the call-quality summaries (table `call_quality`, written by rooms/quality_store.py).

Here, in the lowest layer, because settling a chat (scheduling/store_chats.py) writes the
`call.quality` webhook from them in its own transaction, and the live board and the exports
read them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.schema import call_quality


async def summaries_in(conn: AsyncConnection, chat_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """chat_id -> {user_id: summary dict} (rooms/call_quality.py `Summary.as_dict`)."""
    found: dict[str, dict[str, Any]] = {}
    if not chat_ids:
        return found
    rows = await conn.execute(
        sa.select(call_quality.c.chat_id, call_quality.c.user_id, call_quality.c.summary).where(
            call_quality.c.chat_id.in_(list(chat_ids))
        )
    )
    for chat_id, user_id, summary in rows:
        found.setdefault(chat_id, {})[user_id] = summary
    return found
