"""Storage of the mail outbox: rows written in the transaction of the change that causes them,
reminders derived from the schedule, claiming under a lease, and each person's opt-outs.

A row's `payload` is a JSON snapshot of what its mail says (names, times in the recipient's
zone, messages), taken when it is written, so the worker renders the same mail on every try and
needs nothing else from the database. Who gets what and when is decided in `mail_rules.py`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.db import insert_or
from scheduling.join_window import iso_z, window_times
from scheduling.mail_rules import (
    GIVE_UP_AFTER,
    REMINDER_BEFORE,
    MailKind,
    backoff,
    due_reminders,
    mails_for,
    recipient_zone,
    reminder_still_due,
    waiting_side,
)
from scheduling.model import ChatState, JoinPolicy, Side
from scheduling.schema import (
    attendance,
    chats,
    companies,
    events,
    mail_deliveries,
    mail_opt_outs,
    users,
)
from scheduling.states import Action

if TYPE_CHECKING:
    from scheduling.store_chats import ChatRecord

# The longest a join window may open before its slot (event_rules: 3600 s), plus the reminder:
# a chat starting later than this from now has nothing due.
_LOOKAHEAD = timedelta(seconds=3600) + REMINDER_BEFORE


@dataclass(frozen=True, slots=True)
class Delivery:
    """One claimed outbox row, as the worker sends it."""

    id: int
    key: str
    message_id: str
    kind: MailKind
    chat_id: str | None
    user_id: str
    to_address: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class _ChatFacts:
    """What a mail about a chat says, read once per change or per round."""

    id: str
    initiator: Side
    state: ChatState
    starts_at: datetime | None
    ends_at: datetime | None
    request_message: str
    answer: str
    decline_message: str
    cancel_reason: str
    ics_sequence: int
    employee_id: str
    participant_id: str


def _facts(chat: ChatRecord) -> _ChatFacts:
    return _ChatFacts(
        chat.id,
        chat.initiator,
        chat.state,
        chat.starts_at,
        chat.ends_at,
        chat.request_message,
        chat.answer,
        chat.decline_message,
        chat.cancel_reason,
        chat.ics_sequence,
        chat.employee_id,
        chat.participant_id,
    )


async def record_chat_mail(
    conn: AsyncConnection,
    chat: ChatRecord,
    action: Action | None,
    now: datetime,
    actor: Side = Side.SYSTEM,
) -> int:
    """Write the mails a change of `chat` causes (`action` None: a new request), in the caller's
    transaction, so the change and its mails commit or roll back together. Returns how many."""
    wanted = mails_for(action, chat.initiator)
    if not wanted:
        return 0
    context = await _context(
        conn, chat.event_id, chat.company_id, chat.employee_id, chat.participant_id
    )
    facts = _facts(chat)
    rows = []
    for side, kind in wanted:
        key = f"{kind.value}:{chat.id}:{uuid.uuid4().hex}"
        row = _row(kind, side, facts, context, now, key, actor)
        if row is not None:
            rows.append(row)
    rows = await _without_opt_outs(conn, rows)
    if rows:
        await conn.execute(mail_deliveries.insert(), rows)
    return len(rows)


@dataclass(frozen=True, slots=True)
class _Context:
    event: dict[str, Any]
    company_name: str
    people: dict[str, dict[str, Any]]  # user id -> users row


async def _context(
    conn: AsyncConnection, event_id: str, company_id: str, *user_ids: str
) -> _Context:
    # The event's row and the company's name in one statement: each costs a round trip.
    company_name = sa.select(companies.c.name).where(companies.c.id == company_id)
    row = (
        (
            await conn.execute(
                sa.select(
                    events.c.name,
                    events.c.timezone,
                    events.c.join_opens_before_s,
                    events.c.join_grace_after_s,
                    company_name.scalar_subquery().label("company_name"),
                ).where(events.c.id == event_id)
            )
        )
        .mappings()
        .one()
    )
    event = {k: v for k, v in row.items() if k != "company_name"}
    company = row["company_name"]
    people = {
        row["id"]: dict(row)
        for row in (await conn.execute(sa.select(users).where(users.c.id.in_(user_ids))))
        .mappings()
        .all()
    }
    return _Context(event, company or company_id, people)


def _person(row: dict[str, Any]) -> dict[str, str]:
    return {"id": row["id"], "name": row["name"], "email": row["email"]}


def _row(
    kind: MailKind,
    side: Side,
    chat: _ChatFacts,
    context: _Context,
    now: datetime,
    key: str,
    actor: Side = Side.SYSTEM,
) -> dict[str, Any] | None:
    """One outbox row, or None when the recipient has no address."""
    employee = context.people[chat.employee_id]
    participant = context.people[chat.participant_id]
    recipient = employee if side == Side.EMPLOYEE else participant
    if not recipient["email"]:
        return None
    policy = JoinPolicy(context.event["join_opens_before_s"], context.event["join_grace_after_s"])
    opens_at = None
    if chat.starts_at is not None and chat.ends_at is not None:
        opens_at = window_times(chat.starts_at, chat.ends_at, policy).opens_at
    payload = {
        "kind": kind.value,
        "chat_id": chat.id,
        "event_name": context.event["name"],
        "event_timezone": context.event["timezone"],
        "zone": recipient_zone(recipient, context.event["timezone"]),
        "company": context.company_name,
        "recipient_side": side.value,
        "initiator": chat.initiator.value,
        "actor_side": actor.value,
        "employee": _person(employee),
        "participant": _person(participant),
        "state": chat.state.value,
        "sequence": chat.ics_sequence,
        "starts_at": iso_z(chat.starts_at),
        "ends_at": iso_z(chat.ends_at),
        "join_opens_at": iso_z(opens_at),
        "request_message": chat.request_message,
        "answer": chat.answer,
        "decline_message": chat.decline_message,
        "cancel_reason": chat.cancel_reason,
        "written_at": iso_z(now),
    }
    return {
        "key": key,
        "message_id": f"<{uuid.uuid4().hex}@duet.mail>",
        "kind": kind.value,
        "chat_id": chat.id,
        "user_id": recipient["id"],
        "to_address": recipient["email"],
        "payload": json.dumps(payload, separators=(",", ":")),
        "status": "pending",
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


async def _without_opt_outs(
    conn: AsyncConnection, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    if not rows:
        return rows
    off = {
        (r.user_id, r.kind)
        for r in await conn.execute(
            sa.select(mail_opt_outs.c.user_id, mail_opt_outs.c.kind).where(
                mail_opt_outs.c.user_id.in_({row["user_id"] for row in rows})
            )
        )
    }
    return [row for row in rows if (row["user_id"], row["kind"]) not in off]


async def due_mail(conn: AsyncConnection, now: datetime) -> list[dict[str, Any]]:
    """The reminders and "waiting for you" mails due at `now` and not written yet, derived from
    the confirmed chats as they are now: a moved chat's reminders follow it, a cancelled chat
    has none. Only reads (most rounds find nothing new), so on SQLite the scan does not hold
    the write lock; `write_due` writes what it found."""
    found = (
        (
            await conn.execute(
                sa.select(chats).where(
                    chats.c.state == ChatState.CONFIRMED.value,
                    chats.c.starts_at <= now + _LOOKAHEAD,
                    chats.c.ends_at > now,
                )
            )
        )
        .mappings()
        .all()
    )
    if not found:
        return []
    joined: dict[str, dict[str, datetime]] = {}
    for part in _chunks([c["id"] for c in found]):
        for row in await conn.execute(
            sa.select(
                attendance.c.chat_id, attendance.c.user_id, attendance.c.first_joined_at
            ).where(attendance.c.chat_id.in_(part))
        ):
            joined.setdefault(row.chat_id, {})[row.user_id] = row.first_joined_at
    policies: dict[str, JoinPolicy] = {}
    candidates: list[tuple[sa.RowMapping, _ChatFacts, MailKind, Side, str]] = []
    for chat_row in found:
        facts = _facts_of_row(chat_row)
        assert facts.starts_at is not None and facts.ends_at is not None
        event_id = chat_row["event_id"]
        if event_id not in policies:
            policies[event_id] = await _policy(conn, event_id)
        policy = policies[event_id]
        for due in due_reminders(facts.starts_at, facts.ends_at, policy, now):
            for side in (Side.EMPLOYEE, Side.PARTICIPANT):
                base = f"{due.kind.value}:{facts.id}:{iso_z(due.starts_at)}"
                candidates.append((chat_row, facts, due.kind, side, base))
        if window_times(facts.starts_at, facts.ends_at, policy).opens_at <= now:
            waiting = waiting_side(
                joined.get(facts.id, {}), facts.employee_id, facts.participant_id, now
            )
            if waiting is not None:
                candidates.append(
                    (chat_row, facts, MailKind.PEER_WAITING, waiting, f"peer_waiting:{facts.id}")
                )
    keyed = [
        (chat_row, facts, kind, side, f"{base}:{_user_of(facts, side)}")
        for chat_row, facts, kind, side, base in candidates
    ]
    # Most rounds find every due mail already written: look the keys up before building rows.
    existing: set[str] = set()
    for part in _chunks([k[-1] for k in keyed]):
        existing.update(
            (
                await conn.execute(
                    sa.select(mail_deliveries.c.key).where(mail_deliveries.c.key.in_(part))
                )
            ).scalars()
        )
    rows: list[dict[str, Any]] = []
    for chat_row, facts, kind, side, key in keyed:
        if key in existing:
            continue
        context = await _context(
            conn,
            chat_row["event_id"],
            chat_row["company_id"],
            facts.employee_id,
            facts.participant_id,
        )
        built = _row(kind, side, facts, context, now, key)
        if built is not None:
            rows.append(built)
    return await _without_opt_outs(conn, rows)


async def write_due(conn: AsyncConnection, rows: list[dict[str, Any]]) -> int:
    """Write rows from `due_mail`; each has a unique key (kind, chat, the start it is about,
    person), so every node may run a round at any time and each mail is written once. Returns
    how many were new."""
    new = 0
    for values in rows:
        result = await conn.execute(
            insert_or(conn, mail_deliveries)
            .values(values)
            .on_conflict_do_nothing(index_elements=[mail_deliveries.c.key])
        )
        new += result.rowcount or 0
    return new


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    """Bounded IN lists: both drivers cap a statement's parameters (~32k)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _user_of(facts: _ChatFacts, side: Side) -> str:
    return facts.employee_id if side == Side.EMPLOYEE else facts.participant_id


