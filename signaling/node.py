"""The signaling node: routes each message of a joined socket to the part of the node that owns it.

The parts, each in its module:

- `switchboard.py`: this node's sockets, and delivery to any seat (here or through the broker),
  with the relay's hot path (`forward`) and chat in `seq` order;
- `admission.py`: the join (ticket, notes, seat, `joined`, `peer_joined`);
- `presence.py`: what a socket's end means for its seat and its peer, and rooms the schedule
  closes;
- `chat.py`: the side chat;
- `relay_glue.py`: media messages of relay-mode chats, to the server's relay peers.

The node owns their lifecycle (start, the settle tick, shutdown) and two hooks: `heap`, that a
garbage-collector policy can plug into (web/gc_policy.py), and `observer`, that metrics plug into
(web/metrics.py); both do nothing by default. Counters the relay's hot path moves stay plain ints
in dicts (`Switchboard.relayed`, `stats`) that a metrics collector reads when it is scraped.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from rooms import attendance
from rooms.broker import Broker, BrokerUnavailable, SeatRecord, SeatState
from rooms.call_quality import Sample
from rooms.closing_timers import ClosingTimers
from rooms.live_feed import LiveFeed, LiveNews, NewsKind
from rooms.tickets import Ticket
from rooms.timeline import to_ms
from scheduling.clock import Clock
from scheduling.db import point_read
from scheduling.schema import chat_history
from scheduling.store_chats import ChatRecord
from signaling import messages as m
from signaling.admission import (
    SEAT_TTL_S,
    WRITE_THROUGH_BEFORE_CLOSE,
    Admission,
    IceServersFor,
    JoinRefused,
)
from signaling.aiohttp_internals import check_internals
from signaling.chat import Chat
from signaling.close_codes import CloseCode
from signaling.codec import ErrorCode
from signaling.connection import Connection
from signaling.presence import NODE_ALIVE_TTL_S, NODE_CHECK_EVERY, ROOM_CLOSES, Presence
from signaling.quality import QualityDesk
from signaling.relay_glue import MediaRelayHub
from signaling.switchboard import Switchboard

__all__ = [
    "CallQuality",
    "HeapKeeper",
    "JoinRefused",
    "NodeObserver",
    "NodeSettings",
    "SignalingNode",
]

log = logging.getLogger("duet.signaling.node")

SETTLE_EVERY_S: Final = 30
# Seat TTL refreshes per Redis pipeline.
REFRESH_BATCH: Final = 500
TELL_SLICE: Final = 250
# Relayed as they came, by `forward` (no coroutine): the relay's hot path.
_FORWARDED: Final = frozenset({m.Offer, m.Answer, m.Candidate})


@dataclass(frozen=True, slots=True)
class NodeSettings:
    secret: str
    reconnect_grace_s: int = 60
    # The join endpoint's ticket lifetime: a ticket was granted this long before it expires.
    ticket_ttl_s: int = 60


class HeapKeeper(Protocol):
    """What a garbage-collector policy hears from the node (web/gc_policy.py)."""

    def socket_event(self) -> None:
        """A socket joined or dropped."""

    def quiet_moment(self) -> None:
        """The settle tick: nothing time-critical runs."""


class _NoHeapKeeping:
    def socket_event(self) -> None:
        pass

    def quiet_moment(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class CallQuality:
    """One client-reported sample of a call's media, as metrics see it (from a `stats`)."""

    rtt_s: float | None = None
    loss_ratio: float | None = None  # packets lost / packets expected, 0..1
    jitter_s: float | None = None
    path: str = "unknown"  # "direct" | "turn" | "relay" | "unknown"
    verdict: str = "unknown"  # "good" | "fair" | "poor" | "unknown" (rooms/call_quality.py)


class NodeObserver(Protocol):
    """What metrics hear from the node (web/metrics.py): per join or per sample, never per
    relayed message (those are counted in plain dicts read at scrape time)."""

    def admitted(self, grant_to_join_s: float) -> None:
        """A socket joined; `grant_to_join_s` since its ticket was granted (the app's clock)."""

    def call_quality(self, sample: CallQuality) -> None:
        """A client reported how its call is going."""


