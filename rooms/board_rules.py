"""The organizer's live board: which group a chat of today is in right now (pure, `now` a
parameter), and when that can next change without any news.

Groups, "now" before "next" (docs/live.md):

- `reconnecting`: someone's connection dropped; their seat is held for the reconnect grace;
- `no_show_risk`: the chat started `NO_SHOW_RISK_AFTER` ago and someone is still absent;
- `waiting`: one person is in, the other not yet (for how long: their seat's `since`);
- `live`: both are in;
- `open`: the room is open, nobody is in yet;
- `next`: the room opens later today;
- `ended`: the room closed, or the chat was settled or cancelled.

No-show risk counts from the chat's start, not from the room's opening: the room opens minutes
early (the event's `join_opens_before_s`), and people who come on time would all be flagged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

Group = Literal["reconnecting", "no_show_risk", "waiting", "live", "open", "next", "ended"]
GROUPS: Final[tuple[Group, ...]] = (
    "reconnecting",
    "no_show_risk",
    "waiting",
    "live",
    "open",
    "next",
    "ended",
)
SeatState = Literal["connected", "reconnecting", "absent"]
NO_SHOW_RISK_AFTER: Final = timedelta(minutes=3)
_SETTLED: Final = frozenset({"completed", "no_show", "cancelled"})


@dataclass(frozen=True, slots=True)
class Seat:
    state: SeatState = "absent"
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class BoardChat:
    """What grouping needs of one chat: its state, its room's times, and both seats."""

    chat_id: str
    state: str  # scheduling.model.ChatState's value
    opens_at: datetime
    starts_at: datetime
    closes_at: datetime
    employee: Seat = Seat()
    participant: Seat = Seat()


def group_of(chat: BoardChat, now: datetime) -> Group:
    if chat.state in _SETTLED or now >= chat.closes_at:
        return "ended"
    if now < chat.opens_at:
        return "next"
    seats = (chat.employee.state, chat.participant.state)
    if "reconnecting" in seats:
        return "reconnecting"
    if seats == ("connected", "connected"):
        return "live"
    if now >= chat.starts_at + NO_SHOW_RISK_AFTER:
        return "no_show_risk"
    if "connected" in seats:
        return "waiting"
    return "open"


def next_change(chat: BoardChat, now: datetime) -> datetime | None:
    """The next instant at which `group_of` may differ with no news about the chat."""
    if chat.state in _SETTLED:
        return None
    instants = (chat.opens_at, chat.starts_at + NO_SHOW_RISK_AFTER, chat.closes_at)
    return min((t for t in instants if t > now), default=None)


def grouped(chats: Iterable[BoardChat], now: datetime) -> dict[Group, list[str]]:
    """Chat ids by group, each group in start order (then id, so the order is stable)."""
    groups: dict[Group, list[BoardChat]] = {g: [] for g in GROUPS}
    for chat in chats:
        groups[group_of(chat, now)].append(chat)
    return {
        g: [c.chat_id for c in sorted(found, key=lambda c: (c.starts_at, c.chat_id))]
        for g, found in groups.items()
    }
