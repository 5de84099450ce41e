"""The signaling node: joins, presence, relaying and the chat panel for the sockets on this node.

Rooms are not objects held in one place: each node knows its own sockets, and the broker's seat
directory says where everyone else's are. A connection tracks its peer's node and connection
from presence messages, so relaying an offer or a candidate is one hop with no lookup.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import msgpack
from sqlalchemy.ext.asyncio import AsyncEngine

from rooms import attendance, chatlog
from rooms.broker import Broker, BrokerUnavailable, SeatRecord, SeatState
from rooms.chat_notes import (
    HAS_HISTORY,
    NOTES_TTL_S,
    ChatChange,
    change_after_minting,
    must_read_log,
)
from rooms.closing_timers import ClosingTimers
from rooms.tickets import Ticket, TicketError, TicketProblem, verify_ticket
from rooms.timeline import from_ms, to_ms
from scheduling.clock import Clock
from scheduling.model import ChatState
from scheduling.store_chats import ChatRecord
from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.codec import ErrorCode, decode_server, encode_json_bytes
from signaling.connection import Connection
from signaling.relay_glue import MediaRelayHub

log = logging.getLogger("duet.signaling.node")

SEAT_TTL_S = 90
SETTLE_EVERY_S = 30
# Joins this close to the room's close are written at once rather than batched, so a settler on
# another node (which cannot flush this node's buffer) never runs before they are stored.
WRITE_THROUGH_BEFORE_CLOSE = timedelta(seconds=15)
# How long a chat message waits for a lower `seq` still on its way (through Redis: ~2-20 ms)
# before the log is read for it.
CHAT_GAP_WAIT = timedelta(milliseconds=500)
# Seat TTL refreshes per Redis pipeline.
REFRESH_BATCH = 500
# During a join (or drop) storm, re-freeze the heap every this many of them (see `_refreeze`):
# ~65 objects per socket, so a collection between freezes walks at most ~26k of them. The
# settle timer re-freezes after any.
REFREEZE_AFTER_EVENTS = 400
# A re-freeze collects the old generation first when it holds fewer objects than this (~10 ms).
FREEZE_FULL_IF_BELOW = 40_000

# Server closes that end the room for both seats: each seat gets its own `room_closing`.
_ROOM_CLOSES = frozenset({CloseCode.CHAT_CANCELLED, CloseCode.ROOM_CLOSED, CloseCode.RESCHEDULED})
# Server closes after which the client reconnects with `resume` (close_codes `retry`).
_RECONNECTING_CLOSES = frozenset(code for code in CloseCode if code.retry)

# (chat id, user id, when the credentials should expire) -> the ICE servers for that seat.
IceServersFor = Callable[[str, str, datetime], Sequence[m.IceServer]]


@dataclass(frozen=True, slots=True)
class NodeSettings:
    secret: str
    reconnect_grace_s: int = 60


# What a peer's connection learns when the other seat is gone (left, or its grace ran out).
_PEER_GONE: dict[str, Any] = {"node": "", "conn": "", "connected": False, "ice": True}


# Relayed as they came (`forward`): they encode exactly as their relayed form.
_RELAYED = frozenset({m.Offer, m.Answer, m.Candidate})


def _envelope(
    chat_id: str,
    user_id: str,
    conn_id: str | None,
    msg: m.ServerMessage | None,
    close: CloseCode | None,
    peer: dict[str, Any] | None,
    seq: int | None = None,
) -> bytes:
    """A message (as the JSON frame to write) or a close for one seat on another node; `seq`
    is a chat message's, so the receiving node can order it without decoding it."""
    return msgpack.packb(
        {
            "c": chat_id,
            "u": user_id,
            "x": conn_id,
            "j": None if msg is None else encode_json_bytes(msg),
            "close": None if close is None else int(close),
            "peer": peer,
            "q": seq,
        }
    )


class JoinRefused(Exception):
    def __init__(self, code: CloseCode) -> None:
        super().__init__(code.reason)
        self.code = code


def _refusal(change: ChatChange) -> JoinRefused:
    return JoinRefused(
        CloseCode.CHAT_CANCELLED if change.reason == "cancelled" else CloseCode.RESCHEDULED
    )


def _flags(seat: SeatRecord | None) -> m.MediaFlags:
    if seat is None:
        return m.MediaFlags(mic=False, camera=False, screen=False)
    return m.MediaFlags(mic=seat.mic, camera=seat.camera, screen=seat.screen)


