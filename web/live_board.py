"""One organizer's live board of one event: today's chats as rows, kept current by news.

The facts of each chat (people, times, state, Support requests, saved quality) come from the
database, the seats and latest verdicts from the broker's live records (rooms/live_feed.py); the
group of each row is rooms/board_rules.py's. `Board` is one stream's state: `load` builds the
snapshot, `apply` takes one piece of news and says which rows changed, `tick` regroups rows when
time alone moves them (a room opening, a chat past its no-show mark, a room closing).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from rooms.board_rules import BoardChat, Group, Seat, SeatState, group_of, next_change
from rooms.live_feed import LiveNews
from rooms.quality_store import summaries_in
from rooms.support_store import SupportRequest, requests_of
from rooms.timeline import from_ms
from scheduling.db import read_tx
from scheduling.join_window import window_times
from scheduling.schema import chats, companies, users
from scheduling.store_events import EventRecord
from web.json_io import iso

# Chats on the board: booked for today, and today's that were settled or cancelled since.
_ON_BOARD = ("confirmed", "completed", "no_show", "cancelled")
# Chats read again in one query.
READ_BATCH = 500


@dataclass(slots=True)
class Person:
    id: str
    name: str
    seat: Seat = field(default_factory=Seat)
    verdict: str = "unknown"  # the latest, live; or the call's, saved
    path: str = ""


@dataclass(slots=True)
class Row:
    chat: BoardChat
    ends_at: datetime
    company: str
    employee: Person
    participant: Person
    support: list[SupportRequest] = field(default_factory=list)
    group: Group = "next"

    def person(self, user_id: str) -> Person | None:
        if user_id == self.employee.id:
            return self.employee
        if user_id == self.participant.id:
            return self.participant
        return None

    def json(self) -> dict[str, Any]:
        paths = {p for p in (self.employee.path, self.participant.path) if p}
        media = "relay" if "relay" in paths else "turn" if "turn" in paths else None
        if media is None and "direct" in paths:
            media = "direct"
        return {
            "id": self.chat.chat_id,
            "state": self.chat.state,
            "group": self.group,
            "company": self.company,
            "opens_at": iso(self.chat.opens_at),
            "starts_at": iso(self.chat.starts_at),
            "ends_at": iso(self.ends_at),
            "closes_at": iso(self.chat.closes_at),
            "employee": _person(self.employee),
            "participant": _person(self.participant),
            # how media travels: "relay" (Duet's server), "turn" (a TURN relay), "direct"
            "media": media,
            "support": [_support(r) for r in self.support],
            "support_open": sum(r.answered_at is None for r in self.support),
        }


def _person(person: Person) -> dict[str, Any]:
    return {
        "id": person.id,
        "name": person.name,
        "seat": person.seat.state,
        "since": None if person.seat.since is None else iso(person.seat.since),
        "verdict": person.verdict,
    }


def _support(request: SupportRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "user_id": request.user_id,
        "text": request.text,
        "created_at": iso(request.created_at),
        "answered_at": None if request.answered_at is None else iso(request.answered_at),
    }


def today_bounds(event: EventRecord, now: datetime) -> tuple[datetime, datetime]:
    """Today in the event's zone, as an instant range."""
    day = now.astimezone(event.tz).date()
    start = datetime.combine(day, time(0), tzinfo=event.tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=event.tz)
    return start, end


