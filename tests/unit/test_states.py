"""The chat state machine, checked cell by cell against an explicit table."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.model import ChatState, Side
from scheduling.states import (
    Action,
    Tab,
    TransitionError,
    allowed_actions,
    states_in_tab,
    tab_of,
    transition,
)

S = ChatState
A = Action
E, P, SYS = Side.EMPLOYEE, Side.PARTICIPANT, Side.SYSTEM
INITIATORS = (E, P)

# States no action leaves, for anyone: what the test below and the random walks check.
TERMINAL = (S.COMPLETED, S.NO_SHOW, S.DECLINED, S.WITHDRAWN, S.CANCELLED)

# Every allowed (state, action, actor, initiator) and where it leads; all else is refused.
ALLOWED: dict[tuple[ChatState, Action, Side, Side], ChatState] = {
    # The receiver answers: an employee answers a participant's request, a participant answers
    # an employee's invitation.
    (S.REQUESTED, A.APPROVE, E, P): S.APPROVED,
    (S.REQUESTED, A.APPROVE, P, E): S.APPROVED,
    (S.REQUESTED, A.DECLINE, E, P): S.DECLINED,
    (S.REQUESTED, A.DECLINE, P, E): S.DECLINED,
    # Only the sender takes a request back.
    (S.REQUESTED, A.WITHDRAW, E, E): S.WITHDRAWN,
    (S.REQUESTED, A.WITHDRAW, P, P): S.WITHDRAWN,
    # Only the participant picks the slot, whoever initiated.
    (S.APPROVED, A.BOOK, P, E): S.CONFIRMED,
    (S.APPROVED, A.BOOK, P, P): S.CONFIRMED,
    (S.CONFIRMED, A.RESCHEDULE, E, E): S.CONFIRMED,
    (S.CONFIRMED, A.RESCHEDULE, E, P): S.CONFIRMED,
    (S.CONFIRMED, A.RESCHEDULE, P, E): S.CONFIRMED,
    (S.CONFIRMED, A.RESCHEDULE, P, P): S.CONFIRMED,
    (S.APPROVED, A.CANCEL, E, E): S.CANCELLED,
    (S.APPROVED, A.CANCEL, E, P): S.CANCELLED,
    (S.APPROVED, A.CANCEL, P, E): S.CANCELLED,
    (S.APPROVED, A.CANCEL, P, P): S.CANCELLED,
    (S.CONFIRMED, A.CANCEL, E, E): S.CANCELLED,
    (S.CONFIRMED, A.CANCEL, E, P): S.CANCELLED,
    (S.CONFIRMED, A.CANCEL, P, E): S.CANCELLED,
    (S.CONFIRMED, A.CANCEL, P, P): S.CANCELLED,
    # Outcomes are recorded by the system only.
    (S.CONFIRMED, A.COMPLETE, SYS, E): S.COMPLETED,
    (S.CONFIRMED, A.COMPLETE, SYS, P): S.COMPLETED,
    (S.CONFIRMED, A.NO_SHOW, SYS, E): S.NO_SHOW,
    (S.CONFIRMED, A.NO_SHOW, SYS, P): S.NO_SHOW,
}

# The states each action starts from; a refusal elsewhere is "wrong_state", here "not_allowed".
SOURCES: dict[Action, set[ChatState]] = {
    A.APPROVE: {S.REQUESTED},
    A.DECLINE: {S.REQUESTED},
    A.WITHDRAW: {S.REQUESTED},
    A.BOOK: {S.APPROVED},
    A.RESCHEDULE: {S.CONFIRMED},
    A.CANCEL: {S.APPROVED, S.CONFIRMED},
    A.COMPLETE: {S.CONFIRMED},
    A.NO_SHOW: {S.CONFIRMED},
}

# Where any state can go in one step, written independently of the table above.
SUCCESSORS: dict[ChatState, set[ChatState]] = {
    S.REQUESTED: {S.APPROVED, S.DECLINED, S.WITHDRAWN},
    S.APPROVED: {S.CONFIRMED, S.CANCELLED},
    S.CONFIRMED: {S.CONFIRMED, S.CANCELLED, S.COMPLETED, S.NO_SHOW},
    S.COMPLETED: set(),
    S.NO_SHOW: set(),
    S.DECLINED: set(),
    S.WITHDRAWN: set(),
    S.CANCELLED: set(),
}

ALL_CASES = list(itertools.product(ChatState, Action, Side, INITIATORS))


def _expected(state: ChatState, action: Action, actor: Side, initiator: Side) -> ChatState | str:
    key = (state, action, actor, initiator)
    if key in ALLOWED:
        return ALLOWED[key]
    return "not_allowed" if state in SOURCES[action] else "wrong_state"


def test_table_covers_the_whole_cross_product() -> None:
    assert len(ALL_CASES) == 8 * 8 * 3 * 2
    assert set(ALLOWED) <= set(ALL_CASES)
    assert len(ALLOWED) == 24


@pytest.mark.parametrize(("state", "action", "actor", "initiator"), ALL_CASES)
def test_every_combination(state: ChatState, action: Action, actor: Side, initiator: Side) -> None:
    expected = _expected(state, action, actor, initiator)
    if isinstance(expected, ChatState):
        assert transition(state, action, actor, initiator) is expected
        assert action in allowed_actions(state, actor, initiator)
    else:
        with pytest.raises(TransitionError) as info:
            transition(state, action, actor, initiator)
        assert info.value.code == expected
        assert action not in allowed_actions(state, actor, initiator)
        # A sentence for people: capitalised, ends with a full stop, no enum reprs leak.
        message = info.value.message
        assert message[0].isupper() and message.endswith(".")
        assert "ChatState" not in message and "Side." not in message
        assert str(info.value) == message


@pytest.mark.parametrize(
    ("state", "action", "actor", "initiator", "message"),
    [
        (
            S.DECLINED,
            A.APPROVE,
            E,
            P,
            "This request was already declined, so it can no longer be approved.",
        ),
        (S.DECLINED, A.DECLINE, E, P, "This request was already declined."),
        (
            S.REQUESTED,
            A.BOOK,
            P,
            E,
            "This request is still waiting for an answer, so it cannot be booked yet.",
        ),
        (
            S.REQUESTED,
            A.CANCEL,
            P,
            P,
            "This request is still waiting for an answer, so it cannot be cancelled; "
            "withdraw or decline it instead.",
        ),
        (S.REQUESTED, A.APPROVE, P, P, "Only the person who received this request can approve it."),
        (S.REQUESTED, A.WITHDRAW, E, P, "Only the person who sent this request can withdraw it."),
        (S.APPROVED, A.BOOK, E, P, "Only the participant can pick the time slot for this chat."),
        (
            S.CONFIRMED,
            A.COMPLETE,
            E,
            P,
            "A chat is marked as completed automatically once its time is over.",
        ),
    ],
)
def test_refusal_messages(
    state: ChatState, action: Action, actor: Side, initiator: Side, message: str
) -> None:
    with pytest.raises(TransitionError) as info:
        transition(state, action, actor, initiator)
    assert info.value.message == message


def test_state_is_checked_before_actor() -> None:
    """A stale button should say the chat moved on, not that the person lacks the right."""
    with pytest.raises(TransitionError) as info:
        transition(S.CANCELLED, A.COMPLETE, E, P)  # wrong state AND wrong actor
    assert info.value.code == "wrong_state"


@pytest.mark.parametrize(
    ("state", "actor", "initiator", "expected"),
    [
        (S.REQUESTED, E, P, [A.APPROVE, A.DECLINE]),
        (S.REQUESTED, P, P, [A.WITHDRAW]),
        (S.REQUESTED, P, E, [A.APPROVE, A.DECLINE]),
        (S.REQUESTED, SYS, E, []),
        (S.APPROVED, P, E, [A.BOOK, A.CANCEL]),
        (S.APPROVED, E, P, [A.CANCEL]),
        (S.CONFIRMED, E, E, [A.RESCHEDULE, A.CANCEL]),
        (S.CONFIRMED, SYS, P, [A.COMPLETE, A.NO_SHOW]),
        (S.COMPLETED, E, P, []),
        (S.CANCELLED, P, P, []),
    ],
)
def test_allowed_actions_table(
    state: ChatState, actor: Side, initiator: Side, expected: list[Action]
) -> None:
    assert allowed_actions(state, actor, initiator) == expected


@pytest.mark.parametrize("action", list(Action))
def test_system_cannot_be_the_initiator(action: Action) -> None:
    """Requests come from people; a SYSTEM initiator means corrupted data, not a user error."""
    with pytest.raises(ValueError, match="initiated by the employee or the participant"):
        transition(S.REQUESTED, action, E, SYS)
    with pytest.raises(ValueError, match="initiated by the employee or the participant"):
        allowed_actions(S.REQUESTED, E, SYS)


def test_action_values_are_the_api_strings() -> None:
    assert [a.value for a in Action] == [
        "approve", "decline", "withdraw", "book", "reschedule", "cancel", "complete", "no_show",
    ]  # fmt: skip


def test_terminal_states_allow_no_action_and_the_others_do() -> None:
    for state, actor, initiator in itertools.product(TERMINAL, Side, INITIATORS):
        assert allowed_actions(state, actor, initiator) == []
    for state in set(ChatState) - set(TERMINAL):  # requested, approved, confirmed
        assert any(allowed_actions(state, a, i) for a in Side for i in INITIATORS), state


@pytest.mark.parametrize(
    ("state", "tab"),
    [
        (S.REQUESTED, Tab.REQUESTED),
        (S.APPROVED, Tab.IN_SCHEDULING),
        (S.CONFIRMED, Tab.CONFIRMED),
        (S.COMPLETED, Tab.COMPLETED),
        (S.NO_SHOW, Tab.COMPLETED),
        (S.DECLINED, Tab.HISTORY),
        (S.WITHDRAWN, Tab.HISTORY),
        (S.CANCELLED, Tab.HISTORY),
    ],
)
def test_tab_of(state: ChatState, tab: Tab) -> None:
    assert tab_of(state) is tab
    assert state in states_in_tab(tab)


def test_tabs_partition_all_states() -> None:
    listed = [state for tab in Tab for state in states_in_tab(tab)]
    assert sorted(listed) == sorted(ChatState)  # each state in exactly one tab
    assert states_in_tab(Tab.COMPLETED) == (S.COMPLETED, S.NO_SHOW)
    assert states_in_tab(Tab.HISTORY) == (S.DECLINED, S.WITHDRAWN, S.CANCELLED)


cases = st.tuples(
    st.sampled_from(ChatState),
    st.sampled_from(Action),
    st.sampled_from(Side),
    st.sampled_from(INITIATORS),
)


@given(case=cases)
def test_transition_only_reaches_successors(case: tuple[ChatState, Action, Side, Side]) -> None:
    state, action, actor, initiator = case
    try:
        new_state = transition(state, action, actor, initiator)
    except TransitionError as error:
        assert error.code in {"wrong_state", "not_allowed"}
    else:
        assert new_state in SUCCESSORS[state]


@given(
    state=st.sampled_from(ChatState),
    actor=st.sampled_from(Side),
    initiator=st.sampled_from(INITIATORS),
)
def test_allowed_actions_agrees_with_transition(
    state: ChatState, actor: Side, initiator: Side
) -> None:
    accepted = []
    for action in Action:
        try:
            transition(state, action, actor, initiator)
        except TransitionError:
            continue
        accepted.append(action)
    assert allowed_actions(state, actor, initiator) == accepted


@given(
    initiator=st.sampled_from(INITIATORS),
    steps=st.lists(st.tuples(st.sampled_from(Action), st.sampled_from(Side)), max_size=20),
)
def test_random_walks_stay_on_the_graph(initiator: Side, steps: list[tuple[Action, Side]]) -> None:
    """Any sequence of attempts from a fresh request follows the graph; terminal states stick."""
    state = S.REQUESTED
    for action, actor in steps:
        try:
            new_state = transition(state, action, actor, initiator)
        except TransitionError:
            continue
        assert new_state in SUCCESSORS[state]
        state = new_state
    if state in TERMINAL:
        assert allowed_actions(state, E, initiator) == allowed_actions(state, P, initiator) == []
