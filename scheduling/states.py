"""The chat state machine: who may move a 1-1 chat from which state to which.

One rule table drives both `transition` and `allowed_actions`, so the buttons the UI shows can
never disagree with what the API accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from scheduling.model import ChatState, Side


class Action(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    WITHDRAW = "withdraw"
    BOOK = "book"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    COMPLETE = "complete"
    NO_SHOW = "no_show"


class TransitionError(Exception):
    """A refused action; `code` is for programs, `message` is a sentence for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Tab(StrEnum):
    REQUESTED = "requested"
    IN_SCHEDULING = "in_scheduling"
    CONFIRMED = "confirmed"
    COMPLETED = "completed"
    HISTORY = "history"


_PEOPLE = (Side.EMPLOYEE, Side.PARTICIPANT)

Who = Callable[[Side, Side], bool]  # (actor, initiator) -> may act


@dataclass(frozen=True, slots=True)
class _Rule:
    sources: tuple[ChatState, ...]
    target: ChatState
    who: Who
    refusal: str  # shown when the state is right but the actor is not


_RULES: dict[Action, _Rule] = {
    Action.APPROVE: _Rule(
        (ChatState.REQUESTED,),
        ChatState.APPROVED,
        lambda actor, initiator: actor in _PEOPLE and actor != initiator,
        "Only the person who received this request can approve it.",
    ),
    Action.DECLINE: _Rule(
        (ChatState.REQUESTED,),
        ChatState.DECLINED,
        lambda actor, initiator: actor in _PEOPLE and actor != initiator,
        "Only the person who received this request can decline it; the sender can withdraw it.",
    ),
    Action.WITHDRAW: _Rule(
        (ChatState.REQUESTED,),
        ChatState.WITHDRAWN,
        lambda actor, initiator: actor in _PEOPLE and actor == initiator,
        "Only the person who sent this request can withdraw it.",
    ),
    Action.BOOK: _Rule(
        (ChatState.APPROVED,),
        ChatState.CONFIRMED,
        lambda actor, _initiator: actor == Side.PARTICIPANT,
        "Only the participant can pick the time slot for this chat.",
    ),
    Action.RESCHEDULE: _Rule(
        (ChatState.CONFIRMED,),
        ChatState.CONFIRMED,
        lambda actor, _initiator: actor in _PEOPLE,
        "Only the employee or the participant can reschedule this chat.",
    ),
    Action.CANCEL: _Rule(
        (ChatState.APPROVED, ChatState.CONFIRMED),
        ChatState.CANCELLED,
        lambda actor, _initiator: actor in _PEOPLE,
        "Only the employee or the participant can cancel this chat.",
    ),
    Action.COMPLETE: _Rule(
        (ChatState.CONFIRMED,),
        ChatState.COMPLETED,
        lambda actor, _initiator: actor == Side.SYSTEM,
        "A chat is marked as completed automatically once its time is over.",
    ),
    Action.NO_SHOW: _Rule(
        (ChatState.CONFIRMED,),
        ChatState.NO_SHOW,
        lambda actor, _initiator: actor == Side.SYSTEM,
        "A missed chat is marked automatically once its time is over.",
    ),
}

# How each state reads at the start of a refusal sentence.
_STATE_PHRASE: dict[ChatState, str] = {
    ChatState.REQUESTED: "This request is still waiting for an answer",
    ChatState.APPROVED: "This chat has no time slot",
    ChatState.CONFIRMED: "This chat is already scheduled",
    ChatState.COMPLETED: "This chat has already taken place",
    ChatState.NO_SHOW: "This chat was already marked as missed",
    ChatState.DECLINED: "This request was already declined",
    ChatState.WITHDRAWN: "This request was already withdrawn",
    ChatState.CANCELLED: "This chat was already cancelled",
}

_ACTION_PARTICIPLE: dict[Action, str] = {
    Action.APPROVE: "approved",
    Action.DECLINE: "declined",
    Action.WITHDRAW: "withdrawn",
    Action.BOOK: "booked",
    Action.RESCHEDULE: "rescheduled",
    Action.CANCEL: "cancelled",
    Action.COMPLETE: "marked as completed",
    Action.NO_SHOW: "marked as a no-show",
}