class Board:
    def __init__(self, engine: AsyncEngine, event: EventRecord) -> None:
        self.engine = engine
        self.event = event
        self.rows: dict[str, Row] = {}

    async def load(self, now: datetime, latest: list[LiveNews]) -> None:
        start, end = today_bounds(self.event, now)
        self.rows = {
            row.chat.chat_id: row
            for row in await self._read((chats.c.starts_at >= start) & (chats.c.starts_at < end))
        }
        for news in sorted(latest, key=lambda n: n.at_ms):
            self._take(news)
        for row in self.rows.values():
            row.group = group_of(row.chat, now)

    def snapshot(self, now: datetime) -> dict[str, Any]:
        rows = sorted(self.rows.values(), key=lambda r: (r.chat.starts_at, r.chat.chat_id))
        return {
            "now": iso(now),
            "event": {
                "id": self.event.id,
                "name": self.event.name,
                "timezone": self.event.timezone,
            },
            "rows": [row.json() for row in rows],
        }

    async def apply(self, batch: list[LiveNews], now: datetime) -> list[Row]:
        """Take the news that arrived together; the rows they changed on this board. Chats to
        read again (booked, moved, settled, Support) are read in one query per batch: the
        rooms of one closing instant settle together, thousands at a fair."""
        stale = {
            n.chat_id for n in batch if n.kind in ("chat", "support") or n.chat_id not in self.rows
        }
        changed: dict[str, Row] = {}
        ids = sorted(stale)
        start, end = today_bounds(self.event, now)
        for at in range(0, len(ids), READ_BATCH):
            some = ids[at : at + READ_BATCH]
            found = {row.chat.chat_id: row for row in await self._read(chats.c.id.in_(some))}
            for chat_id in some:
                old, fresh = self.rows.get(chat_id), found.get(chat_id)
                if fresh is None or not start <= fresh.chat.starts_at < end:
                    if old is not None:  # moved to another day: gone from today's board
                        del self.rows[chat_id]
                        changed[chat_id] = replace(old, group="ended")
                    continue
                if old is not None:  # keep what the live news said of the seats
                    _carry(old, fresh)
                self.rows[chat_id] = changed[chat_id] = fresh
        for news in batch:
            if news.kind in ("seat", "quality") and news.chat_id in self.rows:
                self._take(news)
                changed[news.chat_id] = self.rows[news.chat_id]
        for chat_id, row in changed.items():
            if chat_id in self.rows:
                row.group = group_of(row.chat, now)
        return list(changed.values())

    def tick(self, now: datetime) -> list[Row]:
        """Rows whose group time alone changed."""
        moved = []
        for row in self.rows.values():
            group = group_of(row.chat, now)
            if group != row.group:
                row.group = group
                moved.append(row)
        return moved

    def next_change(self, now: datetime) -> datetime | None:
        return min(
            (t for row in self.rows.values() if (t := next_change(row.chat, now)) is not None),
            default=None,
        )

    def _take(self, news: LiveNews) -> None:
        row = self.rows.get(news.chat_id)
        person = None if row is None else row.person(news.user_id)
        if row is None or person is None:
            return
        if news.kind == "seat":
            state: SeatState = "absent"
            if news.value == "connected":
                state = "connected"
            elif news.value == "reconnecting":
                state = "reconnecting"
            person.seat = Seat(state, from_ms(news.at_ms))
            if person is row.employee:
                row.chat = replace(row.chat, employee=person.seat)
            else:
                row.chat = replace(row.chat, participant=person.seat)
        elif news.kind == "quality":
            person.verdict, person.path = news.value, news.path

    async def _read(self, where: Any) -> list[Row]:
        employee, participant = users.alias("employee"), users.alias("participant")
        query = (
            sa.select(
                chats.c.id,
                chats.c.state,
                chats.c.starts_at,
                chats.c.ends_at,
                chats.c.employee_id,
                chats.c.participant_id,
                employee.c.name.label("employee_name"),
                participant.c.name.label("participant_name"),
                companies.c.name.label("company_name"),
            )
            .join(employee, employee.c.id == chats.c.employee_id)
            .join(participant, participant.c.id == chats.c.participant_id)
            .join(companies, companies.c.id == chats.c.company_id)
            .where(
                chats.c.event_id == self.event.id,
                chats.c.state.in_(_ON_BOARD),
                chats.c.starts_at.is_not(None),
                where,
            )
        )
        async with read_tx(self.engine) as conn:
            found = (await conn.execute(query)).all()
            ids = [r.id for r in found]
            support = await requests_of(conn, ids)
            quality = await summaries_in(conn, ids)
        rows = []
        for r in found:
            window = window_times(r.starts_at, r.ends_at, self.event.join_policy)
            saved = quality.get(r.id, {})
            rows.append(
                Row(
                    BoardChat(r.id, r.state, window.opens_at, r.starts_at, window.closes_at),
                    r.ends_at,
                    r.company_name,
                    Person(r.employee_id, r.employee_name, verdict=_saved(saved, r.employee_id)),
                    Person(
                        r.participant_id,
                        r.participant_name,
                        verdict=_saved(saved, r.participant_id),
                    ),
                    support.get(r.id, []),
                )
            )
        return rows


def _carry(old: Row, fresh: Row) -> None:
    """A row read again keeps what live news said of its seats and verdicts."""
    fresh.chat = replace(fresh.chat, employee=old.chat.employee, participant=old.chat.participant)
    fresh.employee.seat, fresh.participant.seat = old.employee.seat, old.participant.seat
    for mine, theirs in ((fresh.employee, old.employee), (fresh.participant, old.participant)):
        if theirs.path:
            mine.verdict, mine.path = theirs.verdict, theirs.path


def _saved(summaries: dict[str, Any], user_id: str) -> str:
    summary = summaries.get(user_id)
    return "unknown" if not summary else str(summary.get("verdict", "unknown"))
