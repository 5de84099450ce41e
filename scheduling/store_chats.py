"""Storage of chat requests: every transition a compare-and-swap on the old state, with history.

The decisions are pure (`chat_rules.py`, `states.py`); this module reads the facts they ask for,
writes what they decide (claiming and freeing slots in the same transaction), and lets the
database's constraints and triggers settle races, mapping their refusals to domain errors.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from scheduling.booking_gap import check_gap
from scheduling.chat_rules import (
    SlotOffer,
    action_text,
    changed_fields,
    check_action,
    check_capacity,
    check_new_request,
    check_slot,
    check_visible,
    clean_text,
)
from scheduling.errors import DomainError, ErrorKind
from scheduling.model import ChatState, ChatView, Role, Side
from scheduling.schema import attendance, availabilities, chat_history, chats, events, slots, users
from scheduling.states import Action, Tab, states_in_tab
from scheduling.store_availability import free_slot_filter
from scheduling.store_events import EventRecord
from scheduling.store_integrity import from_integrity_error
from scheduling.store_mail import record_chat_mail
from scheduling.store_quality import summaries_in
from scheduling.store_webhooks import record, record_many
from scheduling.webhook_payloads import (
    CallQualityPayload,
    ChatPayload,
    EventType,
    Payload,
    RoomPayload,
    call_quality_side,
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a person on one side of the chat, or the system (room lifecycle)."""

    user_id: str
    side: Side


SYSTEM = Actor("system", Side.SYSTEM)


@dataclass(frozen=True, slots=True)
class ChatRecord:
    id: str
    event_id: str
    company_id: str
    employee_id: str
    employee_name: str
    participant_id: str
    participant_name: str
    initiator: Side
    state: ChatState
    slot_id: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    request_message: str
    answer: str
    decline_message: str
    cancel_reason: str
    no_show_side: str
    ics_sequence: int
    created_at: datetime
    updated_at: datetime

    @property
    def view(self) -> ChatView:
        return ChatView(self.state, self.starts_at, self.ends_at)

    def side_of(self, user_id: str) -> Side | None:
        if user_id == self.employee_id:
            return Side.EMPLOYEE
        if user_id == self.participant_id:
            return Side.PARTICIPANT
        return None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    actor_id: str
    actor_side: str
    action: str
    from_state: str | None
    to_state: str
    reason: str


_employee = users.alias("employee")
_participant = users.alias("participant")
chat_select = sa.select(
    chats, _employee.c.name.label("employee_name"), _participant.c.name.label("participant_name")
).select_from(
    chats.join(_employee, _employee.c.id == chats.c.employee_id).join(
        _participant, _participant.c.id == chats.c.participant_id
    )
)


