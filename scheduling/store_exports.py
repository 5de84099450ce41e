"""The chats of an event as rows for CSV exports, read in batches through a server-side cursor.

An export of 50,000 chats must not be loaded into memory at once: `export_batches` streams the
query (`AsyncConnection.stream`: asyncpg's cursor on PostgreSQL, a stepped statement on SQLite)
and hands over `BATCH` rows at a time, each already turned into the export's cells.

The call-quality summary is another module's (the live board's): it plugs in as a
`CallQuality` source that answers, per batch of chat ids, the extra cells of its `columns`.
`CALL_QUALITY_COLUMNS` reads the summaries the clients' `stats` built (docs/live.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.schema import (
    attendance,
    chat_feedback,
    chat_marks,
    chats,
    companies,
    participant_notes,
    users,
)
from scheduling.store_quality import summaries_in

BATCH = 1000

Cell = str | int | None


class CallQuality(Protocol):
    """A source of call-quality cells for the organizer's export (the live board's summary).

    `columns` names its cells; `cells` answers, for one batch of chat ids, each chat's cells in
    that order (a chat it knows nothing about may be left out: its cells stay empty). It runs
    in the export's read transaction, on the export's connection, between two batches."""

    @property
    def columns(self) -> tuple[str, ...]: ...

    async def cells(
        self, conn: AsyncConnection, chat_ids: Sequence[str]
    ) -> Mapping[str, Sequence[Cell]]: ...


_VERDICT_ORDER = ("good", "fair", "poor")


@dataclass(frozen=True)
class _StoredCallQuality:
    """The call's figures from the summaries the clients' `stats` built (table
    `call_quality`): the worse verdict of the two people, the worse median round trip and
    loss, and the route (`relay`/`srflx`/`host` candidate pair, `relay_mode` through Duet).
    A chat nobody measured has empty cells."""

    columns: tuple[str, ...] = ("call_quality", "call_rtt_ms_median", "call_loss_pct", "call_route")

    async def cells(
        self, conn: AsyncConnection, chat_ids: Sequence[str]
    ) -> Mapping[str, Sequence[Cell]]:
        found: dict[str, Sequence[Cell]] = {}
        for chat_id, by_user in (await summaries_in(conn, chat_ids)).items():
            sides = list(by_user.values())
            verdicts = [s.get("verdict") for s in sides if s.get("verdict") in _VERDICT_ORDER]
            worst = max(verdicts, key=_VERDICT_ORDER.index) if verdicts else "unknown"
            rtts = [
                s["rtt_ms"]["median"]
                for s in sides
                if (s.get("rtt_ms") or {}).get("median") is not None
            ]
            losses = [
                s["loss"]["median"]
                for s in sides
                if (s.get("loss") or {}).get("median") is not None
            ]
            route = (
                "duet"
                if any(s.get("relay_mode") for s in sides)
                else "turn"
                if any(s.get("pair") == "relay" for s in sides)
                else "direct"
                if any(s.get("pair") for s in sides)
                else ""
            )
            found[chat_id] = (
                worst,
                round(max(rtts)) if rtts else None,
                f"{max(losses) * 100:.1f}" if losses else None,
                route,
            )
        return found


CALL_QUALITY_COLUMNS: CallQuality = _StoredCallQuality()

_employee = users.alias("export_employee")
_participant = users.alias("export_participant")
_seen_employee = attendance.alias("seen_employee")
_seen_participant = attendance.alias("seen_participant")

# The columns both exports share, in order; then each adds its own.
COMMON_COLUMNS = (
    "chat_id",
    "state",
    "company_id",
    "company_name",
    "employee_id",
    "employee_name",
    "participant_id",
    "participant_name",
    "initiator",
    "slot_starts_at",
    "slot_ends_at",
    "employee_joined_at",
    "employee_left_at",
    "participant_joined_at",
    "participant_left_at",
    "absent",
    "marked_no_show",
)
ORGANIZER_COLUMNS = (*COMMON_COLUMNS, "feedback_score")
COMPANY_COLUMNS = (*COMMON_COLUMNS, "notes", "rating", "next_step")


def _common() -> sa.Select[tuple[object, ...]]:
    return (
        sa.select(
            chats.c.id,
            chats.c.state,
            chats.c.company_id,
            companies.c.name,
            chats.c.employee_id,
            _employee.c.name,
            chats.c.participant_id,
            _participant.c.name,
            chats.c.initiator,
            chats.c.starts_at,
            chats.c.ends_at,
            _seen_employee.c.first_joined_at,
            _seen_employee.c.last_seen_at,
            _seen_participant.c.first_joined_at,
            _seen_participant.c.last_seen_at,
            chats.c.no_show_side,
            chat_marks.c.participant_no_show,
        )
        .select_from(chats)
        .join(companies, companies.c.id == chats.c.company_id)
        .join(_employee, _employee.c.id == chats.c.employee_id)
        .join(_participant, _participant.c.id == chats.c.participant_id)
        .outerjoin(
            _seen_employee,
            sa.and_(
                _seen_employee.c.chat_id == chats.c.id,
                _seen_employee.c.user_id == chats.c.employee_id,
            ),
        )
        .outerjoin(
            _seen_participant,
            sa.and_(
                _seen_participant.c.chat_id == chats.c.id,
                _seen_participant.c.user_id == chats.c.participant_id,
            ),
        )
        .outerjoin(chat_marks, chat_marks.c.chat_id == chats.c.id)
        .order_by(chats.c.created_at, chats.c.id)
    )


def organizer_query(event_id: str) -> sa.Select[tuple[object, ...]]:
    """Every chat of the event, with the feedback score (organizers only)."""
    return (
        _common()
        .add_columns(chat_feedback.c.score)
        .outerjoin(chat_feedback, chat_feedback.c.chat_id == chats.c.id)
        .where(chats.c.event_id == event_id)
    )


def company_query(event_id: str, company_id: str) -> sa.Select[tuple[object, ...]]:
    """The company's own chats of the event, with its notes on each participant."""
    return (
        _common()
        .add_columns(
            participant_notes.c.notes, participant_notes.c.rating, participant_notes.c.next_step
        )
        .outerjoin(
            participant_notes,
            sa.and_(
                participant_notes.c.event_id == chats.c.event_id,
                participant_notes.c.company_id == chats.c.company_id,
                participant_notes.c.participant_id == chats.c.participant_id,
            ),
        )
        .where(chats.c.event_id == event_id, chats.c.company_id == company_id)
    )


def _cell(value: object) -> Cell:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return value
    return str(value)


async def export_batches(
    conn: AsyncConnection, query: sa.Select[tuple[object, ...]], quality: CallQuality | None = None
) -> AsyncIterator[list[list[Cell]]]:
    """The query's rows as lists of cells, `BATCH` at a time; with `quality`, each row ends
    with that source's cells (empty where it has none)."""
    result = await conn.stream(query.execution_options(yield_per=BATCH))
    async for partition in result.partitions(BATCH):
        rows = [[_cell(v) for v in row] for row in partition]
        if quality is not None:
            found = await quality.cells(conn, [str(row[0]) for row in rows])
            blank: Sequence[Cell] = [None] * len(quality.columns)
            for row in rows:
                row.extend(found.get(str(row[0]), blank))
        yield rows
