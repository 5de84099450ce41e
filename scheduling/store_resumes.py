"""Storage of participants' résumés: one PDF each, in the database so every node serves it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.db import insert_or
from scheduling.schema import resumes


@dataclass(frozen=True, slots=True)
class ResumeInfo:
    filename: str
    size: int
    pages: int
    uploaded_at: datetime


async def save_resume(
    conn: AsyncConnection, user_id: str, filename: str, content: bytes, pages: int, now: datetime
) -> ResumeInfo:
    """Store or replace the participant's résumé (checked by `resume_rules.check_pdf`)."""
    values = {
        "filename": filename,
        "size": len(content),
        "pages": pages,
        "content": content,
        "uploaded_at": now,
    }
    insert = insert_or(conn, resumes).values(user_id=user_id, **values)
    await conn.execute(
        insert.on_conflict_do_update(
            index_elements=[resumes.c.user_id], set_={k: insert.excluded[k] for k in values}
        )
    )
    return ResumeInfo(filename, len(content), pages, now)


async def delete_resume(conn: AsyncConnection, user_id: str) -> bool:
    result = await conn.execute(resumes.delete().where(resumes.c.user_id == user_id))
    return bool(result.rowcount)


async def resume_info(conn: AsyncConnection, user_id: str) -> ResumeInfo | None:
    row = (
        await conn.execute(
            sa.select(
                resumes.c.filename, resumes.c.size, resumes.c.pages, resumes.c.uploaded_at
            ).where(resumes.c.user_id == user_id)
        )
    ).first()
    return None if row is None else ResumeInfo(row[0], row[1], row[2], row[3])


async def resume_file(conn: AsyncConnection, user_id: str) -> tuple[str, bytes] | None:
    """(filename, bytes) of the participant's résumé, if any."""
    row = (
        await conn.execute(
            sa.select(resumes.c.filename, resumes.c.content).where(resumes.c.user_id == user_id)
        )
    ).first()
    return None if row is None else (row[0], bytes(row[1]))


async def resume_holders(conn: AsyncConnection, user_ids: Iterable[str]) -> set[str]:
    """Which of these people have a résumé (for the links on an employee's chat cards)."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return set()
    rows = await conn.execute(sa.select(resumes.c.user_id).where(resumes.c.user_id.in_(wanted)))
    return set(rows.scalars())
