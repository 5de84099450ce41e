"""Single-use join tickets: a short signed string bound to one user, one chat and ~60 seconds.

Signed rather than stored, so any node can verify a ticket minted by another; single use is
enforced by claiming its nonce once in the broker (in memory, or Redis across nodes).

A ticket names the broker's epoch when it was minted (`Broker.epoch`): the broker keeps the used
nonces and the chats' notes, and loses them when it restarts (a new epoch), so a ticket minted
before that can prove neither that it is unused nor that its chat has not been cancelled since.
It is refused (4001, and the client fetches a new one from the database's current state).

A ticket also carries what the join endpoint read from the database when it minted it (a
`RoomPass`: both people, their names, the room's opening and closing, the media mode, the last
chat sequence), signed with the rest. So a WebSocket join needs no database read, which was
most of its cost (docs/performance.md). What can change in the ticket's ~60 s of life (a cancel
or a reschedule, a new chat message) is noted in the broker and checked at the join
(`rooms/chat_notes.py`); the same design as an access token that carries its grants.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from operator import attrgetter

import orjson

from rooms.timeline import to_ms
from scheduling.join_window import window_times
from scheduling.model import JoinPolicy, MediaMode, SeatRole
from scheduling.store_chats import ChatRecord

# Bumped when the signed payload changes shape, so an old ticket is refused as invalid.
_FORMAT = 3
_ROLES = ("employee", "participant")
_MODES = ("p2p", "relay")


class TicketProblem(StrEnum):
    INVALID = "invalid"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class RoomPass:
    """The facts of one person's seat in one chat, as the database said when the ticket was minted."""

    chat_id: str
    user_id: str
    role: SeatRole  # the employee makes the offer
    name: str
    peer_id: str
    peer_name: str
    opens_ms: int  # the room (the join window) opens ...
    closes_ms: int  # ... and closes: slot end plus the event's grace
    media_mode: MediaMode
    history_seq: int  # the chat log's last sequence number at minting
    version: int  # the chat's `ics_sequence`: bumped by every reschedule and by the cancel

    @classmethod
    def of(
        cls,
        chat: ChatRecord,
        user_id: str,
        policy: JoinPolicy,
        media_mode: MediaMode,
        history_seq: int,
    ) -> RoomPass:
        """The pass of `user_id`, one of the chat's two people, for a confirmed chat."""
        assert chat.starts_at is not None and chat.ends_at is not None
        times = window_times(chat.starts_at, chat.ends_at, policy)
        employee = user_id == chat.employee_id
        return cls(
            chat_id=chat.id,
            user_id=user_id,
            role="employee" if employee else "participant",
            name=chat.employee_name if employee else chat.participant_name,
            peer_id=chat.participant_id if employee else chat.employee_id,
            peer_name=chat.participant_name if employee else chat.employee_name,
            opens_ms=to_ms(times.opens_at),
            closes_ms=to_ms(times.closes_at),
            media_mode=media_mode,
            history_seq=history_seq,
            version=chat.ics_sequence,
        )


@dataclass(frozen=True, slots=True)
class Ticket:
    room: RoomPass
    expires_ms: int
    nonce: str
    epoch: str  # the broker's, when minted (see the module docstring)

    @property
    def chat_id(self) -> str:
        return self.room.chat_id

    @property
    def user_id(self) -> str:
        return self.room.user_id


class TicketError(Exception):
    def __init__(self, problem: TicketProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(secret: bytes, payload: bytes) -> str:
    # Domain-separated from the JWT use of the same secret.
    return _b64(hmac.new(secret, b"duet-ticket\x00" + payload, hashlib.sha256).digest()[:18])


# A pass's fields in declaration order: `astuple` copies each field recursively (it showed
# in the join grant's profile).
_room_fields = attrgetter(*(f.name for f in fields(RoomPass)))


def mint_ticket(secret: str, room: RoomPass, expires_at: datetime, epoch: str) -> str:
    nonce = secrets.token_urlsafe(12)
    payload = orjson.dumps([_FORMAT, *_room_fields(room), to_ms(expires_at), nonce, epoch])
    return f"{_b64(payload)}.{_sign(secret.encode(), payload)}"


def _parse(payload: bytes) -> Ticket:
    fields = orjson.loads(payload)
    if not isinstance(fields, list) or len(fields) != 15 or fields[0] != _FORMAT:
        raise ValueError("not a ticket of this format")
    (_, chat_id, user_id, role, name, peer_id, peer_name, opens, closes, mode, seq, version,
     expires, nonce, epoch) = fields  # fmt: skip
    texts = (chat_id, user_id, role, name, peer_id, peer_name, mode, nonce, epoch)
    numbers = (opens, closes, seq, version, expires)
    if not all(type(x) is str for x in texts) or not all(type(x) is int for x in numbers):
        raise ValueError("a field has the wrong type")
    if role not in _ROLES:
        raise ValueError("unknown role")
    if mode not in _MODES:
        raise ValueError("unknown media mode")
    room = RoomPass(
        chat_id, user_id, role, name, peer_id, peer_name, opens, closes, mode, seq, version
    )
    return Ticket(room, expires, nonce, epoch)


def verify_ticket(secret: str, ticket: str, now: datetime) -> Ticket:
    """The ticket's claims if its signature holds and it has not expired; never trusts content first."""
    if not ticket.isascii():
        # Tickets are ASCII; hmac.compare_digest would raise TypeError on a non-ASCII str.
        raise TicketError(TicketProblem.INVALID)
    try:
        encoded, signature = ticket.rsplit(".", 1)
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except ValueError as exc:
        raise TicketError(TicketProblem.INVALID) from exc
    if not hmac.compare_digest(signature, _sign(secret.encode(), payload)):
        raise TicketError(TicketProblem.INVALID)
    try:
        parsed = _parse(payload)
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
        raise TicketError(TicketProblem.INVALID) from exc
    if parsed.expires_ms <= to_ms(now):
        raise TicketError(TicketProblem.EXPIRED)
    return parsed
