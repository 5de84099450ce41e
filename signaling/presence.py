"""Seats after a socket ends: leaving, dropping (the reconnect grace), and rooms the schedule closes.

How a socket ended decides what its peer is told (docs/protocol.md 7):

- a room-wide close (ended, cancelled, rescheduled): both seats got their own `room_closing`;
- a leave, or a close the client will not retry (1003, 1008, 1009, 4010): `peer_left {left}`;
- a drop, or a close the client answers by reconnecting (1001, 1011, 1013, 4013):
  `peer_reconnecting`, the seat is held for the grace, then `peer_left {timeout}`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final

from rooms.attendance import LeftReason
from rooms.broker import Broker, BrokerUnavailable, SeatState
from rooms.chat_notes import NOTES_TTL_S, ChatChange
from rooms.closing_timers import ClosingTimers
from scheduling.clock import Clock
from scheduling.model import ChatState
from scheduling.store_chats import ChatRecord
from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.connection import Connection
from signaling.envelope import PEER_GONE, PeerLink
from signaling.relay_glue import MediaRelayHub
from signaling.switchboard import Switchboard

log = logging.getLogger("duet.signaling.presence")

# Server closes that end the room for both seats: each seat gets its own `room_closing`.
ROOM_CLOSES: Final = frozenset(
    {CloseCode.CHAT_CANCELLED, CloseCode.ROOM_CLOSED, CloseCode.RESCHEDULED}
)
# Server closes after which the client reconnects with `resume` (close_codes `retry`).
RECONNECTING_CLOSES: Final = frozenset(code for code in CloseCode if code.retry)

Spawn = Callable[[Coroutine[Any, Any, None], str], None]
OnLeft = Callable[[str, str, LeftReason, datetime | None], None]

# Every node says it is alive this often, for this long (rooms/broker.py `mark_alive`).
NODE_CHECK_EVERY: Final = timedelta(seconds=1)
NODE_ALIVE_TTL_S: Final = 3


@dataclass(eq=False)
class Presence:
    board: Switchboard
    broker: Broker
    clock: Clock
    closing_timers: ClosingTimers[Connection]
    relay: MediaRelayHub | None
    reconnect_grace_s: int
    spawn: Spawn
    on_dropped: Callable[[], None]  # the node's socket-event hook
    # (chat id, user id, "left" | "timeout", when the room closes): a seat emptied for good
    # (`participant.left`).
    on_left: OnLeft = lambda _chat, _user, _reason, _closes_at: None
    # (chat, user, "connected" | "reconnecting" | "absent"): the live board's news
    on_seat: Callable[[str, str, str], None] = lambda _chat, _user, _state: None
    # Peers' nodes found not alive at the last check (`watch_nodes`), and the connections of
    # dead nodes whose grace this node took over.
    _missing: set[str] = field(default_factory=set)
    _adopted: set[str] = field(default_factory=set)

    async def disconnected(self, conn: Connection) -> None:
        """The socket is gone: a deliberate leave, a replacement, a room close, or a drop."""
        if conn.closes_at is not None:
            self.closing_timers.discard(conn, conn.closes_at)
        self.board.forget(conn)  # also a join that failed half-way
        if not conn.joined:
            return
        self.on_dropped()
        if conn.close_code == CloseCode.REPLACED:
            # A newer socket took the seat (it told us before writing it): nothing to tell
            # anyone, and no need to ask Redis whose seat it is.
            return
        try:
            seat = await self.broker.get_seat(conn.chat_id, conn.user_id)
            if seat is None or seat.conn_id != conn.conn_id:
                return  # replaced by a newer socket: nothing to tell anyone
            if conn.closing and conn.close_code in ROOM_CLOSES:
                await self.broker.delete_seat(conn.chat_id, conn.user_id, conn.conn_id)
                self._relay_vacated(conn.chat_id)
                self.on_seat(conn.chat_id, conn.user_id, "absent")
                return
            if conn.left or (conn.closing and conn.close_code not in RECONNECTING_CLOSES):
                # The seat is empty now, so the peer must not keep relaying to it.
                await self.broker.delete_seat(conn.chat_id, conn.user_id, conn.conn_id)
                self._relay_vacated(conn.chat_id)
                self.on_left(conn.chat_id, conn.user_id, "left", conn.closes_at)
                self.on_seat(conn.chat_id, conn.user_id, "absent")
                await self._tell_peer(conn, m.PeerLeft(reason="left"), PEER_GONE)
                return
            grace = self.reconnect_grace_s
            await self.broker.put_seat(
                conn.chat_id, conn.user_id, replace(seat, state=SeatState.RECONNECTING), grace + 30
            )
            self.on_seat(conn.chat_id, conn.user_id, "reconnecting")
            await self._tell_peer(
                conn,
                m.PeerReconnecting(grace_s=grace),
                PeerLink(self.board.node_id, conn.conn_id, False, conn.can_restart_ice),
            )
            self._start_grace(
                conn.chat_id, conn.user_id, conn.conn_id, conn.peer_id, conn.closes_at
            )
        except BrokerUnavailable:
            log.warning("broker unavailable while %s left chat %s", conn.user_id, conn.chat_id)

    def _start_grace(
        self, chat_id: str, user_id: str, conn_id: str, peer_id: str, closes_at: datetime | None
    ) -> None:
        self.clock.call_at(
            self.clock.now() + timedelta(seconds=self.reconnect_grace_s),
            lambda: self.spawn(
                self._grace_over(chat_id, user_id, conn_id, peer_id, closes_at),
                f"grace-{conn_id}",
            ),
        )

    async def _tell_peer(self, conn: Connection, msg: m.ServerMessage, link: PeerLink) -> None:
        peer = conn.peer
        if peer.connected:
            await self.board.to_seat(
                peer.node, conn.chat_id, conn.peer_id, msg, conn_id=peer.conn, peer=link
            )

    async def _grace_over(
        self, chat_id: str, user_id: str, conn_id: str, peer_id: str, closes_at: datetime | None
    ) -> None:
        self._adopted.discard(conn_id)
        seat = await self.broker.get_seat(chat_id, user_id)
        if seat is None or seat.conn_id != conn_id or seat.state != SeatState.RECONNECTING:
            return  # resumed (or replaced) in time
        await self.broker.delete_seat(chat_id, user_id, conn_id)
        self._relay_vacated(chat_id)
        self.on_left(chat_id, user_id, "timeout", closes_at)
        self.on_seat(chat_id, user_id, "absent")
        peer = await self.broker.get_seat(chat_id, peer_id)
        if peer is not None and peer.state == SeatState.CONNECTED:
            await self.board.to_seat(
                peer.node_id,
                chat_id,
                peer_id,
                m.PeerLeft(reason="timeout"),
                conn_id=peer.conn_id,
                peer=PEER_GONE,
            )

    # --- nodes that died -------------------------------------------------------------------------

    async def watch_nodes(self) -> None:
        """Say this node is alive, and drop the seats of peers on nodes that stopped saying so.

        A node killed outright runs no `disconnected` for its sockets, so nobody would tell
        their peers. Every node says it is alive every NODE_CHECK_EVERY (TTL NODE_ALIVE_TTL_S);
        a peer's node missing at two checks in a row is dead (one miss may be a Redis restart),
        and its seats go through the same grace as any drop: `peer_reconnecting` now, the
        resume or `peer_left {timeout}` later."""
        await self.broker.mark_alive(NODE_ALIVE_TTL_S)
        local = [c for c in self.board.local.values() if c.joined and not c.closing]
        # Peers on other nodes, connected or reconnecting (a stopped node's grace timers died
        # with it: whoever holds the other seat takes the grace over).
        remote = {c.peer.node for c in local if c.peer.node and c.peer.node != self.board.node_id}
        if not remote:
            self._missing = set()
            return
        missing = remote - await self.broker.alive(remote)
        dead, self._missing = missing & self._missing, missing
        for conn in local:
            if conn.peer.node in dead:
                await self._peer_node_died(conn)

    async def _peer_node_died(self, conn: Connection) -> None:
        link = conn.peer
        if link.conn in self._adopted:
            return  # its grace already runs here
        seat = await self.broker.get_seat(conn.chat_id, conn.peer_id)
        if seat is not None and seat.conn_id != link.conn:
            return  # the peer is back already, on another node: its `peer_joined` is coming
        self._adopted.add(link.conn)
        log.warning("node %s is gone: %s in chat %s dropped", link.node, conn.peer_id, conn.chat_id)
        grace = self.reconnect_grace_s
        if seat is not None and seat.state == SeatState.CONNECTED:
            await self.broker.put_seat(
                conn.chat_id, conn.peer_id, replace(seat, state=SeatState.RECONNECTING), grace + 30
            )
            self.on_seat(conn.chat_id, conn.peer_id, "reconnecting")
        if seat is not None:  # connected or reconnecting: the grace is ours now
            self._start_grace(conn.chat_id, conn.peer_id, link.conn, conn.user_id, conn.closes_at)
        if link.connected:
            conn.peer = PeerLink(link.node, link.conn, False, link.can_restart_ice)
            conn.send(m.PeerReconnecting(grace_s=grace))

    def _relay_vacated(self, chat_id: str) -> None:
        """A seat is empty for good: its relay room (if any) has nobody to forward to."""
        if self.relay is not None and chat_id in self.relay.chats:
            self.relay.vacated(chat_id)

    async def chat_changed(self, chat: ChatRecord) -> None:
        """Cancel or reschedule closes the room at once and tells both people why."""
        reason: m.RoomClosingReason
        if chat.state == ChatState.CANCELLED:
            code, reason = CloseCode.CHAT_CANCELLED, "cancelled"
        elif chat.state == ChatState.CONFIRMED:
            code, reason = CloseCode.RESCHEDULED, "rescheduled"
        else:
            return
        self._relay_vacated(chat.id)
        try:
            # Before the seat lookups below: a join that misses this note has its seat written
            # before we look, so it is closed here instead (signaling/admission.py).
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
                await self.board.to_seat(
                    seat.node_id,
                    chat.id,
                    user_id,
                    m.RoomClosing(reason=reason, message=code.reason),
                    conn_id=seat.conn_id,
                    close=code,
                )
