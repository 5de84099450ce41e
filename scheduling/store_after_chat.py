"""Storage of what follows a chat: a company's notes per participant, no-show marks, and the
participant's feedback, with the organizer's per-company summary of it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.after_chat_rules import check_notes, shown_comments
from scheduling.db import insert_or
from scheduling.schema import chat_feedback, chat_marks, chats, participant_notes, users


@dataclass(frozen=True, slots=True)
class NotesRecord:
    participant_id: str
    participant_name: str
    notes: str
    rating: int | None
    next_step: str
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MarkRecord:
    chat_id: str
    participant_no_show: bool
    marked_by: str
    marked_at: datetime


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    chat_id: str
    score: int
    comment: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CompanyFeedback:
    company_id: str
    responses: int
    average: float | None
    scores: tuple[int, int, int, int, int]  # how many gave 1, 2, 3, 4, 5
    comments: tuple[str, ...]


async def save_notes(
    conn: AsyncConnection,
    *,
    event_id: str,
    company_id: str,
    participant_id: str,
    notes: str,
    rating: int | None,
    next_step: str,
    by: str,
    now: datetime,
) -> NotesRecord:
    """Write the company's notes on a participant it had a chat with at the event."""
    met = (
        await conn.execute(
            sa.select(chats.c.id)
            .where(
                chats.c.event_id == event_id,
                chats.c.company_id == company_id,
                chats.c.participant_id == participant_id,
            )
            .limit(1)
        )
    ).first() is not None
    notes = check_notes(notes, rating, next_step, met)
    values = {
        "notes": notes,
        "rating": rating,
        "next_step": next_step,
        "updated_by": by,
        "updated_at": now,
    }
    insert = insert_or(conn, participant_notes).values(
        event_id=event_id, company_id=company_id, participant_id=participant_id, **values
    )
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[
                participant_notes.c.event_id,
                participant_notes.c.company_id,
                participant_notes.c.participant_id,
            ],
            set_={k: insert.excluded[k] for k in values},
        )
    )
    found = await list_notes(conn, event_id, company_id, participant_id)
    return found[0]


async def list_notes(
    conn: AsyncConnection, event_id: str, company_id: str, participant_id: str | None = None
) -> list[NotesRecord]:
    q = (
        sa.select(participant_notes, users.c.name.label("participant_name"))
        .join(users, users.c.id == participant_notes.c.participant_id)
        .where(
            participant_notes.c.event_id == event_id,
            participant_notes.c.company_id == company_id,
        )
        .order_by(users.c.name, participant_notes.c.participant_id)
    )
    if participant_id is not None:
        q = q.where(participant_notes.c.participant_id == participant_id)
    return [
        NotesRecord(
            r["participant_id"],
            r["participant_name"],
            r["notes"],
            r["rating"],
            r["next_step"],
            r["updated_by"],
            r["updated_at"],
        )
        for r in (await conn.execute(q)).mappings()
    ]


async def set_mark(
    conn: AsyncConnection, chat_id: str, participant_no_show: bool, by: str, now: datetime
) -> MarkRecord:
    values = {"participant_no_show": participant_no_show, "marked_by": by, "marked_at": now}
    insert = insert_or(conn, chat_marks).values(chat_id=chat_id, **values)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[chat_marks.c.chat_id], set_={k: insert.excluded[k] for k in values}
        )
    )
    return MarkRecord(chat_id, participant_no_show, by, now)


async def company_marks(conn: AsyncConnection, event_id: str, company_id: str) -> list[MarkRecord]:
    rows = await conn.execute(
        sa.select(chat_marks)
        .join(chats, chats.c.id == chat_marks.c.chat_id)
        .where(chats.c.event_id == event_id, chats.c.company_id == company_id)
        .order_by(chat_marks.c.chat_id)
    )
    return [
        MarkRecord(r.chat_id, bool(r.participant_no_show), r.marked_by, r.marked_at) for r in rows
    ]


async def save_feedback(
    conn: AsyncConnection, chat_id: str, score: int, comment: str, now: datetime
) -> FeedbackRecord:
    """The participant's feedback on a chat; giving it again replaces it."""
    values = {"score": score, "comment": comment, "created_at": now}
    insert = insert_or(conn, chat_feedback).values(chat_id=chat_id, **values)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[chat_feedback.c.chat_id], set_={k: insert.excluded[k] for k in values}
        )
    )
    return FeedbackRecord(chat_id, score, comment, now)


async def get_feedback(conn: AsyncConnection, chat_id: str) -> FeedbackRecord | None:
    row = (
        await conn.execute(sa.select(chat_feedback).where(chat_feedback.c.chat_id == chat_id))
    ).first()
    return (
        None if row is None else FeedbackRecord(row.chat_id, row.score, row.comment, row.created_at)
    )


async def feedback_summary(conn: AsyncConnection, event_id: str) -> list[CompanyFeedback]:
    """Per company: how many answered, the average, the spread of scores, and the comments
    when enough people answered (`after_chat_rules.shown_comments`); never who said what."""
    rows = await conn.execute(
        sa.select(chats.c.company_id, chat_feedback.c.score, chat_feedback.c.comment)
        .join(chats, chats.c.id == chat_feedback.c.chat_id)
        .where(chats.c.event_id == event_id)
        .order_by(chats.c.company_id)
    )
    by_company: dict[str, list[tuple[int, str]]] = {}
    for company_id, score, comment in rows:
        by_company.setdefault(company_id, []).append((int(score), comment))
    return [_summary(company_id, answers) for company_id, answers in by_company.items()]


def _summary(company_id: str, answers: Iterable[tuple[int, str]]) -> CompanyFeedback:
    answers = list(answers)
    counts = [0] * 5
    for score, _comment in answers:
        counts[score - 1] += 1
    average = round(sum(s for s, _ in answers) / len(answers), 2) if answers else None
    return CompanyFeedback(
        company_id,
        len(answers),
        average,
        (counts[0], counts[1], counts[2], counts[3], counts[4]),
        tuple(shown_comments([c for _, c in answers])),
    )
