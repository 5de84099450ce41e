"""Join tickets (rooms/tickets.py): the only credential a WebSocket ever carries.

A ticket must come back with exactly the chat, user and room facts it was minted with (the join
trusts them instead of reading the database), refuse any change with "invalid" (never a crash:
the socket maps each problem to its own close code), and expire at its stated millisecond, so
these are checked at their edges.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from rooms.tickets import (
    RoomPass,
    TicketError,
    TicketProblem,
    _b64,
    _sign,
    mint_ticket,
    verify_ticket,
)
from signaling import messages as m
from signaling.codec import decode, encode
from tests.support.app import TEST_SECRET

NOW = datetime(2026, 12, 1, 7, 58, tzinfo=UTC)
LATER = NOW + timedelta(seconds=60)
MS = timedelta(milliseconds=1)


EPOCH = "epoch-1"  # the broker's, as the join endpoint reads it


def room(chat_id: str = "chat", user_id: str = "sam", **facts: object) -> RoomPass:
    values: dict[str, object] = {
        "role": "participant",
        "name": "Sam Park",
        "peer_id": "ada",
        "peer_name": "Ada Lovelace",
        "opens_ms": 1_764_575_880_000,
        "closes_ms": 1_764_577_920_000,
        "media_mode": "p2p",
        "history_seq": 0,
        "version": 0,
    }
    values.update(facts)
    return RoomPass(chat_id=chat_id, user_id=user_id, **values)  # type: ignore[arg-type]


def mint(chat_id: str, user_id: str, expires: datetime, secret: str = TEST_SECRET) -> str:
    return mint_ticket(secret, room(chat_id, user_id), expires, EPOCH)


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
    raw = mint("chat.42", user_id, LATER)
    ticket = verify_ticket(TEST_SECRET, raw, NOW)
    assert (ticket.chat_id, ticket.user_id) == ("chat.42", user_id)
    assert ticket.room == room("chat.42", user_id)
    assert ticket.expires_ms == int(LATER.timestamp() * 1000)
    assert ticket.nonce


def test_every_fact_round_trips() -> None:
    """Names with newlines, quotes and any Unicode, and every number, come back unchanged."""
    facts = room(
        "c",
        "u",
        role="employee",
        name='Zoë "Z" \n\nß-北京\n',
        peer_name="😀" * 200,
        media_mode="relay",
        history_seq=2**53 - 1,
        version=7,
    )
    assert (
        verify_ticket(TEST_SECRET, mint_ticket(TEST_SECRET, facts, LATER, EPOCH), NOW).room == facts
    )


@pytest.mark.parametrize("user_id", ["sam", "😀" * 64, "x" * 64])
def test_ticket_fits_the_join_message(user_id: str) -> None:
    """Even the longest ids and names give a ticket the codec accepts: printable ASCII, no
    spaces, within MAX_TICKET_CHARS."""
    longest = "😀" * m.MAX_NAME_CHARS
    raw = mint_ticket(
        TEST_SECRET, room("f" * 64, user_id, name=longest, peer_name=longest), LATER, EPOCH
    )
    assert 1 <= len(raw) <= m.MAX_TICKET_CHARS and raw.isascii() and raw.isprintable()
    assert " " not in raw
    assert decode(encode(m.Join(v=1, ticket=raw), binary=False)) == m.Join(v=1, ticket=raw)


def test_each_ticket_is_unique() -> None:
    """Single use is enforced per nonce, so two tickets for the same seat must differ."""
    tickets = {mint("c", "u", LATER) for _ in range(50)}
    assert len(tickets) == 50
    assert len({verify_ticket(TEST_SECRET, t, NOW).nonce for t in tickets}) == 50


def test_tampering_with_the_payload_is_invalid() -> None:
    """Re-encoding the payload for another user, a later close or an older version without the
    secret does not verify."""
    raw = mint("chat", "sam", LATER)
    encoded, signature = raw.rsplit(".", 1)
    payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    for old, new in (('"sam"', '"ada"'), ("1764577920000", "1864577920000"), (",0,0,", ",0,1,")):
        assert old in payload
        forged = base64.urlsafe_b64encode(payload.replace(old, new, 1).encode())
        assert problem_of(f"{forged.rstrip(b'=').decode()}.{signature}") == TicketProblem.INVALID


def test_every_single_character_change_is_invalid() -> None:
    """No position in the ticket can be altered without detection."""
    raw = mint("chat", "sam", LATER)
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
    raw = mint("chat", "sam", LATER, secret="another-secret")
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
    raw = mint("chat", "sam", NOW - timedelta(hours=1), secret="another-secret")
    assert problem_of(raw) == TicketProblem.INVALID


def test_expiry_edge_is_exclusive_to_the_millisecond() -> None:
    """Valid up to the millisecond before its expiry, expired at that millisecond."""
    raw = mint("chat", "sam", LATER)
    assert verify_ticket(TEST_SECRET, raw, LATER - MS).user_id == "sam"
    assert problem_of(raw, LATER) == TicketProblem.EXPIRED
    assert problem_of(raw, LATER + timedelta(days=365)) == TicketProblem.EXPIRED


def test_sub_millisecond_expiry_is_truncated_consistently() -> None:
    """Mint and verify agree on milliseconds, so a fractional expiry never adds a millisecond."""
    expires = LATER + timedelta(microseconds=999)
    raw = mint("chat", "sam", expires)
    assert verify_ticket(TEST_SECRET, raw, LATER - MS).expires_ms == int(LATER.timestamp() * 1000)
    assert problem_of(raw, LATER) == TicketProblem.EXPIRED


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"{}",
        b"[]",
        b"[2]",
        b'[1,"chat","sam"]',  # another format version
        b'[2,"c","u","participant","n","p","pn",1,2,"p2p",0,0,3,"nonce","extra"]',
        b'[2,"c","u","organizer","n","p","pn",1,2,"p2p",0,0,3,"nonce"]',  # not a seat's role
        b'[2,"c","u","participant","n","p","pn","1",2,"p2p",0,0,3,"nonce"]',  # a number as text
        b'[2,"c","u","participant","n","p","pn",1,2.5,"p2p",0,0,3,"nonce"]',
        b'[2,"c",7,"participant","n","p","pn",1,2,"p2p",0,0,3,"nonce"]',
        b'[2,"c","u","participant","n","p","pn",1,2,"p2p",0,true,3,"nonce"]',
    ],
)
def test_signed_but_malformed_payload_is_invalid(payload: bytes) -> None:
    """Even a payload carrying our signature is parsed strictly: the wrong shape is invalid."""
    raw = f"{_b64(payload)}.{_sign(TEST_SECRET.encode(), payload)}"
    assert problem_of(raw) == TicketProblem.INVALID
