"""What the join grant reads: a chat, its event's join terms and its chat log's last seq, in one
statement.

At :00 every person of a time slot asks for a grant within seconds, so this is the hottest read
of the REST API. Three lookups cost three statement builds and executions (on PostgreSQL three
round trips); one prebuilt SELECT by the chat's key costs one, and never caches a chat: a
cancel or a reschedule on any node shows in the next grant (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from scheduling.db import PointQuery, point_select
from scheduling.model import JoinPolicy
from scheduling.schema import chat_messages, chats, events
from scheduling.store_chats import ChatRecord, chat_record, chat_select
from scheduling.store_events import JoinTerms


@dataclass(frozen=True, slots=True)
class JoinFacts:
    chat: ChatRecord
    terms: JoinTerms
    history_seq: int  # the chat log's last sequence number (0 for an empty log)


_last_seq = (
    sa.select(sa.func.max(chat_messages.c.seq))
    .where(chat_messages.c.chat_id == chats.c.id)
    .scalar_subquery()
)
# Built once: building a Core statement per request cost more than running it (cProfile).
JOIN_FACTS = PointQuery(
    chat_select.add_columns(
        events.c.join_opens_before_s.label("join_opens_before_s"),
        events.c.join_grace_after_s.label("join_grace_after_s"),
        events.c.media_mode.label("media_mode"),
        events.c.support_url.label("support_url"),
        _last_seq.label("history_seq"),
    )
    .join_from(chats, events, events.c.id == chats.c.event_id)
    .where(chats.c.id == sa.bindparam("chat_id"))
)


async def join_facts(engine: AsyncEngine, chat_id: str) -> JoinFacts | None:
    """The chat's facts for a grant, or None for no such chat (its event goes with it)."""
    row = await point_select(engine, JOIN_FACTS, {"chat_id": chat_id})
    if row is None:
        return None
    return JoinFacts(
        chat_record(row),
        JoinTerms(
            JoinPolicy(row["join_opens_before_s"], row["join_grace_after_s"]),
            row["media_mode"],
            row["support_url"],
        ),
        int(row["history_seq"] or 0),
    )