def _facts_of_row(row: sa.RowMapping) -> _ChatFacts:
    return _ChatFacts(
        row["id"],
        Side(row["initiator"]),
        ChatState(row["state"]),
        row["starts_at"],
        row["ends_at"],
        row["request_message"],
        row["answer"],
        row["decline_message"],
        row["cancel_reason"],
        row["ics_sequence"],
        row["employee_id"],
        row["participant_id"],
    )


async def _policy(conn: AsyncConnection, event_id: str) -> JoinPolicy:
    row = (
        await conn.execute(
            sa.select(events.c.join_opens_before_s, events.c.join_grace_after_s).where(
                events.c.id == event_id
            )
        )
    ).one()
    return JoinPolicy(row[0], row[1])


def _delivery(row: sa.RowMapping) -> Delivery:
    return Delivery(
        id=row["id"],
        key=row["key"],
        message_id=row["message_id"],
        kind=MailKind(row["kind"]),
        chat_id=row["chat_id"],
        user_id=row["user_id"],
        to_address=row["to_address"],
        payload=json.loads(row["payload"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
    )


def _claimable(now: datetime) -> list[sa.ColumnElement[bool]]:
    return [
        mail_deliveries.c.status == "pending",
        mail_deliveries.c.next_attempt_at <= now,
        sa.or_(mail_deliveries.c.lease_until.is_(None), mail_deliveries.c.lease_until <= now),
    ]


async def claim(
    conn: AsyncConnection, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[Delivery]:
    """Lease up to `limit` due rows to `owner` until now + `lease`: a compare-and-swap on the
    lease, so of two nodes claiming the same row one gets it (PostgreSQL re-checks the WHERE
    on a row another writer changed under READ COMMITTED; SQLite has one writer)."""
    ids = (
        (
            await conn.execute(
                sa.select(mail_deliveries.c.id)
                .where(*_claimable(now))
                .order_by(mail_deliveries.c.next_attempt_at, mail_deliveries.c.id)
                .limit(limit)
            )
        )
        .scalars()
        .all()
    )
    if not ids:
        return []
    rows = (
        (
            await conn.execute(
                mail_deliveries.update()
                .where(mail_deliveries.c.id.in_(ids), *_claimable(now))
                .values(lease_owner=owner, lease_until=now + lease)
                .returning(*mail_deliveries.c)
            )
        )
        .mappings()
        .all()
    )
    return sorted((_delivery(r) for r in rows), key=lambda d: d.id)


async def still_true(conn: AsyncConnection, delivery: Delivery, now: datetime) -> bool:
    """Whether a claimed mail may still go out: too old ones are given up, and a reminder or a
    "waiting" mail only while its chat is confirmed at the start it was written for."""
    if now - delivery.created_at > GIVE_UP_AFTER:
        return False
    if delivery.kind not in (MailKind.REMINDER, MailKind.JOIN_OPEN, MailKind.PEER_WAITING):
        return True
    row = (
        await conn.execute(
            sa.select(chats.c.state, chats.c.starts_at, chats.c.ends_at).where(
                chats.c.id == delivery.chat_id
            )
        )
    ).first()
    if row is None or row.state != ChatState.CONFIRMED.value:
        return False
    if iso_z(row.starts_at) != delivery.payload["starts_at"]:
        return False
    return reminder_still_due(delivery.kind, row.starts_at, row.ends_at, now)


async def _settle(conn: AsyncConnection, delivery: Delivery, owner: str, **values: Any) -> bool:
    result = await conn.execute(
        mail_deliveries.update()
        .where(
            mail_deliveries.c.id == delivery.id,
            mail_deliveries.c.lease_owner == owner,
            mail_deliveries.c.status == "pending",
        )
        .values(lease_owner=None, lease_until=None, **values)
    )
    return result.rowcount == 1


async def mark_sent(conn: AsyncConnection, delivery: Delivery, owner: str, now: datetime) -> bool:
    return await _settle(
        conn, delivery, owner, status="sent", sent_at=now, attempts=delivery.attempts + 1
    )


async def mark_dropped(conn: AsyncConnection, delivery: Delivery, owner: str, why: str) -> bool:
    return await _settle(conn, delivery, owner, status="dropped", last_error=why[:500])


async def mark_failed(
    conn: AsyncConnection, delivery: Delivery, owner: str, error: str, now: datetime
) -> bool:
    """Try again later: the wait grows with the attempts (`mail_rules.backoff`)."""
    attempts = delivery.attempts + 1
    return await _settle(
        conn,
        delivery,
        owner,
        attempts=attempts,
        next_attempt_at=now + backoff(attempts),
        last_error=error[:500],
    )


async def opt_outs(conn: AsyncConnection, user_id: str) -> set[MailKind]:
    rows = await conn.execute(
        sa.select(mail_opt_outs.c.kind).where(mail_opt_outs.c.user_id == user_id)
    )
    known = {k.value for k in MailKind}
    return {MailKind(k) for k in rows.scalars() if k in known}


async def set_opt_outs(conn: AsyncConnection, user_id: str, off: Iterable[MailKind]) -> None:
    """Replace the kinds `user_id` turned off (the user row must exist: `ensure_user`)."""
    await conn.execute(mail_opt_outs.delete().where(mail_opt_outs.c.user_id == user_id))
    kinds = sorted({k.value for k in off})
    if kinds:
        await conn.execute(mail_opt_outs.insert(), [{"user_id": user_id, "kind": k} for k in kinds])


async def deliveries_of(conn: AsyncConnection, chat_id: str) -> list[Delivery]:
    """Every outbox row of one chat, in order (for tests and operators)."""
    rows = (
        (
            await conn.execute(
                sa.select(mail_deliveries)
                .where(mail_deliveries.c.chat_id == chat_id)
                .order_by(mail_deliveries.c.id)
            )
        )
        .mappings()
        .all()
    )
    return [_delivery(r) for r in rows]


async def emails_of(conn: AsyncConnection, user_ids: Iterable[str]) -> dict[str, str]:
    """The known addresses of these people (none for those without one)."""
    rows = await conn.execute(
        sa.select(users.c.id, users.c.email).where(users.c.id.in_(list(user_ids)))
    )
    return {r.id: r.email for r in rows if r.email}