class _NoObserver:
    def admitted(self, grant_to_join_s: float) -> None:
        pass

    def call_quality(self, sample: CallQuality) -> None:
        pass


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
        check_internals()  # fail at start-up, not in the middle of someone's call
        self.engine = engine
        self.broker = broker
        self.clock = clock
        self.settings = settings
        self.relay = relay
        self.heap: HeapKeeper = _NoHeapKeeping()
        self.observer: NodeObserver = _NoObserver()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._settle_timer: Any = None
        self._watch_timer: Any = None
        self.board = Switchboard(broker, engine, clock, self.spawn)
        self.local = self.board.local
        # "inline": relayed as parsed (signaling/aiohttp_internals.py), a part of
        # `board.relayed`; "refused": joins refused, which `refusals` counts by close code.
        self.stats = {"inline": 0, "joins": 0, "refused": 0}
        # Joins refused (the socket closed before `joined`), by close code.
        self.refusals: dict[int, int] = {}
        self.joins = attendance.JoinBuffer(engine)
        self.closing_timers: ClosingTimers[Connection] = ClosingTimers(
            clock,
            lambda conn, seconds: conn.send(m.TimeWarning(seconds_left=seconds)),
            lambda conn: conn.close(
                CloseCode.ROOM_CLOSED,
                m.RoomClosing(reason="ended", message=CloseCode.ROOM_CLOSED.reason),
            ),
            # The rooms this node just closed are settled now, not at the next periodic tick
            # (up to SETTLE_EVERY_S later): the periodic one stays for other nodes' rooms.
            lambda _closes_at: self.spawn(self._settle_now(), "settle-closed"),
        )
        self._settling = asyncio.Lock()
        self.admission = Admission(
            settings.secret,
            self.board,
            broker,
            engine,
            clock,
            self.joins,
            self.closing_timers,
            ice_servers_for,
            relay,
            settings.reconnect_grace_s,
            self._admitted,
        )
        self.presence = Presence(
            self.board,
            broker,
            clock,
            self.closing_timers,
            relay,
            settings.reconnect_grace_s,
            self.spawn,
            self._dropped,
            self._left,
            self._seat_news,
        )
        self.chat = Chat(self.board, broker, engine, clock)
        # The organizer's live board hears every room change from every node (rooms/live_feed.py).
        self.live = LiveFeed(broker)
        self.quality = QualityDesk(
            self.board, engine, clock, self._sampled, self.live.tell, self.spawn
        )
        if relay is not None:
            relay.attach(lambda chat, user, msg: self.board.deliver(chat, user, None, msg))
        # Connection ids: a random prefix per node instance and a counter, unique across nodes
        # and restarts without a uuid4 (an os.urandom call) per socket.
        self._conn_prefix = secrets.token_hex(6)
        self._conn_ids = itertools.count(1)

    def new_conn_id(self) -> str:
        return f"{self._conn_prefix}{next(self._conn_ids):x}"

    # --- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.broker.start(self.board.from_broker, self._rewrite_seats)
        await self.live.start()
        with contextlib.suppress(BrokerUnavailable):  # so no other node takes us for dead
            await self.broker.mark_alive(NODE_ALIVE_TTL_S)
        self._schedule_settle()
        self._schedule_node_watch()

    async def close(self) -> None:
        for timer in (self._settle_timer, self._watch_timer):
            if timer is not None:
                timer.cancel()
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

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        """Run work a timer started; tracked so shutdown cancels it (no orphan tasks)."""
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    def _admitted(self, ticket: Ticket) -> None:
        self._seat_news(ticket.chat_id, ticket.user_id, "connected")
        self.stats["joins"] += 1
        self.heap.socket_event()
        granted_ms = ticket.expires_ms - self.settings.ticket_ttl_s * 1000
        self.observer.admitted(max(0, to_ms(self.clock.now()) - granted_ms) / 1000)

    def refused(self, code: int) -> None:
        """A socket closed with `code` before it was admitted (ws.py counts each once)."""
        self.stats["refused"] += 1
        self.refusals[code] = self.refusals.get(code, 0) + 1

    def call_quality(self, sample: CallQuality) -> None:
        """Record a client's report of its call (each `stats` message, through `_sampled`)."""
        self.observer.call_quality(sample)

    def _sampled(self, sample: Sample, verdict: str) -> None:
        self.call_quality(
            CallQuality(
                rtt_s=None if sample.rtt_ms is None else sample.rtt_ms / 1000,
                loss_ratio=sample.loss,
                jitter_s=None if sample.jitter_ms is None else sample.jitter_ms / 1000,
                path=sample.path,
                verdict=verdict,
            )
        )

    def _seat_news(self, chat_id: str, user_id: str, state: str) -> None:
        """A seat changed (connected, reconnecting, absent): tell every node's live board."""
        if state == "absent":
            self.quality.forget(chat_id, user_id)
        news = LiveNews("seat", chat_id, user_id, state, to_ms(self.clock.now()))
        self.spawn(self.live.tell(news), "live-news")

    async def tell_people(self, chat: ChatRecord) -> None:
        """A chat changed in the database: its two people's open pages (their own event
        streams, on any node) and every live board hear of it."""
        at = to_ms(self.clock.now())
        async with point_read(self.engine) as conn:  # who did it: their own pages are not told
            by = (
                await conn.execute(
                    sa.select(chat_history.c.actor_id)
                    .where(chat_history.c.chat_id == chat.id)
                    .order_by(chat_history.c.id.desc())
                    .limit(1)
                )
            ).scalar() or ""
        for user_id, other in (
            (chat.employee_id, chat.participant_name),
            (chat.participant_id, chat.employee_name),
        ):
            await self.live.tell(
                LiveNews("person", chat.id, user_id, chat.state.value, at, detail=other, by=by)
            )
        await self.tell_chat(chat.id)

    async def tell_chat(self, chat_id: str, kind: NewsKind = "chat") -> None:
        """The chat changed in the database (state, a Support request or answer): every board
        reads it again."""
        await self.live.tell(LiveNews(kind, chat_id, at_ms=to_ms(self.clock.now())))

    def _dropped(self) -> None:
        self.heap.socket_event()

    def _left(
        self, chat_id: str, user_id: str, reason: attendance.LeftReason, closes_at: datetime | None
    ) -> None:
        """A seat emptied for good: its `participant.left` webhook goes with the buffer's next
        write, after the person's join; at once near the room's close, before its settling."""
        now = self.clock.now()
        soon = closes_at is None or closes_at - now <= WRITE_THROUGH_BEFORE_CLOSE
        self.joins.left(chat_id, user_id, reason, now, write_now=soon)

    def _schedule_settle(self) -> None:
        self._settle_timer = self.clock.call_at(
            self.clock.now() + timedelta(seconds=SETTLE_EVERY_S),
            lambda: self.spawn(self._settle(), "settle"),
        )

    def _schedule_node_watch(self) -> None:
        self._watch_timer = self.clock.call_at(
            self.clock.now() + NODE_CHECK_EVERY,
            lambda: self.spawn(self._watch_nodes(), "watch-nodes"),
        )

    async def _watch_nodes(self) -> None:
        try:
            await self.presence.watch_nodes()
        except BrokerUnavailable:
            pass  # nobody can be told anything now; the listener rewrites the seats later
        finally:
            self._schedule_node_watch()

    async def _settle(self) -> None:
        try:
            self.heap.quiet_moment()
            await self._refresh_seats()
            await self._settle_now()
        finally:
            self._schedule_settle()

    async def _settle_now(self) -> None:
        """Settle every chat whose room has closed; one run at a time on this node."""
        async with self._settling:
            settled = await attendance.settle_ended(self.engine, self.clock.now(), [self.joins])
        # Live boards show the outcome (completed, no-show); a turn of the loop every
        # TELL_SLICE chats, as ClosingTimers does: an instant settles thousands at a fair.
        for i, chat in enumerate(settled, 1):
            await self.tell_chat(chat.id)
            if i % TELL_SLICE == 0:
                await asyncio.sleep(0)

    async def _refresh_seats(self) -> None:
        """Keep live seats from expiring: in Redis a seat lives SEAT_TTL_S unless refreshed.

        In pipelined batches: one awaited round trip per seat took 5,000 sequential round trips
        per node every 30 s (docs/performance.md)."""
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
                await self.broker.put_seat(
                    conn.chat_id,
                    conn.user_id,
                    replace(
                        self._own_seat(conn),
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

    # --- what the socket handler calls -----------------------------------------------------------

    async def join(self, conn: Connection, msg: m.Join) -> None:
        await self.admission.join(conn, msg)

    async def disconnected(self, conn: Connection) -> None:
        if conn.joined:  # saved first: the seat news below forgets a seat gone for good
            for_good = conn.left or (conn.closing and conn.close_code in ROOM_CLOSES)
            self.quality.ended(conn, for_good)
        await self.presence.disconnected(conn)

    async def chat_changed(self, chat: ChatRecord) -> None:
        await self.presence.chat_changed(chat)

    def relayable(self, conn: Connection, msg: m.ClientMessage) -> bool:
        """Whether `forward` takes `msg`: an offer, answer or candidate with a peer to send it to,
        in a chat without a media relay. Everything else goes through `handle`."""
        return (
            type(msg) in _FORWARDED
            and conn.peer.connected
            and (self.relay is None or conn.chat_id not in self.relay.chats)
        )

    def forward(self, conn: Connection, msg: m.Offer | m.Answer | m.Candidate) -> None:
        """Relay a `relayable` message at once, without a coroutine (the hot path)."""
        self.board.forward(conn, msg)

    async def handle(self, conn: Connection, msg: m.ClientMessage) -> None:
        try:
            await self._route(conn, msg)
        except BrokerUnavailable:
            conn.send(
                m.Error(
                    code=ErrorCode.UNAVAILABLE.value,
                    message="The chat service is briefly unavailable; please try again in a moment.",
                    ref_type=msg.type,
                )
            )

    async def _route(self, conn: Connection, msg: m.ClientMessage) -> None:
        match msg:
            case m.Offer() | m.Answer() | m.Candidate() | m.IceRestartRequest():
                self._negotiation(conn, msg)
            case m.MediaState() | m.TrackInfo():
                await self._media_update(conn, msg)
            case m.ChatSend():
                await self.chat.send(conn, msg)
            case m.Ping():
                conn.send(m.Pong(ts=msg.ts))
            case m.Stats():
                await self.quality.sample(conn, msg)
            case m.Leave():
                conn.left = True
                conn.close(CloseCode.NORMAL)
            case m.Join():
                _refuse(
                    conn,
                    ErrorCode.ALREADY_JOINED,
                    "join",
                    "This connection has already joined the chat.",
                )

    def _negotiation(
        self, conn: Connection, msg: m.Offer | m.Answer | m.Candidate | m.IceRestartRequest
    ) -> None:
        if self.relay is not None and conn.chat_id in self.relay.chats:
            self.relay.handle(conn, msg)  # queued for the relay peer; never awaits it
        elif not conn.peer.connected:
            _refuse(
                conn,
                ErrorCode.PEER_ABSENT,
                msg.type,
                "The other person is not in the room right now.",
            )
        elif isinstance(msg, m.IceRestartRequest) and not (
            conn.can_restart_ice and conn.peer.can_restart_ice
        ):
            _refuse(
                conn,
                ErrorCode.NOT_SUPPORTED,
                msg.type,
                "One side cannot restart ICE; leave and join again to reconnect media.",
            )
        else:
            self.board.forward(conn, msg)

    async def _media_update(self, conn: Connection, msg: m.MediaState | m.TrackInfo) -> None:
        """Flags and labels are stored in the seat (delivered to a peer that comes later) and
        sent to the peer if it is there; in relay mode the relay labels the tracks it sends."""
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
            self.relay.handle(conn, msg)
        elif conn.peer.connected:
            peer = conn.peer
            self.board.relayed[msg.type] += 1
            await self.board.to_seat(peer.node, conn.chat_id, conn.peer_id, msg, conn_id=peer.conn)


def _refuse(conn: Connection, code: ErrorCode, ref_type: str, message: str) -> None:
    conn.send(m.Error(code=code.value, message=message, ref_type=ref_type))
