"""The Join button's window, tested at its exact edges and in every chat state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.join_window import (
    JoinClosedReason,
    JoinWindow,
    join_window,
    window_times,
)
from scheduling.model import ChatState, ChatView, JoinPolicy

START = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
END = datetime(2026, 6, 15, 10, 30, tzinfo=UTC)
POLICY = JoinPolicy(opens_before_s=300, grace_after_s=120)
OPENS = datetime(2026, 6, 15, 9, 55, tzinfo=UTC)
CLOSES = datetime(2026, 6, 15, 10, 32, tzinfo=UTC)
US = timedelta(microseconds=1)
CONFIRMED = ChatView(ChatState.CONFIRMED, START, END)


@pytest.mark.parametrize(
    ("now", "is_open", "reason"),
    [
        (OPENS - US, False, JoinClosedReason.TOO_EARLY),
        (OPENS, True, None),
        (START, True, None),
        (END, True, None),  # the grace period keeps it open after the slot ends
        (CLOSES - US, True, None),
        (CLOSES, False, JoinClosedReason.ENDED),
        (CLOSES + timedelta(days=1), False, JoinClosedReason.ENDED),
    ],
)
def test_edges_of_a_confirmed_chat(
    now: datetime, is_open: bool, reason: JoinClosedReason | None
) -> None:
    window = join_window(CONFIRMED, POLICY, now)
    assert window.is_open is is_open
    assert window.reason is reason
    assert (window.opens_at, window.closes_at) == (OPENS, CLOSES)
    assert (window.message is None) is is_open


@pytest.mark.parametrize(
    ("opens_before_s", "grace_after_s", "opens_at", "closes_at"),
    [
        (0, 0, START, END),  # exactly the slot
        (1, 1, START - timedelta(seconds=1), END + timedelta(seconds=1)),
        (300, 120, OPENS, CLOSES),  # the event default
        (3600, 1800, START - timedelta(hours=1), END + timedelta(minutes=30)),  # the largest
    ],
)
def test_window_times(
    opens_before_s: int, grace_after_s: int, opens_at: datetime, closes_at: datetime
) -> None:
    """The one formula behind the Join button, the room's life and settling the chat after it."""
    times = window_times(START, END, JoinPolicy(opens_before_s, grace_after_s))
    assert (times.opens_at, times.closes_at) == (opens_at, closes_at)


def test_window_times_are_absolute_across_a_dst_change() -> None:
    """Instants, not wall-clock times: a slot just after a clock change moves by the same seconds."""
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 3, 29, 3, 0, tzinfo=berlin)  # an hour after 02:00 CET became 03:00 CEST
    end = start + timedelta(minutes=30)
    times = window_times(start, end, JoinPolicy(opens_before_s=3600, grace_after_s=0))
    assert times.opens_at == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # 01:00 CET, not 02:00
    assert end - times.opens_at == timedelta(minutes=90)


def test_window_times_refuse_naive_times() -> None:
    with pytest.raises(ValueError, match="starts_at must be a timezone-aware datetime"):
        window_times(START.replace(tzinfo=None), END, POLICY)


def test_zero_policy_is_exactly_the_slot() -> None:
    policy = JoinPolicy(opens_before_s=0, grace_after_s=0)
    assert not join_window(CONFIRMED, policy, START - US).is_open
    assert join_window(CONFIRMED, policy, START).is_open
    assert join_window(CONFIRMED, policy, END - US).is_open
    assert not join_window(CONFIRMED, policy, END).is_open


@pytest.mark.parametrize(
    ("before_open", "message"),
    [
        (timedelta(minutes=12), "The chat opens in 12 minutes."),
        (timedelta(minutes=11, seconds=1), "The chat opens in 12 minutes."),  # rounded up
        (timedelta(minutes=1), "The chat opens in 1 minute."),
        (timedelta(seconds=59), "The chat opens in less than a minute."),
        (US, "The chat opens in less than a minute."),
        (timedelta(hours=1), "The chat opens in 1 hour."),
        (timedelta(hours=2, minutes=5), "The chat opens in 2 hours and 5 minutes."),
        (timedelta(days=1), "The chat opens in 1 day."),
        (timedelta(days=3, hours=1), "The chat opens in 3 days and 1 hour."),
    ],
)
def test_too_early_message(before_open: timedelta, message: str) -> None:
    window = join_window(CONFIRMED, POLICY, OPENS - before_open)
    assert window.reason is JoinClosedReason.TOO_EARLY
    assert window.message == message


