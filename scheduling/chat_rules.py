"""What a chat request needs, and what each change to it requires and writes.

`states.py` says which action leads where and who may take it; this module adds the rest of each
decision: who may see a chat, what a new request needs, that a decline says why, that approving
leaves every approved request a free slot, which slot a booking may take, and which fields of the
chat an action changes. Pure, with `now` a parameter: `store_chats.py` reads the facts these
functions ask for, then writes their answer with a compare-and-swap, and the database's
constraints and triggers settle whatever changed between that read and that write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from scheduling.errors import DomainError, ErrorKind
from scheduling.model import ChatState, Role, Side
from scheduling.quota import can_approve
from scheduling.states import Action, TransitionError, transition

MAX_TEXT = 2000


def clean_text(value: str, field: str) -> str:
    """A person's text without surrounding blanks, refused past `MAX_TEXT` characters."""
    value = value.strip()
    if len(value) > MAX_TEXT:
        raise DomainError(
            ErrorKind.INVALID, f"The {field} is limited to {MAX_TEXT} characters.", field=field
        )
    return value


def check_visible(exists: bool, role: Role, side: Side | None) -> None:
    """A chat is shown to its two people and to organizers; anyone else gets the answer a
    missing chat gets, so chat ids are not for probing."""
    if not exists or (role != Role.ORGANIZER and side is None):
        raise DomainError(ErrorKind.NOT_FOUND, "There is no such chat among yours.")


def check_new_request(
    initiator: Side,
    *,
    employee_role: Role | None,
    participant_role: Role | None,
    published: bool,
    employee_requests_allowed: bool,
) -> None:
    """A request goes from a participant to an employee who published their availability, or,
    where the event allows it, is an invitation from such an employee to a participant.

    `employee_role`/`participant_role` are the stored roles of the two ids (None: no such
    person); `published` is whether the employee confirmed their availability for the event.
    """
    if employee_role != Role.EMPLOYEE:
        raise DomainError(ErrorKind.NOT_FOUND, "There is no such employee.", field="employee_id")
    if participant_role != Role.PARTICIPANT:
        raise DomainError(
            ErrorKind.NOT_FOUND, "There is no such participant.", field="participant_id"
        )
    if initiator == Side.PARTICIPANT and not published:
        raise DomainError(
            ErrorKind.WRONG_STATE,
            "This employee has not confirmed their availability yet, so requests are not open.",
        )
    if initiator == Side.EMPLOYEE:
        if not employee_requests_allowed:
            raise DomainError(
                ErrorKind.FORBIDDEN, "This event does not let employees send requests."
            )
        if not published:
            raise DomainError(
                ErrorKind.WRONG_STATE, "Confirm your availability before sending requests."
            )


def check_action(
    state: ChatState, initiator: Side, action: Action, actor: Side, actor_in_chat: Side | None
) -> ChatState:
    """The state `action` leads to: a person must act on their own side of the chat
    (`actor_in_chat` is the side the acting person holds in it; the system acts for nobody),
    then the state machine decides."""
    if actor != Side.SYSTEM and actor_in_chat != actor:
        raise DomainError(ErrorKind.FORBIDDEN, "This chat is not yours to change.")
    try:
        return transition(state, action, actor, initiator)
    except TransitionError as exc:
        kind = ErrorKind.WRONG_STATE if exc.code == "wrong_state" else ErrorKind.FORBIDDEN
        raise DomainError(kind, exc.message, state=state.value) from exc


def action_text(action: Action, text: str) -> str:
    """The action's message or reason, cleaned; a decline must say why."""
    text = clean_text(text, "message")
    if action == Action.DECLINE and not text:
        raise DomainError(
            ErrorKind.INVALID,
            "Please add a short message when declining, for example pointing to a colleague or the booth.",
            field="message",
        )
    return text


def check_capacity(free_slots: int, approved_unscheduled: int) -> None:
    """Approving is refused while approved requests without a slot already promise every free
    future slot of the employee (`quota.can_approve`)."""
    if not can_approve(free_slots, approved_unscheduled):
        raise DomainError(
            ErrorKind.NO_FREE_SLOT,
            f"Ensure you have slots available: {free_slots} free slot(s) and "
            f"{approved_unscheduled} approved request(s) still waiting for one. "
            "Add slots before approving more.",
            free_slots=free_slots,
            approved_unscheduled=approved_unscheduled,
        )


@dataclass(frozen=True, slots=True)
class SlotOffer:
    """What the store read about the slot a chat is to be booked into."""

    id: int
    event_id: str
    employee_id: str
    published: bool
    starts_at: datetime
    ends_at: datetime
    taken: bool  # a chat holds it (this chat included)


def check_slot(
    slot_id: int | None, slot: SlotOffer | None, *, event_id: str, employee_id: str, now: datetime
) -> SlotOffer:
    """The slot a booking or a reschedule may take: one of the chat's employee's published
    slots in the event, not started yet and held by no chat. `slot` is None when no slot has
    `slot_id`."""
    if slot_id is None:
        raise DomainError(ErrorKind.INVALID, "Pick a slot.", field="slot_id")
    if slot is None or slot.employee_id != employee_id or slot.event_id != event_id:
        raise DomainError(
            ErrorKind.INVALID, "That slot is not one of this employee's slots.", field="slot_id"
        )
    if not slot.published:
        raise DomainError(ErrorKind.INVALID, "That slot is not offered yet.", field="slot_id")
    if slot.starts_at <= now:
        raise DomainError(
            ErrorKind.INVALID, "That slot has already started; pick a later one.", field="slot_id"
        )
    if slot.taken:
        raise DomainError(
            ErrorKind.SLOT_TAKEN,
            "That slot was just taken by someone else; please pick another one.",
        )
    return slot


def changed_fields(
    action: Action, text: str, ics_sequence: int, slot: SlotOffer | None = None
) -> dict[str, object]:
    """The chat's fields (by `ChatRecord` name) that `action` sets besides its state.

    A booking holds the slot and copies its times; a reschedule or a cancel also bumps the
    calendar sequence, so calendars replace the old entry (RFC 5546); a cancel frees the slot but
    keeps the times the chat had, for its history and the cancelling calendar entry.
    """
    if action == Action.DECLINE:
        return {"decline_message": text}
    if action in (Action.BOOK, Action.RESCHEDULE):
        if slot is None:
            raise ValueError(f"{action} needs the slot it takes")
        held = {"slot_id": slot.id, "starts_at": slot.starts_at, "ends_at": slot.ends_at}
        return held if action == Action.BOOK else held | {"ics_sequence": ics_sequence + 1}
    if action == Action.CANCEL:
        return {"cancel_reason": text, "slot_id": None, "ics_sequence": ics_sequence + 1}
    if action == Action.NO_SHOW:
        return {"no_show_side": text}
    return {}
