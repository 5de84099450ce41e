"""Join tickets (rooms/tickets.py): the only credential a WebSocket ever carries.

A ticket must come back with exactly the chat and user it was minted for, refuse any change
with "invalid" (never a crash: the socket maps each problem to its own close code), and expire
at its stated millisecond, so these are checked at their edges.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from rooms.tickets import TicketError, TicketProblem, mint_ticket, verify_ticket
from signaling import messages as m
from signaling.codec import decode, encode
from tests.conftest import TEST_SECRET

NOW = datetime(2026, 12, 1, 7, 58, tzinfo=UTC)
LATER = NOW + timedelta(seconds=60)
MS = timedelta(milliseconds=1)


def problem_of(raw: str, now: datetime = NOW, secret: str = TEST_SECRET) -> TicketProblem:
    with pytest.raises(TicketError) as refused:
        verify_ticket(secret, raw, now)
    return refused.value.problem


@pytest.mark.parametrize(
    "user_id",
    ["sam", "first.last", "a.b.c.", "zoë-ß-北京", "😀" * 64, "x" * 64, "user:1/2@x"],
)
def test_round_trip_keeps_chat_user_and_expiry(user_id: str) -> None:
    """Dots (the signature separator) and any Unicode in ids survive intact."""
    raw = mint_ticket(TEST_SECRET, "chat.42", user_id, LATER)
    ticket = verify_ticket(TEST_SECRET, raw, NOW)
    assert (ticket.chat_id, ticket.user_id) == ("chat.42", user_id)
    assert ticket.expires_ms == int(LATER.timestamp() * 1000)
    assert ticket.nonce


@pytest.mark.parametrize("user_id", ["sam", "😀" * 64, "x" * 64])
def test_ticket_fits_the_join_message(user_id: str) -> None:
    """Even the longest ids give a ticket the codec accepts: 1-512 printable ASCII, no spaces."""
    raw = mint_ticket(TEST_SECRET, "f" * 32, user_id, LATER)
    assert 1 <= len(raw) <= m.MAX_TICKET_CHARS and raw.isascii() and raw.isprintable()
    assert " " not in raw
    assert decode(encode(m.Join(v=1, ticket=raw), binary=False)) == m.Join(v=1, ticket=raw)


def test_each_ticket_is_unique() -> None:
    """Single use is enforced per nonce, so two tickets for the same seat must differ."""
    tickets = {mint_ticket(TEST_SECRET, "c", "u", LATER) for _ in range(50)}
    assert len(tickets) == 50
    assert len({verify_ticket(TEST_SECRET, t, NOW).nonce for t in tickets}) == 50


def test_tampering_with_the_payload_is_invalid() -> None:
    """Re-encoding the payload for another user without the secret does not verify."""
    raw = mint_ticket(TEST_SECRET, "chat", "sam", LATER)
    encoded, signature = raw.rsplit(".", 1)
    payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    forged = payload.replace("sam", "ada", 1)
    forged_encoded = base64.urlsafe_b64encode(forged.encode()).rstrip(b"=").decode()
    assert problem_of(f"{forged_encoded}.{signature}") == TicketProblem.INVALID
    longer = payload.replace(payload.split("\n")[2], str(10**15), 1)
    longer_encoded = base64.urlsafe_b64encode(longer.encode()).rstrip(b"=").decode()
    assert problem_of(f"{longer_encoded}.{signature}") == TicketProblem.INVALID


def test_every_single_character_change_is_invalid() -> None:
    """No position in the ticket can be altered without detection."""
    raw = mint_ticket(TEST_SECRET, "chat", "sam", LATER)
    for i, char in enumerate(raw):
        if char == ".":
            continue
        swapped = raw[:i] + ("A" if char != "A" else "B") + raw[i + 1 :]
        try:
            verify_ticket(TEST_SECRET, swapped, NOW)
        except TicketError as exc:
            assert exc.problem == TicketProblem.INVALID
        else:
            # Base64 can map two characters to the same bytes only in the final padding bits.
            assert verify_ticket(TEST_SECRET, swapped, NOW) == verify_ticket(TEST_SECRET, raw, NOW)


def test_another_secret_is_invalid() -> None:
    """Tickets from another deployment (or the JWT secret misconfigured) never verify."""
    raw = mint_ticket("another-secret", "chat", "sam", LATER)
    assert problem_of(raw) == TicketProblem.INVALID


@pytest.mark.parametrize(
    "raw",
    [
        "",
        ".",
        "no-dot-at-all",
        "tkt_9f8e7d6c5b4a3210",
        "a.b.c",
        "%%%.###",
        "é.abc",
        "Ywp1CjEKbg.é",  # a well-formed payload with a non-ASCII signature
        "a\ud800.b",
        base64.urlsafe_b64encode(b"\xff\xfe").decode() + ".sig",
    ],
)
def test_garbage_is_invalid_not_an_exception(raw: str) -> None:
    """Whatever arrives, the answer is TicketError(INVALID): nothing else may escape."""
    assert problem_of(raw) == TicketProblem.INVALID


def test_invalid_wins_over_expired() -> None:
    """An expired forgery is reported as invalid: expiry is only read from a trusted payload."""
    raw = mint_ticket("another-secret", "chat", "sam", NOW - timedelta(hours=1))
    assert problem_of(raw) == TicketProblem.INVALID


def test_expiry_edge_is_exclusive_to_the_millisecond() -> None:
    """Valid up to the millisecond before its expiry, expired at that millisecond."""
    raw = mint_ticket(TEST_SECRET, "chat", "sam", LATER)
    assert verify_ticket(TEST_SECRET, raw, LATER - MS).user_id == "sam"
    assert problem_of(raw, LATER) == TicketProblem.EXPIRED
    assert problem_of(raw, LATER + timedelta(days=365)) == TicketProblem.EXPIRED


def test_sub_millisecond_expiry_is_truncated_consistently() -> None:
    """Mint and verify agree on milliseconds, so a fractional expiry never adds a millisecond."""
    expires = LATER + timedelta(microseconds=999)
    raw = mint_ticket(TEST_SECRET, "chat", "sam", expires)
    assert verify_ticket(TEST_SECRET, raw, LATER - MS).expires_ms == int(LATER.timestamp() * 1000)
    assert problem_of(raw, LATER) == TicketProblem.EXPIRED
