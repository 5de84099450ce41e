"""Admitting a socket to its seat: the ticket, the chat's notes, the seat, `joined`, `peer_joined`.

No database read on the way (docs/architecture.md, "The join path reads no database"): the ticket
carries the chat's facts as the join endpoint read them, and the broker's chat notes say what
changed since (rooms/chat_notes.py). The chat log is read only when it may hold something the
client has not seen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, cast

from sqlalchemy.ext.asyncio import AsyncEngine

from rooms import attendance, chatlog
from rooms.broker import Broker, SeatRecord, SeatState
from rooms.chat_notes import ChatChange, change_after_minting, must_read_log
from rooms.closing_timers import ClosingTimers
from rooms.tickets import Ticket, TicketError, TicketProblem, verify_ticket
from rooms.timeline import from_ms, to_ms
from scheduling.clock import Clock
from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.connection import Connection
from signaling.envelope import PeerLink
from signaling.negotiation import media_action, roles
from signaling.relay_glue import MediaRelayHub
from signaling.switchboard import Switchboard

SEAT_TTL_S: Final = 90
# Joins this close to the room's close are written at once rather than batched, so a settler on
# another node (which cannot flush this node's buffer) never runs before they are stored.
WRITE_THROUGH_BEFORE_CLOSE: Final = timedelta(seconds=15)

# (chat id, user id, when the credentials should expire) -> the ICE servers for that seat.
IceServersFor = Callable[[str, str, datetime], Sequence[m.IceServer]]


class JoinRefused(Exception):
    def __init__(self, code: CloseCode) -> None:
        super().__init__(code.reason)
        self.code = code


def _refusal(change: ChatChange) -> JoinRefused:
    return JoinRefused(
        CloseCode.CHAT_CANCELLED if change.reason == "cancelled" else CloseCode.RESCHEDULED
    )


def _ticket_refusal(exc: TicketError) -> JoinRefused:
    expired = exc.problem == TicketProblem.EXPIRED
    return JoinRefused(CloseCode.TICKET_EXPIRED if expired else CloseCode.TICKET_INVALID)


def flags(seat: SeatRecord | None) -> m.MediaFlags:
    if seat is None:
        return m.MediaFlags(mic=False, camera=False, screen=False)
    return m.MediaFlags(mic=seat.mic, camera=seat.camera, screen=seat.screen)


def peer_info(user_id: str, name: str, seat: SeatRecord | None) -> m.PeerInfo:
    return m.PeerInfo(
        present=seat is not None,
        state="absent" if seat is None else seat.state.value,
        user_id=user_id,
        name=name,
        media_state=flags(seat),
    )


def labels(seat: SeatRecord) -> list[m.PeerTrackInfo]:
    """A seat's stored `track_info`s, as its peer receives them (docs/protocol.md 4)."""
    # The stored purposes came in as `track_info` and were validated then.
    return [
        m.PeerTrackInfo(mid=mid, purpose=cast(m.TrackPurpose, purpose))
        for mid, purpose in seat.tracks.items()
    ]


def _entry(msg: chatlog.StoredMessage) -> m.ChatEntry:
    return m.ChatEntry(
        seq=msg.seq,
        client_msg_id=msg.client_msg_id,
        sender_id=msg.sender_id,
        text=msg.text,
        sent_at=to_ms(msg.sent_at),
    )


