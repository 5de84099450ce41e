"""WebSocket close codes of protocol v1 with the reason sentence sent in the close frame.

Why an enum plus reasons: the client decides from the code alone whether to reconnect, fetch a
new ticket or give up, and shows the reason to the person. A close frame's reason is limited to
123 bytes of UTF-8 (RFC 6455 5.5: 125-byte control payload minus the 2-byte code).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

MAX_REASON_BYTES: Final = 123


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    UNSUPPORTED_DATA = 1003
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013
    TICKET_INVALID = 4001
    TICKET_EXPIRED = 4002
    TICKET_USED = 4003
    TOO_EARLY = 4005
    CHAT_ENDED = 4006
    CHAT_CANCELLED = 4007
    REPLACED = 4008
    ROOM_CLOSED = 4009
    UNSUPPORTED_VERSION = 4010
    JOIN_REQUIRED = 4011
    RESCHEDULED = 4012
    TOO_SLOW = 4013

    @property
    def reason(self) -> str:
        """The sentence for the close frame (always within MAX_REASON_BYTES)."""
        return REASONS[self]

    @property
    def retry(self) -> bool:
        """True when reconnecting (with a fresh ticket from the join endpoint) can succeed."""
        return self in _RETRY


REASONS: Final[dict[CloseCode, str]] = {
    CloseCode.NORMAL: "You left the chat.",
    CloseCode.GOING_AWAY: "The server is restarting. Reconnecting...",
    CloseCode.UNSUPPORTED_DATA: "This connection only accepts the frame type of its subprotocol.",
    CloseCode.POLICY_VIOLATION: "Too many messages were sent too quickly.",
    CloseCode.MESSAGE_TOO_BIG: "A message was larger than 64 KiB.",
    CloseCode.INTERNAL_ERROR: "Something went wrong on the server. Reconnecting...",
    CloseCode.TRY_AGAIN_LATER: "The chat service is briefly unavailable. Reconnecting...",
    CloseCode.TICKET_INVALID: "The join ticket is not valid. Please join again.",
    CloseCode.TICKET_EXPIRED: "The join ticket has expired. Please join again.",
    CloseCode.TICKET_USED: "The join ticket was already used. Please join again.",
    CloseCode.TOO_EARLY: "This chat has not opened yet. Please come back closer to the start time.",
    CloseCode.CHAT_ENDED: "This chat has already ended.",
    CloseCode.CHAT_CANCELLED: "This chat was cancelled.",
    CloseCode.REPLACED: "You joined this chat in another tab or window.",
    CloseCode.ROOM_CLOSED: "The time for this chat is up. Thank you!",
    CloseCode.UNSUPPORTED_VERSION: "This version of the app is out of date. Please reload the page.",
    CloseCode.JOIN_REQUIRED: "The connection did not join the chat in time.",
    CloseCode.RESCHEDULED: "This chat was moved to a new time. Please check your schedule.",
    CloseCode.TOO_SLOW: "Your connection fell too far behind. Reconnecting...",
}

# Codes after which a new ticket + `join` (with `resume` when the seat may still be held) is
# worth trying automatically; the others need the person to act, or nothing can help.
_RETRY: Final = frozenset(
    {
        CloseCode.GOING_AWAY,
        CloseCode.INTERNAL_ERROR,
        CloseCode.TRY_AGAIN_LATER,
        CloseCode.TOO_SLOW,
        CloseCode.TICKET_INVALID,
        CloseCode.TICKET_EXPIRED,
        CloseCode.TICKET_USED,
        CloseCode.JOIN_REQUIRED,
    }
)

# Codec error codes (`ProtocolError.code`) that end the connection instead of an `error` reply.
FATAL_PROTOCOL_ERRORS: Final[dict[str, CloseCode]] = {
    "too_big": CloseCode.MESSAGE_TOO_BIG,
    "unsupported_version": CloseCode.UNSUPPORTED_VERSION,
}