def chat_record(row: Mapping[Any, Any]) -> ChatRecord:
    return ChatRecord(
        id=row["id"],
        event_id=row["event_id"],
        company_id=row["company_id"],
        employee_id=row["employee_id"],
        employee_name=row["employee_name"],
        participant_id=row["participant_id"],
        participant_name=row["participant_name"],
        initiator=Side(row["initiator"]),
        state=ChatState(row["state"]),
        slot_id=row["slot_id"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        request_message=row["request_message"],
        answer=row["answer"],
        decline_message=row["decline_message"],
        cancel_reason=row["cancel_reason"],
        no_show_side=row["no_show_side"],
        ics_sequence=row["ics_sequence"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


# The webhook each action sends (scheduling/store_webhooks.py), in the action's transaction.
_EVENT_OF = {
    Action.APPROVE: EventType.CHAT_APPROVED,
    Action.DECLINE: EventType.CHAT_DECLINED,
    Action.WITHDRAW: EventType.CHAT_WITHDRAWN,
    Action.BOOK: EventType.CHAT_CONFIRMED,
    Action.RESCHEDULE: EventType.CHAT_RESCHEDULED,
    Action.CANCEL: EventType.CHAT_CANCELLED,
    Action.COMPLETE: EventType.CHAT_COMPLETED,
    Action.NO_SHOW: EventType.CHAT_NO_SHOW,
}


def chat_payload(chat: ChatRecord, reason: str = "") -> ChatPayload:
    """The chat as a `chat.*` webhook tells it, after its change."""
    return ChatPayload(
        chat_id=chat.id,
        event_id=chat.event_id,
        company_id=chat.company_id,
        employee_id=chat.employee_id,
        participant_id=chat.participant_id,
        initiator="employee" if chat.initiator == Side.EMPLOYEE else "participant",
        state=chat.state.value,
        starts_at=chat.starts_at,
        ends_at=chat.ends_at,
        reason=reason,
        no_show_side=chat.no_show_side,
        sequence=chat.ics_sequence,
    )


async def get_chat(conn: AsyncConnection, chat_id: str) -> ChatRecord | None:
    row = (await conn.execute(chat_select.where(chats.c.id == chat_id))).mappings().first()
    return None if row is None else chat_record(row)


async def require_chat(conn: AsyncConnection, chat_id: str, user_id: str, role: Role) -> ChatRecord:
    """The chat, if this person may see it (its two members, or an organizer)."""
    chat = await get_chat(conn, chat_id)
    check_visible(chat is not None, role, None if chat is None else chat.side_of(user_id))
    assert chat is not None
    return chat


async def create_request(
    conn: AsyncConnection,
    event: EventRecord,
    *,
    employee_id: str,
    participant_id: str,
    initiator: Side,
    message: str,
    answer: str,
    now: datetime,
) -> ChatRecord:
    """A new request: from a participant to a published employee, or an employee's invitation."""
    people = {
        row.id: row
        for row in await conn.execute(
            sa.select(users.c.id, users.c.role, users.c.company_id).where(
                users.c.id.in_((employee_id, participant_id))
            )
        )
    }
    status = (
        await conn.execute(
            sa.select(availabilities.c.status).where(
                availabilities.c.event_id == event.id, availabilities.c.employee_id == employee_id
            )
        )
    ).scalar()
    employee, participant = people.get(employee_id), people.get(participant_id)
    check_new_request(
        initiator,
        employee_role=None if employee is None else Role(employee.role),
        participant_role=None if participant is None else Role(participant.role),
        published=status == "published",
        employee_requests_allowed=event.employee_requests_allowed,
    )
    assert employee is not None
    chat_id = uuid.uuid4().hex
    try:
        await conn.execute(
            chats.insert().values(
                id=chat_id,
                event_id=event.id,
                company_id=employee.company_id,
                employee_id=employee_id,
                participant_id=participant_id,
                initiator=initiator.value,
                state=ChatState.REQUESTED.value,
                request_message=clean_text(message, "message"),
                answer=clean_text(answer, "answer"),
                created_at=now,
                updated_at=now,
            )
        )
    except IntegrityError as exc:
        raise from_integrity_error(exc) from exc
    actor_id = participant_id if initiator == Side.PARTICIPANT else employee_id
    await _log(
        conn, chat_id, now, Actor(actor_id, initiator), "request", None, ChatState.REQUESTED, ""
    )
    chat = await get_chat(conn, chat_id)
    assert chat is not None
    await record(conn, EventType.CHAT_REQUESTED, chat.id, chat_payload(chat), now=now)
    await record_chat_mail(conn, chat, None, now, initiator)  # the mail outbox, in this tx
    return chat


async def _log(
    conn: AsyncConnection,
    chat_id: str,
    now: datetime,
    actor: Actor,
    action: str,
    old: ChatState | None,
    new: ChatState,
    reason: str,
) -> None:
    await conn.execute(
        chat_history.insert().values(
            chat_id=chat_id,
            at=now,
            actor_id=actor.user_id,
            actor_side=actor.side.value,
            action=action,
            from_state=None if old is None else old.value,
            to_state=new.value,
            reason=reason,
        )
    )


async def act(
    conn: AsyncConnection,
    chat: ChatRecord,
    action: Action,
    actor: Actor,
    now: datetime,
    *,
    text: str = "",
    slot_id: int | None = None,
) -> ChatRecord:
    """Apply one state-machine action as a compare-and-swap on the chat's current state."""
    new_state = check_action(
        chat.state, chat.initiator, action, actor.side, chat.side_of(actor.user_id)
    )
    text = action_text(action, text)
    slot: SlotOffer | None = None
    if action == Action.APPROVE:
        check_capacity(*await _free_and_approved(conn, chat, now))
    elif action in (Action.BOOK, Action.RESCHEDULE):
        found = None if slot_id is None else await _slot_offer(conn, slot_id)
        slot = check_slot(
            slot_id, found, event_id=chat.event_id, employee_id=chat.employee_id, now=now
        )
        await _check_gap(conn, chat, slot)
    values = {
        "state": new_state.value,
        "updated_at": now,
        **changed_fields(action, text, chat.ics_sequence, slot),
    }
    where = [chats.c.id == chat.id, chats.c.state == chat.state.value]
    where.append(
        chats.c.slot_id.is_(None) if chat.slot_id is None else chats.c.slot_id == chat.slot_id
    )
    try:
        result = await conn.execute(chats.update().where(*where).values(**values))
    except IntegrityError as exc:
        raise from_integrity_error(exc) from exc
    if result.rowcount != 1:
        raise DomainError(
            ErrorKind.WRONG_STATE, "This chat was changed meanwhile; reload and try again."
        )
    await _log(conn, chat.id, now, actor, action.value, chat.state, new_state, text)
    updated = await get_chat(conn, chat.id)
    assert updated is not None
    reason = text if action in (Action.DECLINE, Action.CANCEL) else ""
    if action == Action.CANCEL and await _room_opened(conn, chat.id):
        room = RoomPayload(chat_id=chat.id, event_id=chat.event_id, at=now)
        await record(conn, EventType.ROOM_CLOSED, chat.id, room, now=now)
    await record(conn, _EVENT_OF[action], chat.id, chat_payload(updated, reason), now=now)
    await record_chat_mail(conn, updated, action, now, actor.side)  # the mail outbox, in this tx
    return updated


async def _room_opened(conn: AsyncConnection, chat_id: str) -> bool:
    """Someone entered the chat's room (rooms/attendance.py writes who came)."""
    found = await conn.execute(
        sa.select(attendance.c.user_id).where(attendance.c.chat_id == chat_id).limit(1)
    )
    return found.first() is not None


async def _check_gap(conn: AsyncConnection, chat: ChatRecord, slot: SlotOffer) -> None:
    """The event's minimum gap against the participant's other booked chats of the event."""
    gap = (
        await conn.execute(sa.select(events.c.min_gap_min).where(events.c.id == chat.event_id))
    ).scalar()
    if not gap:
        return
    others = await conn.execute(
        sa.select(chats.c.starts_at, chats.c.ends_at).where(
            chats.c.event_id == chat.event_id,
            chats.c.participant_id == chat.participant_id,
            chats.c.slot_id.is_not(None),
            chats.c.id != chat.id,
        )
    )
    check_gap(slot.starts_at, slot.ends_at, [(r.starts_at, r.ends_at) for r in others], gap)


async def _free_and_approved(
    conn: AsyncConnection, chat: ChatRecord, now: datetime
) -> tuple[int, int]:
    """The employee's free future slots, and their approved requests still without one."""
    free = (
        await conn.execute(
            sa.select(sa.func.count()).where(
                slots.c.event_id == chat.event_id,
                slots.c.employee_id == chat.employee_id,
                *free_slot_filter(now),
            )
        )
    ).scalar_one()
    approved = (
        await conn.execute(
            sa.select(sa.func.count()).where(
                chats.c.event_id == chat.event_id,
                chats.c.employee_id == chat.employee_id,
                chats.c.state == ChatState.APPROVED.value,
            )
        )
    ).scalar_one()
    return int(free), int(approved)


async def _slot_offer(conn: AsyncConnection, slot_id: int) -> SlotOffer | None:
    taken = sa.exists().where(chats.c.slot_id == slots.c.id)
    row = (
        await conn.execute(sa.select(slots, taken.label("taken")).where(slots.c.id == slot_id))
    ).first()
    if row is None:
        return None
    return SlotOffer(
        id=row.id,
        event_id=row.event_id,
        employee_id=row.employee_id,
        published=bool(row.published),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        taken=bool(row.taken),
    )


async def list_chats(
    conn: AsyncConnection, user_id: str, role: Role, event_id: str | None, tab: Tab | None
) -> list[ChatRecord]:
    q = chat_select
    if role == Role.EMPLOYEE:
        q = q.where(chats.c.employee_id == user_id)
    elif role == Role.PARTICIPANT:
        q = q.where(chats.c.participant_id == user_id)
    if event_id is not None:
        q = q.where(chats.c.event_id == event_id)
    if tab is not None:
        q = q.where(chats.c.state.in_([s.value for s in states_in_tab(tab)]))
    q = q.order_by(sa.func.coalesce(chats.c.starts_at, chats.c.created_at), chats.c.created_at)
    return [chat_record(r) for r in (await conn.execute(q)).mappings().all()]


async def history(conn: AsyncConnection, chat_id: str) -> list[HistoryEntry]:
    rows = (
        (
            await conn.execute(
                sa.select(chat_history)
                .where(chat_history.c.chat_id == chat_id)
                .order_by(chat_history.c.id)
            )
        )
        .mappings()
        .all()
    )
    return [
        HistoryEntry(
            r["at"],
            r["actor_id"],
            r["actor_side"],
            r["action"],
            r["from_state"],
            r["to_state"],
            r["reason"],
        )
        for r in rows
    ]


SETTLE_BATCH = 500


async def ended_unsettled(
    conn: AsyncConnection, before: datetime, page: int = SETTLE_BATCH
) -> list[ChatRecord]:
    """Confirmed chats whose slot ended before `before`: to settle as completed or no-show.

    Read in pages of `page` rows, each awaited: when 5,000 rooms close at one instant,
    turning all their rows into records in one go held the event loop for tens of milliseconds
    (docs/performance.md, "The :00 join storm").
    """
    q = chat_select.where(chats.c.state == ChatState.CONFIRMED.value, chats.c.ends_at < before)
    found: list[ChatRecord] = []
    result = await conn.stream(q.order_by(chats.c.id).execution_options(yield_per=page))
    async for rows in result.mappings().partitions(page):
        found += [chat_record(r) for r in rows]
    return found


async def settle_chats(
    conn: AsyncConnection, outcomes: Sequence[tuple[ChatRecord, str]], now: datetime
) -> list[ChatRecord]:
    """Settle many confirmed chats at once: `outcomes` pairs each chat with who did not come
    ("" for completed; "employee", "participant" or "both" for a no-show). Returns the chats
    this call moved; one settled meanwhile by another node is skipped.

    The same rule and the same compare-and-swap as `act`, a few statements per
    SETTLE_BATCH chats instead of five per chat: 5,000 rooms close at the same instant at a
    fair, and one by one they took tens of seconds (docs/performance.md, "The :00 join storm").
    """
    settled: list[ChatRecord] = []
    for start in range(0, len(outcomes), SETTLE_BATCH):
        batch = outcomes[start : start + SETTLE_BATCH]
        by_missing: dict[str, list[ChatRecord]] = {}
        for chat, missing in batch:
            action = Action.NO_SHOW if missing else Action.COMPLETE
            check_action(chat.state, chat.initiator, action, SYSTEM.side, None)
            by_missing.setdefault(missing, []).append(chat)
        moved: dict[str, tuple[ChatRecord, str]] = {}
        for missing, group in by_missing.items():
            action = Action.NO_SHOW if missing else Action.COMPLETE
            new_state = check_action(group[0].state, group[0].initiator, action, SYSTEM.side, None)
            values = {
                "state": new_state.value,
                "updated_at": now,
                **changed_fields(action, missing, 0),
            }
            rows = await conn.execute(
                chats.update()
                .where(
                    # The slot too, as in `act`: a chat moved meanwhile is not this one.
                    sa.tuple_(chats.c.id, chats.c.slot_id).in_([(c.id, c.slot_id) for c in group]),
                    chats.c.state == ChatState.CONFIRMED.value,
                )
                .values(**values)
                .returning(chats.c.id)
            )
            done = set(rows.scalars())
            for chat in group:
                if chat.id in done:
                    moved[chat.id] = (chat, missing)
        if not moved:
            continue
        history: list[dict[str, object]] = []
        hooks: list[tuple[EventType, str, Payload]] = []
        for chat, missing in moved.values():
            action = Action.NO_SHOW if missing else Action.COMPLETE
            new_state = check_action(chat.state, chat.initiator, action, SYSTEM.side, None)
            history.append(
                {
                    "chat_id": chat.id,
                    "at": now,
                    "actor_id": SYSTEM.user_id,
                    "actor_side": SYSTEM.side.value,
                    "action": action.value,
                    "from_state": chat.state.value,
                    "to_state": new_state.value,
                    "reason": missing,
                }
            )
            done_chat = replace(
                chat, state=new_state, no_show_side=missing or chat.no_show_side, updated_at=now
            )
            settled.append(done_chat)
            if missing != "both":  # someone came, so the room had opened: it closes now
                hooks.append(
                    (
                        EventType.ROOM_CLOSED,
                        chat.id,
                        RoomPayload(chat_id=chat.id, event_id=chat.event_id, at=now),
                    )
                )
            hooks.append((_EVENT_OF[action], chat.id, chat_payload(done_chat)))
        # The call's quality summary, from what both clients measured (none: nobody sent any).
        came = [chat for chat, missing in moved.values() if missing != "both"]
        summaries = await summaries_in(conn, [chat.id for chat in came])
        for chat in came:
            by_user = summaries.get(chat.id, {})
            sides = (
                [call_quality_side(chat.employee_id, "employee", by_user[chat.employee_id])]
                if chat.employee_id in by_user
                else []
            )
            if chat.participant_id in by_user:
                summary = by_user[chat.participant_id]
                sides.append(call_quality_side(chat.participant_id, "participant", summary))
            if sides:
                quality = CallQualityPayload(
                    chat_id=chat.id, event_id=chat.event_id, ended_at=now, sides=sides
                )
                hooks.append((EventType.CALL_QUALITY, chat.id, quality))
        await conn.execute(chat_history.insert(), history)
        await record_many(conn, hooks, now=now)
    return settled