# Every state, with `now` inside the would-be window: only a confirmed chat opens.
@pytest.mark.parametrize(
    ("state", "has_slot", "reason", "message"),
    [
        (ChatState.CONFIRMED, True, None, None),
        (
            ChatState.REQUESTED,
            False,
            JoinClosedReason.NOT_CONFIRMED,
            "This request has not been accepted yet, so there is no chat to join.",
        ),
        (
            ChatState.APPROVED,
            False,
            JoinClosedReason.NOT_CONFIRMED,
            "No time slot has been picked for this chat yet.",
        ),
        (
            ChatState.DECLINED,
            False,
            JoinClosedReason.NOT_CONFIRMED,
            "This request was declined, so there is no chat to join.",
        ),
        (
            ChatState.WITHDRAWN,
            False,
            JoinClosedReason.NOT_CONFIRMED,
            "This request was withdrawn, so there is no chat to join.",
        ),
        (ChatState.CANCELLED, True, JoinClosedReason.CANCELLED, "This chat was cancelled."),
        (ChatState.CANCELLED, False, JoinClosedReason.CANCELLED, "This chat was cancelled."),
        (ChatState.COMPLETED, True, JoinClosedReason.ENDED, "This chat has ended."),
        (ChatState.NO_SHOW, True, JoinClosedReason.ENDED, "This chat has ended."),
    ],
)
def test_every_state_inside_the_window(
    state: ChatState, has_slot: bool, reason: JoinClosedReason | None, message: str | None
) -> None:
    chat = ChatView(state, START if has_slot else None, END if has_slot else None)
    window = join_window(chat, POLICY, START)
    assert window.is_open is (state == ChatState.CONFIRMED)
    assert window.reason is reason
    assert window.message == message
    if reason is JoinClosedReason.NOT_CONFIRMED:
        assert window.opens_at is None and window.closes_at is None


@pytest.mark.parametrize("state", [ChatState.REQUESTED, ChatState.DECLINED])
def test_not_confirmed_hides_times_even_if_known(state: ChatState) -> None:
    """A slot on an unconfirmed chat is not a promise, so no countdown is offered."""
    window = join_window(ChatView(state, START, END), POLICY, START)
    assert (window.opens_at, window.closes_at) == (None, None)


def test_confirmed_chat_without_times_is_a_data_error() -> None:
    with pytest.raises(ValueError, match="start and an end"):
        join_window(ChatView(ChatState.CONFIRMED, None, None), POLICY, START)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        join_window(CONFIRMED, POLICY, datetime(2026, 6, 15, 10))


def test_to_dict_open() -> None:
    now = START.astimezone(ZoneInfo("Europe/Berlin"))  # rendered back in UTC
    data = join_window(CONFIRMED, POLICY, now).to_dict(now)
    assert data == {
        "open": True,
        "join_opens_at": "2026-06-15T09:55:00Z",
        "join_closes_at": "2026-06-15T10:32:00Z",
        "now": "2026-06-15T10:00:00Z",
        "reason": None,
        "message": None,
    }
    assert json.loads(json.dumps(data)) == data


def test_to_dict_closed_keeps_microseconds_and_plain_strings() -> None:
    now = OPENS - US
    data = join_window(CONFIRMED, POLICY, now).to_dict(now)
    assert data["now"] == "2026-06-15T09:54:59.999999Z"
    assert data["reason"] == "too_early" and type(data["reason"]) is str
    assert data["message"] == "The chat opens in less than a minute."
    assert datetime.fromisoformat(data["now"]) == now  # round-trips exactly


def test_to_dict_not_confirmed() -> None:
    window = join_window(ChatView(ChatState.APPROVED, None, None), POLICY, START)
    data = window.to_dict(START)
    assert data["join_opens_at"] is None and data["join_closes_at"] is None
    assert data["reason"] == "not_confirmed" and data["open"] is False


@given(
    offset_us=st.integers(-(10**10), 10**10),
    before=st.integers(0, 3600),
    grace=st.integers(0, 3600),
)
def test_confirmed_window_is_half_open(offset_us: int, before: int, grace: int) -> None:
    """For a confirmed chat, open exactly on [start - before, end + grace)."""
    now = START + timedelta(microseconds=offset_us)
    window: JoinWindow = join_window(CONFIRMED, JoinPolicy(before, grace), now)
    lo = START - timedelta(seconds=before)
    hi = END + timedelta(seconds=grace)
    assert window.is_open is (lo <= now < hi)
    assert window.reason is (
        None
        if window.is_open
        else (JoinClosedReason.TOO_EARLY if now < lo else JoinClosedReason.ENDED)
    )
