"""What changed in a chat since a join ticket was minted, noted in the broker for every node.

A ticket carries the chat's facts as of its minting (`rooms/tickets.py`), so a join reads no
database. Two things can change in the ticket's short life, and each is noted here, in the
broker (one small record per chat, shared by all nodes through Redis):

- the chat was cancelled or moved (`changed`): a ticket minted before that is refused;
- the chat log has messages (`history`): the join then reads the log; a chat that never had a
  message, the usual case at the start of a call, costs no read at all.

Notes are hints with a TTL longer than any room lives. If they are lost (Redis restarts, or a
one-node Duet restarts: its broker is in memory, or writing a note failed and was logged):
- a join falls back on the ticket's own `history_seq`, so only a message sent in the seconds
  between minting and joining could be missing from `joined.history` (it is still in the log
  and shown by the REST history);
- a ticket minted before a cancel or a reschedule, within its ~60 s life, is admitted to the
  old room until that room's close. The cancel itself closed every seat it found, and the
  chat's state in the database is unaffected.
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

    def note(self) -> tuple[str, str]:
        """(name, value) of this change's note: one note per version, so two changes noted in
        the opposite order to their commits can never hide the later one."""
        return f"{CHANGED}:{self.version}", self.reason


def change_after_minting(notes: dict[str, str], ticket: Ticket) -> ChatChange | None:
    """The latest cancel or reschedule the ticket's facts predate, if any.

    Versions, not clocks: every reschedule and the cancel bump the chat's `ics_sequence` in the
    same transaction, and the ticket carries the version its facts were read at."""
    latest: ChatChange | None = None
    for name, reason in notes.items():
        kind, _, version = name.partition(":")
        if kind == CHANGED and version.isdigit():
            change = ChatChange(reason, int(version))
            if change.version > ticket.room.version and (
                latest is None or change.version > latest.version
            ):
                latest = change
    return latest


def must_read_log(notes: dict[str, str], ticket: Ticket, resume_seq: int) -> bool:
    """False only when the log is known to hold nothing after `resume_seq`: no message since
    the ticket was minted, and the client already has everything the ticket knew of."""
    return HAS_HISTORY in notes or ticket.room.history_seq != resume_seq