# States from which the action may still become possible later: refuse with "not yet".
_TOO_EARLY: dict[ChatState, tuple[Action, ...]] = {
    ChatState.REQUESTED: (Action.BOOK, Action.RESCHEDULE, Action.COMPLETE, Action.NO_SHOW),
    ChatState.APPROVED: (Action.RESCHEDULE, Action.COMPLETE, Action.NO_SHOW),
}

# Cases where the generic sentence would be misleading or could point to the right action.
_WRONG_STATE_OVERRIDES: dict[tuple[ChatState, Action], str] = {
    (ChatState.REQUESTED, Action.CANCEL): (
        "This request is still waiting for an answer, so it cannot be cancelled; "
        "withdraw or decline it instead."
    ),
    (ChatState.APPROVED, Action.APPROVE): "This request was already approved.",
    (ChatState.APPROVED, Action.DECLINE): (
        "This request was already approved, so it can no longer be declined; cancel it instead."
    ),
    (ChatState.APPROVED, Action.WITHDRAW): (
        "This request was already approved, so it can no longer be withdrawn; cancel it instead."
    ),
    (ChatState.APPROVED, Action.RESCHEDULE): (
        "This chat has no time slot yet, so there is nothing to reschedule; pick a slot instead."
    ),
    (ChatState.CONFIRMED, Action.APPROVE): "This request was already approved and scheduled.",
    (ChatState.CONFIRMED, Action.DECLINE): (
        "This chat is already scheduled, so it can no longer be declined; cancel it instead."
    ),
    (ChatState.CONFIRMED, Action.WITHDRAW): (
        "This chat is already scheduled, so it can no longer be withdrawn; cancel it instead."
    ),
    (ChatState.CONFIRMED, Action.BOOK): (
        "This chat is already scheduled; reschedule it to pick another time slot."
    ),
}


def _wrong_state_message(state: ChatState, action: Action) -> str:
    override = _WRONG_STATE_OVERRIDES.get((state, action))
    if override is not None:
        return override
    phrase = _STATE_PHRASE[state]
    if _RULES[action].target == state:
        return f"{phrase}."  # e.g. declining a declined request: the state says it all
    participle = _ACTION_PARTICIPLE[action]
    if action in _TOO_EARLY.get(state, ()):
        return f"{phrase}, so it cannot be {participle} yet."
    return f"{phrase}, so it can no longer be {participle}."


def _require_initiator(initiator: Side) -> None:
    """A request is always sent by a person; SYSTEM as initiator is a programming error."""
    if initiator not in _PEOPLE:
        raise ValueError(
            f"A chat request is initiated by the employee or the participant, not {initiator}."
        )


def transition(state: ChatState, action: Action, actor: Side, initiator: Side) -> ChatState:
    """The state after `actor` performs `action`, or TransitionError explaining the refusal.

    The state is checked before the actor, so a stale button reports that the chat moved on
    rather than blaming the person.
    """
    _require_initiator(initiator)
    rule = _RULES[action]
    if state not in rule.sources:
        raise TransitionError("wrong_state", _wrong_state_message(state, action))
    if not rule.who(actor, initiator):
        raise TransitionError("not_allowed", rule.refusal)
    return rule.target


def allowed_actions(state: ChatState, actor: Side, initiator: Side) -> list[Action]:
    """The actions `actor` may take now, in `Action` order, for showing buttons."""
    _require_initiator(initiator)
    return [
        action
        for action, rule in _RULES.items()
        if state in rule.sources and rule.who(actor, initiator)
    ]


_TABS: dict[ChatState, Tab] = {
    ChatState.REQUESTED: Tab.REQUESTED,
    ChatState.APPROVED: Tab.IN_SCHEDULING,
    ChatState.CONFIRMED: Tab.CONFIRMED,
    ChatState.COMPLETED: Tab.COMPLETED,
    ChatState.NO_SHOW: Tab.COMPLETED,
    ChatState.DECLINED: Tab.HISTORY,
    ChatState.WITHDRAWN: Tab.HISTORY,
    ChatState.CANCELLED: Tab.HISTORY,
}


def tab_of(state: ChatState) -> Tab:
    """The dashboard tab a chat in `state` is listed under."""
    return _TABS[state]


def states_in_tab(tab: Tab) -> tuple[ChatState, ...]:
    """The states listed under `tab`, in `ChatState` order (for filtering queries)."""
    return tuple(state for state in ChatState if _TABS[state] == tab)
