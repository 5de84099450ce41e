"""What changed in a chat since a join ticket was minted, noted in the broker for every node.

A ticket carries the chat's facts as of its minting (`rooms/tickets.py`), so a join reads no
database. Two things can change in the ticket's short life, and each is noted here, in the
broker (one small record per chat, shared by all nodes through Redis):

- the chat was cancelled or moved (`changed`): a ticket minted before that is refused;
- the chat log has messages (`history`): the join then reads the log; a chat that never had a
  message, the usual case at the start of a call, costs no read at all.

Notes are hints with a TTL longer than any room lives. If Redis restarts and forgets them, a
join falls back on the ticket's own `history_seq`, so only a message sent in the seconds between
minting and joining, during the outage, could be missing from `joined.history` (it is still in
the log and shown by the REST history).
"""

from __future__ import annotations

from dataclasses import dataclass

from rooms.tickets import Ticket

NOTES_TTL_S = 6 * 3600
CHANGED = "changed"
HAS_HISTORY = "history"


@dataclass(frozen=True, slots=True)
class ChatChange:
    reason: str  # "cancelled" | "rescheduled"
    version: int  # the chat's `ics_sequence` after the change

    def encode(self) -> str:
        return f"{self.reason}:{self.version}"

    @classmethod
    def decode(cls, value: str) -> ChatChange:
        reason, _, version = value.partition(":")
        return cls(reason, int(version))


def change_after_minting(notes: dict[str, str], ticket: Ticket) -> ChatChange | None:
    """The cancel or reschedule the ticket's facts predate, if any.

    Versions, not clocks: every reschedule and the cancel bump the chat's `ics_sequence` in the
    same transaction, and the ticket carries the version its facts were read at."""
    value = notes.get(CHANGED)
    if value is None:
        return None
    change = ChatChange.decode(value)
    return change if change.version > ticket.room.version else None


def must_read_log(notes: dict[str, str], ticket: Ticket, resume_seq: int) -> bool:
    """False only when the log is known to hold nothing after `resume_seq`: no message since
    the ticket was minted, and the client already has everything the ticket knew of."""
    return HAS_HISTORY in notes or ticket.room.history_seq != resume_seq
