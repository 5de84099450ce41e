"""The live board's groups (rooms/board_rules.py), with `now` a parameter: each group's rule,
their precedence, and the instants at which time alone moves a chat to another group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rooms.board_rules import (
    GROUPS,
    NO_SHOW_RISK_AFTER,
    BoardChat,
    Seat,
    group_of,
    grouped,
    next_change,
)

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
OPENS = START - timedelta(minutes=5)
CLOSES = START + timedelta(minutes=32)
IN = Seat("connected", OPENS)
BACK_SOON = Seat("reconnecting", START)
OUT = Seat()


def chat(
    employee: Seat = OUT, participant: Seat = OUT, state: str = "confirmed", chat_id: str = "c1"
) -> BoardChat:
    return BoardChat(chat_id, state, OPENS, START, CLOSES, employee, participant)


@pytest.mark.parametrize(
    ("what", "the_chat", "now", "group"),
    [
        ("before the room opens", chat(), OPENS - timedelta(seconds=1), "next"),
        ("open, nobody in", chat(), OPENS, "open"),
        ("one person in", chat(IN), START, "waiting"),
        ("one person in, the other late", chat(IN), START + NO_SHOW_RISK_AFTER, "no_show_risk"),
        ("nobody in, late", chat(), START + NO_SHOW_RISK_AFTER, "no_show_risk"),
        ("both in", chat(IN, IN), START + timedelta(minutes=10), "live"),
        ("one reconnecting", chat(IN, BACK_SOON), START, "reconnecting"),
        (
            "reconnecting beats no-show risk",
            chat(BACK_SOON),
            START + timedelta(minutes=9),
            "reconnecting",
        ),
        ("the room closed", chat(IN, IN), CLOSES, "ended"),
        ("settled completed", chat(state="completed"), START, "ended"),
        ("settled no-show", chat(state="no_show"), START, "ended"),
        ("cancelled", chat(IN, IN, state="cancelled"), START, "ended"),
    ],
)
def test_group_of(what: str, the_chat: BoardChat, now: datetime, group: str) -> None:
    assert group_of(the_chat, now) == group, what


def test_next_change_is_each_boundary_in_turn_and_none_after() -> None:
    c = chat(IN)
    now = OPENS - timedelta(hours=1)
    seen = []
    while (when := next_change(c, now)) is not None:
        assert when > now
        seen.append((when, group_of(c, when)))
        now = when
    assert seen == [
        (OPENS, "waiting"),
        (START + NO_SHOW_RISK_AFTER, "no_show_risk"),
        (CLOSES, "ended"),
    ]
    assert next_change(chat(state="completed"), OPENS) is None


def test_grouped_lists_every_group_in_start_order() -> None:
    later = BoardChat(
        "a-later",
        "confirmed",
        OPENS + timedelta(hours=1),
        START + timedelta(hours=1),
        CLOSES + timedelta(hours=1),
    )
    chats = [
        chat(IN, IN, chat_id="z-live"),
        later,
        chat(IN, IN, chat_id="b-live"),
        chat(IN, chat_id="w"),
    ]
    got = grouped(chats, START)
    assert list(got) == list(GROUPS)
    assert got["live"] == ["b-live", "z-live"]
    assert got["waiting"] == ["w"]
    assert got["next"] == ["a-later"]
    assert got["ended"] == []