def _peer_info(user_id: str, name: str, seat: SeatRecord | None) -> m.PeerInfo:
    state = "absent" if seat is None else seat.state.value
    return m.PeerInfo(
        present=seat is not None, state=state, user_id=user_id, name=name, media_state=_flags(seat)
    )  # type: ignore[arg-type]


def _labels(seat: SeatRecord) -> list[m.PeerTrackInfo]:
    """A seat's stored `track_info`s, as its peer receives them (docs/protocol.md 4)."""
    return [
        m.PeerTrackInfo(mid=mid, purpose=purpose)  # type: ignore[arg-type]
        for mid, purpose in seat.tracks.items()
    ]


def _write(conn: Connection, item: m.ServerMessage | bytes) -> None:
    if isinstance(item, bytes):
        conn.send_json(item)
    else:
        conn.send(item)


def _stored_message(msg: chatlog.StoredMessage) -> m.ChatMessage:
    return m.ChatMessage(
        seq=msg.seq,
        client_msg_id=msg.client_msg_id,
        sender_id=msg.sender_id,
        text=msg.text,
        sent_at=to_ms(msg.sent_at),
    )


def _entry(msg: chatlog.StoredMessage) -> m.ChatEntry:
    return m.ChatEntry(
        seq=msg.seq,
        client_msg_id=msg.client_msg_id,
        sender_id=msg.sender_id,
        text=msg.text,
        sent_at=to_ms(msg.sent_at),
    )


