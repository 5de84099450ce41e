"""The decisions around a chat request (scheduling/chat_rules.py), table by table, at their edges.

The store reads the facts and writes the answer; everything a person can be refused for is
decided here, so each refusal is checked with its kind, its sentence and the field it names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scheduling.chat_rules import (
    MAX_TEXT,
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
from scheduling.model import ChatState, Role, Side
from scheduling.states import Action

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
E, P, SYS = Side.EMPLOYEE, Side.PARTICIPANT, Side.SYSTEM


def refusal(call: Callable[[], Any]) -> DomainError:
    with pytest.raises(DomainError) as refused:
        call()
    return refused.value


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", ""), ("  Hello \n", "Hello"), ("x" * MAX_TEXT, "x" * MAX_TEXT), (" " * 5000, "")],
)
def test_clean_text_strips_and_keeps_up_to_the_limit(text: str, expected: str) -> None:
    assert clean_text(text, "answer") == expected


def test_clean_text_refuses_past_the_limit_naming_the_field() -> None:
    error = refusal(lambda: clean_text(" " + "x" * (MAX_TEXT + 1), "answer"))
    assert error.kind is ErrorKind.INVALID and error.extra == {"field": "answer"}
    assert error.message == "The answer is limited to 2000 characters."


@pytest.mark.parametrize(
    ("exists", "role", "side", "visible"),
    [
        (True, Role.EMPLOYEE, E, True),
        (True, Role.PARTICIPANT, P, True),
        (True, Role.ORGANIZER, None, True),  # organizers see every chat
        (True, Role.EMPLOYEE, None, False),  # a colleague's chat
        (True, Role.PARTICIPANT, None, False),
        (False, Role.ORGANIZER, None, False),
        (False, Role.PARTICIPANT, None, False),
    ],
)
def test_check_visible(exists: bool, role: Role, side: Side | None, visible: bool) -> None:
    if visible:
        check_visible(exists, role, side)
        return
    error = refusal(lambda: check_visible(exists, role, side))
    # Missing and not yours read the same: chat ids are not for probing.
    assert (error.kind, error.message) == (
        ErrorKind.NOT_FOUND,
        "There is no such chat among yours.",
    )


# (initiator, employee role, participant role, published, employee requests allowed) -> refusal
NEW_REQUESTS: list[tuple[Side, Role | None, Role | None, bool, bool, Any]] = [
    (P, Role.EMPLOYEE, Role.PARTICIPANT, True, False, None),
    (E, Role.EMPLOYEE, Role.PARTICIPANT, True, True, None),
    (P, None, Role.PARTICIPANT, True, True, (ErrorKind.NOT_FOUND, "There is no such employee.")),
    (P, Role.PARTICIPANT, Role.PARTICIPANT, True, True, (ErrorKind.NOT_FOUND, "There is no such employee.")),
    (P, Role.ORGANIZER, Role.PARTICIPANT, True, True, (ErrorKind.NOT_FOUND, "There is no such employee.")),
    (E, Role.EMPLOYEE, None, True, True, (ErrorKind.NOT_FOUND, "There is no such participant.")),
    (E, Role.EMPLOYEE, Role.EMPLOYEE, True, True, (ErrorKind.NOT_FOUND, "There is no such participant.")),
    # Both missing: the employee is named first.
    (P, None, None, False, False, (ErrorKind.NOT_FOUND, "There is no such employee.")),
    (P, Role.EMPLOYEE, Role.PARTICIPANT, False, True, (
        ErrorKind.WRONG_STATE,
        "This employee has not confirmed their availability yet, so requests are not open.",
    )),
    (E, Role.EMPLOYEE, Role.PARTICIPANT, True, False, (
        ErrorKind.FORBIDDEN, "This event does not let employees send requests.",
    )),
    # Not allowed at all is said before "not yet published".
    (E, Role.EMPLOYEE, Role.PARTICIPANT, False, False, (
        ErrorKind.FORBIDDEN, "This event does not let employees send requests.",
    )),
    (E, Role.EMPLOYEE, Role.PARTICIPANT, False, True, (
        ErrorKind.WRONG_STATE, "Confirm your availability before sending requests.",
    )),
]  # fmt: skip


@pytest.mark.parametrize(
    ("initiator", "employee", "participant", "published", "allowed", "refused"), NEW_REQUESTS
)
def test_check_new_request(
    initiator: Side,
    employee: Role | None,
    participant: Role | None,
    published: bool,
    allowed: bool,
    refused: tuple[ErrorKind, str] | None,
) -> None:
    def call() -> None:
        check_new_request(
            initiator,
            employee_role=employee,
            participant_role=participant,
            published=published,
            employee_requests_allowed=allowed,
        )

    if refused is None:
        call()
    else:
        error = refusal(call)
        assert (error.kind, error.message) == refused


@pytest.mark.parametrize(
    ("state", "initiator", "action", "actor", "in_chat", "expected"),
    [
        (ChatState.REQUESTED, P, Action.APPROVE, E, E, ChatState.APPROVED),
        (ChatState.CONFIRMED, P, Action.COMPLETE, SYS, None, ChatState.COMPLETED),
        (ChatState.APPROVED, E, Action.BOOK, P, P, ChatState.CONFIRMED),
    ],
)
def test_check_action_allows(
    state: ChatState,
    initiator: Side,
    action: Action,
    actor: Side,
    in_chat: Side | None,
    expected: ChatState,
) -> None:
    assert check_action(state, initiator, action, actor, in_chat) is expected


@pytest.mark.parametrize(
    ("state", "action", "actor", "in_chat", "kind", "message"),
    [
        # Claiming a side one does not hold, or not being in the chat at all.
        (ChatState.REQUESTED, Action.APPROVE, E, None, ErrorKind.FORBIDDEN,
         "This chat is not yours to change."),
        (ChatState.REQUESTED, Action.APPROVE, E, P, ErrorKind.FORBIDDEN,
         "This chat is not yours to change."),
        # ... which is said before the state: it is not theirs to know about.
        (ChatState.CANCELLED, Action.CANCEL, P, None, ErrorKind.FORBIDDEN,
         "This chat is not yours to change."),
        # Then the state machine: the state first, then who.
        (ChatState.CANCELLED, Action.CANCEL, P, P, ErrorKind.WRONG_STATE,
         "This chat was already cancelled."),
        (ChatState.REQUESTED, Action.APPROVE, P, P, ErrorKind.FORBIDDEN,
         "Only the person who received this request can approve it."),
        (ChatState.CONFIRMED, Action.COMPLETE, E, E, ErrorKind.FORBIDDEN,
         "A chat is marked as completed automatically once its time is over."),
    ],
)  # fmt: skip
def test_check_action_refuses(
    state: ChatState,
    action: Action,
    actor: Side,
    in_chat: Side | None,
    kind: ErrorKind,
    message: str,
) -> None:
    error = refusal(lambda: check_action(state, P, action, actor, in_chat))
    assert (error.kind, error.message) == (kind, message)
    # The state machine's refusals carry the chat's state, so the client can re-render.
    mine = message != "This chat is not yours to change."
    assert error.extra == ({"state": state.value} if mine else {})


@pytest.mark.parametrize(
    ("action", "text", "expected"),
    [
        (Action.DECLINE, " Try the booth. ", "Try the booth."),
        (Action.CANCEL, "", ""),  # a reason is welcome, not required
        (Action.WITHDRAW, "  ", ""),
        (Action.APPROVE, "x" * MAX_TEXT, "x" * MAX_TEXT),
    ],
)
def test_action_text(action: Action, text: str, expected: str) -> None:
    assert action_text(action, text) == expected


@pytest.mark.parametrize("text", ["", "   \n"])
def test_a_decline_must_say_why(text: str) -> None:
    error = refusal(lambda: action_text(Action.DECLINE, text))
    assert error.kind is ErrorKind.INVALID and error.extra == {"field": "message"}
    assert error.message.startswith("Please add a short message when declining")


def test_action_text_refuses_past_the_limit() -> None:
    error = refusal(lambda: action_text(Action.CANCEL, "x" * (MAX_TEXT + 1)))
    assert error.message == "The message is limited to 2000 characters."


@pytest.mark.parametrize(("free", "approved"), [(1, 0), (5, 4), (10, 0)])
def test_check_capacity_allows_while_every_approved_request_has_a_slot(
    free: int, approved: int
) -> None:
    check_capacity(free, approved)


@pytest.mark.parametrize(("free", "approved"), [(0, 0), (3, 3), (2, 5)])
def test_check_capacity_refuses(free: int, approved: int) -> None:
    error = refusal(lambda: check_capacity(free, approved))
    assert error.kind is ErrorKind.NO_FREE_SLOT
    assert error.message == (
        f"Ensure you have slots available: {free} free slot(s) and {approved} approved "
        "request(s) still waiting for one. Add slots before approving more."
    )
    assert error.extra == {"free_slots": free, "approved_unscheduled": approved}


def offer(**changes: Any) -> SlotOffer:
    facts: dict[str, Any] = {
        "id": 7,
        "event_id": "fair",
        "employee_id": "ada",
        "published": True,
        "starts_at": NOW + timedelta(hours=1),
        "ends_at": NOW + timedelta(hours=1, minutes=30),
        "taken": False,
    }
    return SlotOffer(**(facts | changes))


@pytest.mark.parametrize(
    "slot",
    [offer(), offer(starts_at=NOW + US)],  # starting a microsecond from now is still bookable
)
def test_check_slot_accepts(slot: SlotOffer) -> None:
    assert check_slot(7, slot, event_id="fair", employee_id="ada", now=NOW) is slot


@pytest.mark.parametrize(
    ("slot_id", "slot", "kind", "message"),
    [
        (None, None, ErrorKind.INVALID, "Pick a slot."),
        (None, offer(), ErrorKind.INVALID, "Pick a slot."),
        (7, None, ErrorKind.INVALID, "That slot is not one of this employee's slots."),
        (7, offer(employee_id="grace"), ErrorKind.INVALID,
         "That slot is not one of this employee's slots."),
        (7, offer(event_id="other-fair"), ErrorKind.INVALID,
         "That slot is not one of this employee's slots."),
        (7, offer(published=False), ErrorKind.INVALID, "That slot is not offered yet."),
        (7, offer(starts_at=NOW), ErrorKind.INVALID,
         "That slot has already started; pick a later one."),
        (7, offer(starts_at=NOW - US), ErrorKind.INVALID,
         "That slot has already started; pick a later one."),
        (7, offer(taken=True), ErrorKind.SLOT_TAKEN,
         "That slot was just taken by someone else; please pick another one."),
        # Checked in this order: an unpublished slot that has started reads "not offered".
        (7, offer(published=False, starts_at=NOW - US, taken=True), ErrorKind.INVALID,
         "That slot is not offered yet."),
    ],
)  # fmt: skip
def test_check_slot_refuses(
    slot_id: int | None, slot: SlotOffer | None, kind: ErrorKind, message: str
) -> None:
    error = refusal(lambda: check_slot(slot_id, slot, event_id="fair", employee_id="ada", now=NOW))
    assert (error.kind, error.message) == (kind, message)


SLOT = offer()
HELD = {"slot_id": 7, "starts_at": SLOT.starts_at, "ends_at": SLOT.ends_at}


@pytest.mark.parametrize(
    ("action", "text", "slot", "expected"),
    [
        (Action.APPROVE, "", None, {}),
        (Action.WITHDRAW, "", None, {}),
        (Action.COMPLETE, "", None, {}),
        (Action.DECLINE, "Ask Grace.", None, {"decline_message": "Ask Grace."}),
        (Action.BOOK, "", SLOT, HELD),
        (Action.RESCHEDULE, "", SLOT, HELD | {"ics_sequence": 3}),
        # A cancel frees the slot and keeps the chat's times (history, the cancelling .ics).
        (Action.CANCEL, "Ill.", None, {"cancel_reason": "Ill.", "slot_id": None, "ics_sequence": 3}),
        (Action.NO_SHOW, "participant", None, {"no_show_side": "participant"}),
    ],
)  # fmt: skip
def test_changed_fields(
    action: Action, text: str, slot: SlotOffer | None, expected: dict[str, object]
) -> None:
    assert changed_fields(action, text, 2, slot) == expected


@pytest.mark.parametrize("action", [Action.BOOK, Action.RESCHEDULE])
def test_a_booking_without_its_slot_is_a_programming_error(action: Action) -> None:
    with pytest.raises(ValueError, match="needs the slot it takes"):
        changed_fields(action, "", 0)
