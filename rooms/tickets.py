"""Single-use join tickets: a short signed string bound to one user, one chat and ~60 seconds.

Signed rather than stored, so any node can verify a ticket minted by another; single use is
enforced by claiming its nonce once in the broker (in memory, or Redis across nodes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TicketProblem(StrEnum):
    INVALID = "invalid"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Ticket:
    chat_id: str
    user_id: str
    expires_ms: int
    nonce: str


class TicketError(Exception):
    def __init__(self, problem: TicketProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(secret: bytes, payload: str) -> str:
    # Domain-separated from the JWT use of the same secret.
    return _b64(
        hmac.new(secret, b"duet-ticket\x00" + payload.encode(), hashlib.sha256).digest()[:18]
    )


def mint_ticket(secret: str, chat_id: str, user_id: str, expires_at: datetime) -> str:
    payload = "\n".join(
        (chat_id, user_id, str(int(expires_at.timestamp() * 1000)), secrets.token_urlsafe(12))
    )
    encoded = _b64(payload.encode())
    return f"{encoded}.{_sign(secret.encode(), payload)}"


def verify_ticket(secret: str, ticket: str, now: datetime) -> Ticket:
    """The ticket's claims if its signature holds and it has not expired; never trusts content first."""
    if not ticket.isascii():
        # Tickets are ASCII; hmac.compare_digest would raise TypeError on a non-ASCII str.
        raise TicketError(TicketProblem.INVALID)
    try:
        encoded, signature = ticket.rsplit(".", 1)
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise TicketError(TicketProblem.INVALID) from exc
    if not hmac.compare_digest(signature, _sign(secret.encode(), payload)):
        raise TicketError(TicketProblem.INVALID)
    try:
        chat_id, user_id, expires, nonce = payload.split("\n")
        expires_ms = int(expires)
    except ValueError as exc:
        raise TicketError(TicketProblem.INVALID) from exc
    if expires_ms <= int(now.timestamp() * 1000):
        raise TicketError(TicketProblem.EXPIRED)
    return Ticket(chat_id, user_id, expires_ms, nonce)