class SignalingNode:
    def __init__(
        self,
        engine: AsyncEngine,
        broker: Broker,
        clock: Clock,
        settings: NodeSettings,
        ice_servers_for: IceServersFor,
        relay: MediaRelayHub | None = None,
    ) -> None:
        self.engine = engine
        self.broker = broker
        self.clock = clock
        self.settings = settings
        self.ice_servers_for = ice_servers_for
        self.local: dict[tuple[str, str], Connection] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._settle_timer: Any = None
        # "inline": relayed as parsed (signaling/aiohttp_internals.py), a part of "relayed".
        self.stats = {"relayed": 0, "inline": 0, "joins": 0, "refused": 0}
        # Relay mode (media_mode "relay"): media messages of those chats go to the hub instead.
        self.relay = relay
        if relay is not None:
            relay.attach(
                lambda chat, user, msg: self._deliver_local(chat, user, None, msg, None, None)
            )
        self.joins = attendance.JoinBuffer(engine)
        self.closing_timers: ClosingTimers[Connection] = ClosingTimers(
            clock,
            lambda conn, seconds: conn.send(m.TimeWarning(seconds_left=seconds)),
            lambda conn: conn.close(
                CloseCode.ROOM_CLOSED,
                m.RoomClosing(reason="ended", message=CloseCode.ROOM_CLOSED.reason),
            ),
        )
        self._socket_events = 0  # joins and disconnects, for `_refreeze`
        self._frozen_at_events = 0
        # Connection ids: a random prefix per node instance and a counter, unique across nodes
        # and restarts without a uuid4 (an os.urandom call) per socket.
        self._conn_prefix = secrets.token_hex(6)
        self._conn_ids = itertools.count(1)
        # Set by `duet serve`, which froze its start-up heap: see `_refreeze`.
        self.refreeze_heap = False

    def new_conn_id(self) -> str:
        return f"{self._conn_prefix}{next(self._conn_ids):x}"

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.broker.start(self._deliver, self._rewrite_seats)
        self._schedule_settle()

    async def close(self) -> None:
        if self._settle_timer is not None:
            self._settle_timer.cancel()
        self.closing_timers.cancel_all()
        for conn in list(self.local.values()):
            conn.closing = False
            conn.close(CloseCode.GOING_AWAY)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        try:
            await self.joins.close()
        except Exception:
            log.exception("could not record the last joins at shutdown")
        await self.broker.close()

    def spawn(self, coro: Any, name: str) -> None:
        """Run work a timer started; tracked so shutdown cancels it (no orphan tasks)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def _schedule_settle(self) -> None:
        self._settle_timer = self.clock.call_at(
            self.clock.now() + timedelta(seconds=SETTLE_EVERY_S),
            lambda: self.spawn(self._settle(), "settle"),
        )

    async def _settle(self) -> None:
        try:
            self._refreeze(1)
            await self._refresh_seats()
            await attendance.settle_ended(self.engine, self.clock.now(), [self.joins])
        finally:
            self._schedule_settle()

    def _refreeze(self, min_events: int) -> None:
        """Move the objects of sockets that joined (or dropped) since the last freeze out of the
        collector's sight: with 10,000 sockets, full collections walking them paused the loop
        for seconds (docs/performance.md, finding 2). `gc.freeze()` is O(1). A young collection
        first keeps fresh garbage out of the permanent generation. Frozen objects are still
        freed by reference counting; only cycles would stay for good, and a socket's life makes
        none (tests/test_signaling_fast_paths.py). Drops count too: a thousand sockets dropping
        at once leave grace timers behind, enough for a young collection of ~100 ms.
        """
        if not self.refreeze_heap or self._socket_events - self._frozen_at_events < min_events:
            return
        self._frozen_at_events = self._socket_events
        # Outside join storms (the settle tick), collect the old generation too when that is
        # short: `duet serve` promotes survivors every 0.25 s and runs no automatic full
        # collections (web/gc_policy.py), so a cycle that died after its promotion would be
        # frozen for good. Not during a storm: a full collection costs ~4 ms however little
        # it finds, which every 400 joins was 10 % of a join's CPU.
        full = min_events == 1 and len(gc.get_objects(2)) < FREEZE_FULL_IF_BELOW
        gc.collect(2 if full else 1)
        gc.freeze()

    async def _refresh_seats(self) -> None:
        """Keep live seats from expiring: in Redis a seat lives SEAT_TTL_S unless refreshed.

        In pipelined batches: one awaited round trip per seat took 5,000 sequential round trips
        per node every 30 s (docs/performance.md, finding 5)."""
        seats = [
            (conn.chat_id, conn.user_id, conn.conn_id)
            for conn in list(self.local.values())
            if conn.joined and not conn.closing
        ]
        for start in range(0, len(seats), REFRESH_BATCH):
            try:
                await self.broker.refresh_seats(seats[start : start + REFRESH_BATCH], SEAT_TTL_S)
            except BrokerUnavailable:
                return  # the listener rewrites every seat once the broker is back

    async def _rewrite_seats(self) -> None:
        """After the shared store came back empty (a Redis restart), write our live seats again."""
        for conn in list(self.local.values()):
            if conn.joined and not conn.closing:
                seat = self._own_seat(conn)
                await self.broker.put_seat(
                    conn.chat_id,
                    conn.user_id,
                    replace(
                        seat,
                        node_id=self.broker.node_id,
                        conn_id=conn.conn_id,
                        state=SeatState.CONNECTED,
                    ),
                    SEAT_TTL_S,
                )

    def _own_seat(self, conn: Connection) -> SeatRecord:
        if conn.seat is None:
            return SeatRecord(
                self.broker.node_id,
                conn.conn_id,
                SeatState.CONNECTED,
                conn.user_id,
                can_restart_ice=conn.can_restart_ice,
            )
        return conn.seat

    # --- delivery --------------------------------------------------------------------------------

    async def _deliver(self, payload: bytes) -> None:
        """A payload from the broker: a message (or a close) for one seat on this node.

        The message comes as the JSON frame the sending node encoded (`j`), written to the socket
        as is: nodes trust each other, so decoding and validating it again was wasted work
        (docs/performance.md, finding 4). `m` (msgpack) is what nodes before that sent."""
        env = msgpack.unpackb(payload)
        msg: m.ServerMessage | bytes | None = env.get("j")
        if msg is None and env.get("m") is not None:
            msg = decode_server(env["m"])
        self._deliver_local(
            env["c"], env["u"], env.get("x"), msg, env.get("close"), env.get("peer"), env.get("q")
        )

    def _deliver_local(
        self,
        chat_id: str,
        user_id: str,
        conn_id: str | None,
        msg: m.ServerMessage | bytes | None,
        close: int | None,
        peer: dict[str, Any] | None,
        seq: int | None = None,
    ) -> None:
        """`msg` is a message, or bytes: a message another node already encoded as JSON; `seq`
        is set for a chat message (delivered in `seq` order: `_chat_in_order`)."""
        conn = self.local.get((chat_id, user_id))
        if conn is None or (conn_id is not None and conn.conn_id != conn_id):
            return
        if peer is not None:
            conn.peer_node = peer["node"]
            conn.peer_conn = peer["conn"]
            conn.peer_connected = peer["connected"]
            conn.peer_can_restart_ice = peer["ice"]
        if conn.early is not None and close is None:
            if msg is not None:
                conn.early.append((seq, msg))
            return
        if seq is not None and msg is not None and close is None:
            self._chat_in_order(conn, seq, msg)
            return
        if isinstance(msg, bytes):
            conn.send_json(msg)  # as close(code, final) does: the final message, then the close
            msg = None
        if close is not None:
            conn.close(CloseCode(close), msg)
        elif msg is not None:
            conn.send(msg)

    async def _to_seat(
        self,
        node_id: str,
        chat_id: str,
        user_id: str,
        msg: m.ServerMessage | None,
        *,
        conn_id: str | None = None,
        close: CloseCode | None = None,
        peer: dict[str, Any] | None = None,
        seq: int | None = None,
    ) -> None:
        if node_id == self.broker.node_id:
            self._deliver_local(
                chat_id, user_id, conn_id, msg, None if close is None else int(close), peer, seq
            )
            return
        await self.broker.send(node_id, _envelope(chat_id, user_id, conn_id, msg, close, peer, seq))

    # --- chat messages in `seq` order ------------------------------------------------------------

    def _chat_in_order(self, conn: Connection, seq: int, msg: m.ServerMessage | bytes) -> None:
        """Write chat message `seq` to `conn` only after every lower one (docs/protocol.md 5).

        Two people sending at once on two nodes: the sender's own message comes straight from
        its node, the other one's a hop later through Redis, so a socket could see 5 before 4
        and, as the protocol tells clients to, reconnect to fill a gap that was not one. A later
        message waits (`chat_held`) until the gap fills, or at most CHAT_GAP_WAIT_S, after which
        the log is read once for what is missing. Repeats (already sent, or in `joined.history`)
        are dropped.
        """
        if seq <= conn.chat_seq:
            return
        if seq == conn.chat_seq + 1:
            _write(conn, msg)
            conn.chat_seq = seq
            self._release_held(conn)
            return
        if conn.chat_held is None:
            conn.chat_held = {}
            conn.chat_gap_timer = self.clock.call_at(
                self.clock.now() + CHAT_GAP_WAIT,
                lambda: self.spawn(self._fill_chat_gap(conn), f"chat-gap-{conn.conn_id}"),
            )
        conn.chat_held[seq] = msg

    @staticmethod
    def _release_held(conn: Connection) -> None:
        held = conn.chat_held
        if held is None:
            return
        while (item := held.pop(conn.chat_seq + 1, None)) is not None:
            _write(conn, item)
            conn.chat_seq += 1
        for seq in [q for q in held if q <= conn.chat_seq]:
            del held[seq]
        if not held:
            conn.chat_held = None
            if conn.chat_gap_timer is not None:
                conn.chat_gap_timer.cancel()
                conn.chat_gap_timer = None

    async def _fill_chat_gap(self, conn: Connection) -> None:
        """The gap did not fill in time (a node or Redis lost the message): read the log."""
        conn.chat_gap_timer = None
        if conn.chat_held is None or conn.closing:
            return
        entries, _ = await chatlog.since(self.engine, conn.chat_id, conn.chat_seq)
        for entry in entries:
            if entry.seq == conn.chat_seq + 1:
                _write(conn, _stored_message(entry))
                conn.chat_seq = entry.seq
        self._release_held(conn)
        if conn.chat_held:  # not in the log either (cannot happen: stored before sent)
            for seq in sorted(conn.chat_held):
                _write(conn, conn.chat_held[seq])
                conn.chat_seq = seq
            conn.chat_held = None

    def relayable(self, conn: Connection, msg: m.ClientMessage) -> bool:
        """Whether `forward` takes `msg`: an offer, answer or candidate with a peer to send it to,
        in a chat without a media relay. Everything else goes through `handle`."""
        return (
            type(msg) in _RELAYED
            and conn.peer_connected
            and (self.relay is None or conn.chat_id not in self.relay.chats)
        )

    def forward(self, conn: Connection, msg: m.ClientMessage) -> None:
        """Relay a `relayable` message at once, without a coroutine: the hot path. `handle`'s
        four coroutines per message were a measurable share of its CPU (docs/performance.md)."""
        self.stats["relayed"] += 1
        if conn.peer_node == self.broker.node_id:
            self._deliver_local(conn.chat_id, conn.peer_id, conn.peer_conn, msg, None, None)  # type: ignore[arg-type]
        else:
            self.broker.post(
                conn.peer_node,
                _envelope(conn.chat_id, conn.peer_id, conn.peer_conn, msg, None, None),  # type: ignore[arg-type]
            )

    # --- join ------------------------------------------------------------------------------------

    async def join(self, conn: Connection, msg: m.Join) -> None:
        """Admit the socket to its seat or raise JoinRefused with the documented close code.

        No database read: the ticket carries the chat's facts as the join endpoint read them,
        and the broker's chat notes say what changed since (rooms/chat_notes.py). The chat log
        is read only when it may hold something the client has not seen.
        """
        now = self.clock.now()
        try:
            ticket = verify_ticket(self.settings.secret, msg.ticket, now)
        except TicketError as exc:
            raise JoinRefused(
                CloseCode.TICKET_EXPIRED
                if exc.problem == TicketProblem.EXPIRED
                else CloseCode.TICKET_INVALID
            ) from exc
        now_ms = to_ms(now)
        ttl = max(1, (ticket.expires_ms - now_ms) // 1000 + 5)
        if not await self.broker.claim_once(f"ticket:{ticket.nonce}", ttl):
            raise JoinRefused(CloseCode.TICKET_USED)
        if now_ms < ticket.room.opens_ms:
            raise JoinRefused(CloseCode.TOO_EARLY)
        if now_ms >= ticket.room.closes_ms:
            raise JoinRefused(CloseCode.CHAT_ENDED)
        # Before touching any seat: a stale ticket must not replace the person's live tab.
        change = change_after_minting(await self.broker.chat_notes(ticket.chat_id), ticket)
        if change is not None:
            raise _refusal(change)
        await self._admit(conn, msg, ticket, now)

    async def _admit(self, conn: Connection, msg: m.Join, ticket: Ticket, now: datetime) -> None:
        room = ticket.room
        chat_id, user_id, peer_id = room.chat_id, room.user_id, room.peer_id
        conn.chat_id, conn.user_id, conn.peer_id = chat_id, user_id, peer_id
        conn.can_restart_ice = msg.can_restart_ice
        previous = await self.broker.get_seat(chat_id, user_id)
        if (
            previous is not None
            and previous.conn_id != conn.conn_id
            and previous.state == SeatState.CONNECTED
        ):
            await self._to_seat(
                previous.node_id,
                chat_id,
                user_id,
                m.Replaced(message=CloseCode.REPLACED.reason),
                conn_id=previous.conn_id,
                close=CloseCode.REPLACED,
            )
        kept = previous is not None and msg.resume is not None and msg.resume.media_kept
        seat = SeatRecord(
            self.broker.node_id,
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
        old = self.local.get((chat_id, user_id))
        if old is not None and old is not conn:
            old.closing = True  # replaced on this node: its close is on the way
        self.local[(chat_id, user_id)] = conn
        await self.broker.put_seat(chat_id, user_id, seat, SEAT_TTL_S)
        conn.seat = seat
        conn.joined = True
        # Read (again) after the seat is visible: a cancel, or a chat sender, notes the chat
        # first and looks our seat up afterwards, so whatever we do not see here reaches us
        # live (buffered in `conn.early` until `joined` is out).
        notes = await self.broker.chat_notes(chat_id)
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
        self.joins.add(chat_id, user_id, now)
        if closes_at - now <= WRITE_THROUGH_BEFORE_CLOSE:
            await self.joins.flush()
        peer_seat = await self.broker.get_seat(chat_id, peer_id)
        peer_connected = peer_seat is not None and peer_seat.state == SeatState.CONNECTED
        resume = msg.resume
        if not peer_connected:
            action = "none"
        elif (
            resume is not None
            and previous is not None  # seat held: after the grace the peer dropped its media
            and resume.media_kept
            and msg.can_restart_ice
            and peer_seat is not None
            and peer_seat.can_restart_ice
        ):
            action = "ice_restart"
        else:
            action = "new_connection"
        relay = self.relay if room.media_mode == "relay" else None
        if relay is not None and action == "ice_restart":
            action = "new_connection"  # the relay's aiortc peers cannot restart ICE
        if peer_seat is not None:
            conn.peer_node, conn.peer_conn = peer_seat.node_id, peer_seat.conn_id
            conn.peer_connected, conn.peer_can_restart_ice = (
                peer_connected,
                peer_seat.can_restart_ice,
            )
        offerer = room.role == "employee"
        if relay is not None:
            relay.admitted(chat_id, action)
        now_ms = to_ms(now)
        conn.send(
            m.Joined(
                you=m.You(user_id=user_id, role=room.role, name=room.name),  # type: ignore[arg-type]
                peer=_peer_info(peer_id, room.peer_name, peer_seat),
                # In relay mode each client offers to the (impolite) relay: docs/protocol.md 6.
                polite=relay is not None or not offerer,
                offerer=relay is not None or offerer,
                media_action=action,  # type: ignore[arg-type]
                history=tuple(_entry(h) for h in history),
                last_seq=last_seq,
                ends_at=room.closes_ms,
                now=now_ms,
                seconds_left=max(0, (room.closes_ms - now_ms) // 1000),
                media_mode=room.media_mode,  # type: ignore[arg-type]
                ice_servers=tuple(self.ice_servers_for(chat_id, user_id, closes_at)),
            )
        )
        if action == "ice_restart" and peer_seat is not None:
            # Same connections on both sides: labels the peer sent while we were away hold.
            for label in _labels(peer_seat):
                conn.send(label)
        self._flush_early(conn, last_seq)
        conn.closes_at = closes_at
        self.closing_timers.add(conn, closes_at, now)
        self.stats["joins"] += 1
        self._socket_events += 1
        self._refreeze(REFREEZE_AFTER_EVENTS)
        if peer_connected and peer_seat is not None:
            await self._to_seat(
                peer_seat.node_id,
                chat_id,
                peer_id,
                m.PeerJoined(
                    peer=_peer_info(user_id, room.name, seat),
                    resumed=previous is not None,
                    media_action=action,
                ),  # type: ignore[arg-type]
                conn_id=peer_seat.conn_id,
                peer={
                    "node": self.broker.node_id,
                    "conn": conn.conn_id,
                    "connected": True,
                    "ice": msg.can_restart_ice,
                },
            )
            if action == "ice_restart":
                for label in _labels(seat):
                    await self._to_seat(
                        peer_seat.node_id, chat_id, peer_id, label, conn_id=peer_seat.conn_id
                    )

    async def _unseat(self, conn: Connection) -> None:
        """Undo a seat taken by a join that is then refused."""
        conn.joined = False
        key = (conn.chat_id, conn.user_id)
        if self.local.get(key) is conn:
            del self.local[key]
        await self.broker.delete_seat(conn.chat_id, conn.user_id, conn.conn_id)

    def _flush_early(self, conn: Connection, last_seq: int) -> None:
        """Send what arrived during admission, minus chat messages `joined.history` carried."""
        early, conn.early = conn.early or [], None
        conn.chat_seq = last_seq
        for seq, item in early:
            if seq is not None:
                self._chat_in_order(conn, seq, item)
            else:
                _write(conn, item)

    # --- messages after join ---------------------------------------------------------------------

    async def handle(self, conn: Connection, msg: m.ClientMessage) -> None:
        try:
            await self._handle(conn, msg)
        except BrokerUnavailable:
            conn.send(
                m.Error(
                    code=ErrorCode.UNAVAILABLE.value,
                    message="The chat service is briefly unavailable; please try again in a moment.",
                    ref_type=msg.type,
                )
            )

    async def _handle(self, conn: Connection, msg: m.ClientMessage) -> None:
        if isinstance(msg, m.Offer | m.Answer | m.Candidate | m.IceRestartRequest):
            if self.relay is not None and conn.chat_id in self.relay.chats:
                self.relay.handle(conn, msg)  # queued for the relay peer; never awaits it
                return
            if not conn.peer_connected:
                conn.send(
                    m.Error(
                        code=ErrorCode.PEER_ABSENT.value,
                        message="The other person is not in the room right now.",
                        ref_type=msg.type,
                    )
                )
                return
            if isinstance(msg, m.IceRestartRequest) and not (
                conn.can_restart_ice and conn.peer_can_restart_ice
            ):
                conn.send(
                    m.Error(
                        code=ErrorCode.NOT_SUPPORTED.value,
                        message="One side cannot restart ICE; leave and join again to reconnect media.",
                        ref_type=msg.type,
                    )
                )
                return
            # Not `m.relay(msg)`: the client message encodes exactly as its relayed form (checked
            # by tests/test_signaling_fast_paths.py); rebuilding the dataclass cost ~10 µs each.
            self.stats["relayed"] += 1
            await self._to_seat(
                conn.peer_node, conn.chat_id, conn.peer_id, msg, conn_id=conn.peer_conn
            )  # type: ignore[arg-type]
        elif isinstance(msg, m.MediaState | m.TrackInfo):
            seat = self._own_seat(conn)
            if isinstance(msg, m.MediaState):
                seat = replace(seat, mic=msg.mic, camera=msg.camera, screen=msg.screen)
            else:
                seat = replace(seat, tracks={**seat.tracks, msg.mid: msg.purpose})
            conn.seat = seat
            await self.broker.put_seat(conn.chat_id, conn.user_id, seat, SEAT_TTL_S)
            if (
                isinstance(msg, m.TrackInfo)
                and self.relay is not None
                and conn.chat_id in self.relay.chats
            ):
                self.relay.handle(conn, msg)  # the relay labels by mids on the peer's connection
            elif conn.peer_connected:
                await self._to_seat(
                    conn.peer_node, conn.chat_id, conn.peer_id, m.relay(msg), conn_id=conn.peer_conn
                )
        elif isinstance(msg, m.ChatSend):
            await self._chat(conn, msg)
        elif isinstance(msg, m.Ping):
            conn.send(m.Pong(ts=msg.ts))
        elif isinstance(msg, m.Leave):
            conn.left = True
            conn.close(CloseCode.NORMAL)
        elif isinstance(msg, m.Join):
            conn.send(
                m.Error(
                    code=ErrorCode.ALREADY_JOINED.value,
                    message="This connection has already joined the chat.",
                    ref_type="join",
                )
            )

    async def _chat(self, conn: Connection, msg: m.ChatSend) -> None:
        stored = await chatlog.append(
            self.engine, conn.chat_id, conn.user_id, msg.client_msg_id, msg.text, self.clock.now()
        )
        try:
            # Before anything else: a join that does not see this note reads no chat log, so it
            # must find our seat lookup below still ahead (rooms/chat_notes.py).
            await self.broker.note_chat(conn.chat_id, HAS_HISTORY, "1", NOTES_TTL_S)
        except BrokerUnavailable:
            log.warning(
                "could not note chat history of %s; joins fall back on tickets", conn.chat_id
            )
        sent_at = to_ms(stored.sent_at)
        conn.send(m.ChatAck(client_msg_id=msg.client_msg_id, seq=stored.seq, sent_at=sent_at))
        if stored.duplicate:
            return
        out = m.ChatMessage(
            seq=stored.seq,
            client_msg_id=msg.client_msg_id,
            sender_id=conn.user_id,
            text=stored.text,
            sent_at=sent_at,
        )
        self._chat_in_order(conn, stored.seq, out)
        # Look the peer's seat up afresh (chat is rare, typed by people): a peer that is joining
        # right now has written its seat but may not be known to this connection yet, and it
        # reads the log only up to its seat write (`_admit`), so it must get this one live.
        try:
            peer = await self.broker.get_seat(conn.chat_id, conn.peer_id)
            target = (
                None
                if peer is None or peer.state != SeatState.CONNECTED
                else (peer.node_id, peer.conn_id)
            )
        except BrokerUnavailable:
            target = (conn.peer_node, conn.peer_conn) if conn.peer_connected else None
        if target is not None:
            await self._to_seat(
                target[0], conn.chat_id, conn.peer_id, out, conn_id=target[1], seq=stored.seq
            )

    # --- leaving ---------------------------------------------------------------------------------

    async def disconnected(self, conn: Connection) -> None:
        """The socket is gone: a deliberate leave, a replacement, a room close, or a drop."""
        if conn.closes_at is not None:
            self.closing_timers.discard(conn, conn.closes_at)
        if conn.chat_gap_timer is not None:
            conn.chat_gap_timer.cancel()
            conn.chat_gap_timer = None
        key = (conn.chat_id, conn.user_id)
        if self.local.get(key) is conn:  # also a join that failed half-way
            del self.local[key]
        if not conn.joined:
            return
        self._socket_events += 1
        self._refreeze(REFREEZE_AFTER_EVENTS)
        try:
            seat = await self.broker.get_seat(conn.chat_id, conn.user_id)
            if seat is None or seat.conn_id != conn.conn_id:
                return  # replaced by a newer socket: nothing to tell anyone
            if conn.closing and conn.close_code in _ROOM_CLOSES:
                # Both seats got their own room_closing; nobody is waiting for anyone.
                await self.broker.delete_seat(conn.chat_id, conn.user_id, conn.conn_id)
                self._relay_vacated(conn.chat_id)
                return
            if conn.left or (conn.closing and conn.close_code not in _RECONNECTING_CLOSES):
                # A leave, or a close the client will not retry (1003, 1008, 1009, 4010): the
                # seat is empty now, so the peer must not keep relaying to it.
                await self.broker.delete_seat(conn.chat_id, conn.user_id, conn.conn_id)
                self._relay_vacated(conn.chat_id)
                if conn.peer_connected:
                    await self._to_seat(
                        conn.peer_node,
                        conn.chat_id,
                        conn.peer_id,
                        m.PeerLeft(reason="left"),
                        conn_id=conn.peer_conn,
                        peer=_PEER_GONE,
                    )
                return
            # A drop, or a close the client answers by reconnecting (1001, 1011): hold the seat.
            grace = self.settings.reconnect_grace_s
            await self.broker.put_seat(
                conn.chat_id, conn.user_id, replace(seat, state=SeatState.RECONNECTING), grace + 30
            )
            if conn.peer_connected:
                await self._to_seat(
                    conn.peer_node,
                    conn.chat_id,
                    conn.peer_id,
                    m.PeerReconnecting(grace_s=grace),
                    conn_id=conn.peer_conn,
                    peer={
                        "node": self.broker.node_id,
                        "conn": conn.conn_id,
                        "connected": False,
                        "ice": conn.can_restart_ice,
                    },
                )
            deadline = self.clock.now() + timedelta(seconds=grace)
            self.clock.call_at(
                deadline, lambda: self.spawn(self._grace_over(conn), f"grace-{conn.conn_id}")
            )
        except BrokerUnavailable:
            log.warning("broker unavailable while %s left chat %s", conn.user_id, conn.chat_id)

    async def _grace_over(self, conn: Connection) -> None:
        seat = await self.broker.get_seat(conn.chat_id, conn.user_id)
        if seat is None or seat.conn_id != conn.conn_id or seat.state != SeatState.RECONNECTING:
            return  # resumed (or replaced) in time
        await self.broker.delete_seat(conn.chat_id, conn.user_id, conn.conn_id)
        self._relay_vacated(conn.chat_id)
        peer = await self.broker.get_seat(conn.chat_id, conn.peer_id)
        if peer is not None and peer.state == SeatState.CONNECTED:
            await self._to_seat(
                peer.node_id,
                conn.chat_id,
                conn.peer_id,
                m.PeerLeft(reason="timeout"),
                conn_id=peer.conn_id,
                peer=_PEER_GONE,
            )

    def _relay_vacated(self, chat_id: str) -> None:
        """A seat is empty for good: its relay room (if any) has nobody to forward to."""
        if self.relay is not None and chat_id in self.relay.chats:
            self.relay.vacated(chat_id)

    # --- the scheduling side changed a chat ------------------------------------------------------

    async def chat_changed(self, chat: ChatRecord) -> None:
        """Cancel or reschedule closes the room at once and tells both people why."""
        if chat.state == ChatState.CANCELLED:
            code, reason = CloseCode.CHAT_CANCELLED, "cancelled"
        elif chat.state == ChatState.CONFIRMED:
            code, reason = CloseCode.RESCHEDULED, "rescheduled"
        else:
            return
        self._relay_vacated(chat.id)
        try:
            # Before the seat lookups below: a join that misses this note has its seat written
            # before we look, so it is closed here instead (see `_admit`).
            name, value = ChatChange(reason, chat.ics_sequence).note()
            await self.broker.note_chat(chat.id, name, value, NOTES_TTL_S)
        except BrokerUnavailable:
            log.warning("could not note the change of chat %s for joins in flight", chat.id)
        for user_id in (chat.employee_id, chat.participant_id):
            try:
                seat = await self.broker.get_seat(chat.id, user_id)
            except BrokerUnavailable:
                log.warning("could not reach the broker to close chat %s", chat.id)
                continue
            if seat is not None:
                await self._to_seat(
                    seat.node_id,
                    chat.id,
                    user_id,
                    m.RoomClosing(reason=reason, message=code.reason),
                    conn_id=seat.conn_id,
                    close=code,
                )  # type: ignore[arg-type]