@dataclass(eq=False)
class Admission:
    secret: str
    board: Switchboard
    broker: Broker
    engine: AsyncEngine
    clock: Clock
    joins: attendance.JoinBuffer
    closing_timers: ClosingTimers[Connection]
    ice_servers_for: IceServersFor
    relay: MediaRelayHub | None
    reconnect_grace_s: int
    on_admitted: Callable[[Ticket], None]  # the node's socket-event and metrics hook

    async def join(self, conn: Connection, msg: m.Join) -> None:
        """Admit the socket to its seat or raise JoinRefused with the documented close code."""
        now = self.clock.now()
        try:
            ticket = verify_ticket(self.secret, msg.ticket, now)
        except TicketError as exc:
            raise _ticket_refusal(exc) from exc
        now_ms = to_ms(now)
        ttl = max(1, (ticket.expires_ms - now_ms) // 1000 + 5)
        room = ticket.room
        lookup = await self.broker.open_join(ticket.nonce, ttl, room.chat_id, room.user_id)
        if ticket.epoch != lookup.epoch:
            # Minted before the broker lost its used tickets and chat notes (rooms/tickets.py):
            # neither unused nor still valid can be shown. A fresh ticket reads the database.
            raise JoinRefused(CloseCode.TICKET_INVALID)
        if not lookup.first:
            raise JoinRefused(CloseCode.TICKET_USED)
        if now_ms < room.opens_ms:
            raise JoinRefused(CloseCode.TOO_EARLY)
        if now_ms >= room.closes_ms:
            raise JoinRefused(CloseCode.CHAT_ENDED)
        # Before touching any seat: a stale ticket must not replace the person's live tab.
        change = change_after_minting(lookup.notes, ticket)
        if change is not None:
            raise _refusal(change)
        await self._admit(conn, msg, ticket, now, lookup.seat)

    async def _take_seat(
        self, conn: Connection, msg: m.Join, ticket: Ticket, previous: SeatRecord | None
    ) -> tuple[bool, dict[str, str], SeatRecord | None]:
        """Write this socket's seat over `previous` (another tab's, or a dropped one), then
        read the chat's notes and the peer's seat. Returns whether `previous` was on a node that
        died without anyone noticing yet (then this join is a resume after a drop, and the peer
        is told so first), the notes, and the peer's seat."""
        room = ticket.room
        conn.chat_id, conn.user_id, conn.peer_id = room.chat_id, room.user_id, room.peer_id
        conn.can_restart_ice = msg.can_restart_ice
        # The seat still names a live socket: another tab of this person, or a socket whose end
        # nobody has noticed yet (its node died a moment ago, or its drop is still in flight).
        # A join with `resume` says it is the latter; so does a node that stopped saying it is
        # alive. Then the peer hears `peer_reconnecting` first, as for any drop.
        stale = (
            previous is not None
            and previous.conn_id != conn.conn_id
            and previous.state == SeatState.CONNECTED
        )
        node_dead = (
            stale
            and previous is not None
            and previous.node_id != self.board.node_id
            and not await self.broker.alive({previous.node_id})
        )
        dropped = stale and (node_dead or msg.resume is not None)
        if stale and not node_dead and previous is not None:
            await self.board.to_seat(
                previous.node_id,
                room.chat_id,
                room.user_id,
                m.Replaced(message=CloseCode.REPLACED.reason),
                conn_id=previous.conn_id,
                close=CloseCode.REPLACED,
            )
        kept = previous is not None and msg.resume is not None and msg.resume.media_kept
        seat = SeatRecord(
            self.board.node_id,
            conn.conn_id,
            SeatState.CONNECTED,
            room.name,
            mic=previous.mic if previous else True,
            camera=previous.camera if previous else True,
            screen=False,
            can_restart_ice=msg.can_restart_ice,
            # The labels of a connection the client kept still hold for an ICE restart.
            tracks=dict(previous.tracks) if kept and previous is not None else {},
        )
        conn.early = []
        old = self.board.local.get((room.chat_id, room.user_id))
        if old is not None and old is not conn:
            old.closing = True  # replaced on this node: its close is on the way
        self.board.local[(room.chat_id, room.user_id)] = conn
        conn.joined = True  # from here on, a failure is cleaned up as for any joined socket
        conn.seat = seat
        notes, peer_seat = await self.broker.take_seat(
            room.chat_id, room.user_id, seat, SEAT_TTL_S, room.peer_id
        )
        return dropped, notes, peer_seat

    async def _admit(
        self,
        conn: Connection,
        msg: m.Join,
        ticket: Ticket,
        now: datetime,
        previous: SeatRecord | None,
    ) -> None:
        room = ticket.room
        chat_id, user_id, peer_id = room.chat_id, room.user_id, room.peer_id
        # The notes are read (again) after the seat is visible: a cancel, or a chat sender,
        # notes the chat first and looks our seat up afterwards, so whatever we do not see here
        # reaches us live (buffered in `conn.early` until `joined` is out). Likewise the peer's
        # seat: whichever of two joining people writes second sees the other.
        dropped, notes, peer_seat = await self._take_seat(conn, msg, ticket, previous)
        change = change_after_minting(notes, ticket)
        if change is not None:
            await self._unseat(conn)
            raise _refusal(change)
        resume_seq = msg.resume.last_seq if msg.resume else 0
        if must_read_log(notes, ticket, resume_seq):
            history, last_seq = await chatlog.since(self.engine, chat_id, resume_seq)
        else:
            history, last_seq = [], resume_seq
        closes_at = from_ms(room.closes_ms)
        # Entering (no seat held): `participant.joined`; a resume or another tab is not one.
        self.joins.add(chat_id, user_id, now, entered=previous is None)
        if closes_at - now <= WRITE_THROUGH_BEFORE_CLOSE:
            await self.joins.flush()
        peer_connected = peer_seat is not None and peer_seat.state == SeatState.CONNECTED
        relay = self.relay if room.media_mode == "relay" else None
        action = media_action(
            peer_connected=peer_connected,
            seat_was_held=previous is not None,
            media_kept=msg.resume is not None and msg.resume.media_kept,
            can_restart_ice=msg.can_restart_ice,
            peer_can_restart_ice=peer_seat is not None and peer_seat.can_restart_ice,
            relay_mode=relay is not None,
        )
        if peer_seat is not None:
            conn.peer = PeerLink(
                peer_seat.node_id, peer_seat.conn_id, peer_connected, peer_seat.can_restart_ice
            )
        if relay is not None:
            relay.admitted(chat_id, action)
        polite, offerer = roles(room.role, relay is not None)
        now_ms = to_ms(now)
        conn.send(
            m.Joined(
                you=m.You(user_id=user_id, role=room.role, name=room.name),
                peer=peer_info(peer_id, room.peer_name, peer_seat),
                polite=polite,
                offerer=offerer,
                media_action=action,
                history=tuple(_entry(h) for h in history),
                last_seq=last_seq,
                ends_at=room.closes_ms,
                now=now_ms,
                seconds_left=max(0, (room.closes_ms - now_ms) // 1000),
                media_mode=room.media_mode,
                ice_servers=tuple(self.ice_servers_for(chat_id, user_id, closes_at)),
            )
        )
        if action == "ice_restart" and peer_seat is not None:
            # Same connections on both sides: labels the peer sent while we were away hold.
            for label in labels(peer_seat):
                conn.send(label)
        self.board.joined(conn, last_seq)
        conn.closes_at = closes_at
        self.closing_timers.add(conn, closes_at, now)
        self.on_admitted(ticket)
        if peer_connected and peer_seat is not None:
            if dropped:  # nobody told the peer yet that this seat's socket was gone
                await self.board.to_seat(
                    peer_seat.node_id,
                    chat_id,
                    peer_id,
                    m.PeerReconnecting(grace_s=self.reconnect_grace_s),
                    conn_id=peer_seat.conn_id,
                )
            await self._tell_peer(conn, msg, ticket, peer_seat, action, previous is not None)

    async def _tell_peer(
        self,
        conn: Connection,
        msg: m.Join,
        ticket: Ticket,
        peer_seat: SeatRecord,
        action: m.MediaAction,
        resumed: bool,
    ) -> None:
        room = ticket.room
        seat = conn.seat
        assert seat is not None
        await self.board.to_seat(
            peer_seat.node_id,
            room.chat_id,
            room.peer_id,
            m.PeerJoined(
                peer=peer_info(room.user_id, room.name, seat),
                resumed=resumed,
                media_action=action,
            ),
            conn_id=peer_seat.conn_id,
            peer=PeerLink(self.board.node_id, conn.conn_id, True, msg.can_restart_ice),
        )
        if action == "ice_restart":
            for label in labels(seat):
                await self.board.to_seat(
                    peer_seat.node_id, room.chat_id, room.peer_id, label, conn_id=peer_seat.conn_id
                )

    async def _unseat(self, conn: Connection) -> None:
        """Undo a seat taken by a join that is then refused."""
        conn.joined = False
        self.board.forget(conn)
        await self.broker.delete_seat(conn.chat_id, conn.user_id, conn.conn_id)
