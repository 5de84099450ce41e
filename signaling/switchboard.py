"""This node's joined sockets, and the one way to reach any seat: on this node, or through the broker.

Rooms are not objects held in one place: each node knows its own sockets (`local`), and the
broker's seat directory says where everyone else's are. A connection keeps a `PeerLink` to its
peer's node and connection, so relaying an offer or a candidate is one hop with no lookup
(`forward`, the hot path: no coroutine, docs/performance.md).

Chat messages are written to each socket in `seq` order (`_chat_in_order`): the sender's own
message comes straight from its node and the other person's a hop later through Redis, so a
socket could see 5 before 4 and, as the protocol tells clients to, reconnect to fill a gap that
was not one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncEngine

from rooms import chatlog
from rooms.broker import Broker
from rooms.timeline import to_ms
from scheduling.clock import Clock
from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.codec import encode_json_bytes
from signaling.connection import Connection
from signaling.envelope import Envelope, PeerLink

log = logging.getLogger("duet.signaling.switchboard")

# How long a chat message waits for a lower `seq` still on its way (through Redis: ~2-20 ms)
# before the log is read for it.
CHAT_GAP_WAIT: Final = timedelta(milliseconds=500)

Spawn = Callable[[Coroutine[Any, Any, None], str], None]
SeatKey = tuple[str, str]  # (chat id, user id)
# What goes from one person to the other as they sent it (`forward`, and media updates).
RELAYED_TYPES: Final = (
    "offer",
    "answer",
    "candidate",
    "ice_restart_request",
    "media_state",
    "track_info",
)


class Switchboard:
    def __init__(self, broker: Broker, engine: AsyncEngine, clock: Clock, spawn: Spawn) -> None:
        self.broker = broker
        self.node_id = broker.node_id
        self._engine = engine
        self._clock = clock
        self._spawn = spawn
        self.local: dict[SeatKey, Connection] = {}
        # Messages relayed to the peer, by type: plain ints, read by metrics when scraped.
        self.relayed: dict[str, int] = dict.fromkeys(RELAYED_TYPES, 0)

    # --- sending ---------------------------------------------------------------------------------

    def forward(
        self, conn: Connection, msg: m.Offer | m.Answer | m.Candidate | m.IceRestartRequest
    ) -> None:
        """Relay `msg` to the peer at once, without a coroutine: the hot path. A client's
        offer, answer or candidate is exactly what the peer receives (`messages.RelayedOffer`
        is `Offer`), so nothing is rebuilt."""
        self.relayed[msg.type] += 1
        peer = conn.peer
        if peer.node == self.node_id:
            self.deliver(conn.chat_id, conn.peer_id, peer.conn, msg)
        else:
            self.broker.post(
                peer.node,
                Envelope(
                    conn.chat_id, conn.peer_id, peer.conn, encode_json_bytes(msg), None, None, None
                ).pack(),
            )

    async def to_seat(
        self,
        node_id: str,
        chat_id: str,
        user_id: str,
        msg: m.ServerMessage | None,
        *,
        conn_id: str | None = None,
        close: CloseCode | None = None,
        peer: PeerLink | None = None,
        seq: int | None = None,
    ) -> None:
        """Deliver to one seat wherever it is; `conn_id` narrows it to one socket of that seat."""
        code = None if close is None else int(close)
        if node_id == self.node_id:
            self.deliver(chat_id, user_id, conn_id, msg, code, peer, seq)
            return
        frame = None if msg is None else encode_json_bytes(msg)
        await self.broker.send(
            node_id, Envelope(chat_id, user_id, conn_id, frame, code, peer, seq).pack()
        )

    async def from_broker(self, payload: bytes) -> None:
        """A payload another node sent for a seat on this one."""
        env = Envelope.unpack(payload)
        self.deliver(env.chat_id, env.user_id, env.conn_id, env.frame, env.close, env.peer, env.seq)

    # --- delivering to this node's sockets -------------------------------------------------------

    def deliver(
        self,
        chat_id: str,
        user_id: str,
        conn_id: str | None,
        msg: m.ServerMessage | bytes | None,
        close: int | None = None,
        peer: PeerLink | None = None,
        seq: int | None = None,
    ) -> None:
        """`msg` is a message, or bytes: one another node already encoded as its JSON frame."""
        conn = self.local.get((chat_id, user_id))
        if conn is None or (conn_id is not None and conn.conn_id != conn_id):
            return
        if peer is not None:
            conn.peer = peer
        if conn.early is not None and close is None:
            # Still being admitted: `joined` must be the first message (docs/protocol.md 5).
            if msg is not None:
                conn.early.append((seq, msg))
            return
        if close is not None:
            if isinstance(msg, bytes):
                conn.send_json(msg)
                msg = None
            conn.close(CloseCode(close), msg)
        elif msg is not None:
            if seq is not None:
                self._chat_in_order(conn, seq, msg)
            else:
                write(conn, msg)

    def joined(self, conn: Connection, last_seq: int) -> None:
        """`joined` is out: send what arrived meanwhile, minus chat `joined.history` carried."""
        early, conn.early = conn.early or [], None
        conn.chat_seq = last_seq
        for seq, item in early:
            if seq is not None:
                self._chat_in_order(conn, seq, item)
            else:
                write(conn, item)

    def forget(self, conn: Connection) -> None:
        """The socket is done: no more deliveries to it."""
        key = (conn.chat_id, conn.user_id)
        if self.local.get(key) is conn:
            del self.local[key]
        if conn.chat_gap_timer is not None:
            conn.chat_gap_timer.cancel()
            conn.chat_gap_timer = None

    # --- chat in `seq` order ---------------------------------------------------------------------

    def send_chat(self, conn: Connection, seq: int, msg: m.ChatMessage) -> None:
        """The sender's own copy of a chat message it just stored."""
        self._chat_in_order(conn, seq, msg)

    def _chat_in_order(self, conn: Connection, seq: int, msg: m.ServerMessage | bytes) -> None:
        """Write chat message `seq` only after every lower one: a later one waits (`chat_held`)
        until the gap fills, or at most CHAT_GAP_WAIT, after which the log is read once for what
        is missing. Repeats (already written, or in `joined.history`) are dropped."""
        if seq <= conn.chat_seq:
            return
        if seq == conn.chat_seq + 1:
            write(conn, msg)
            conn.chat_seq = seq
            if conn.chat_held is not None:
                _release_held(conn)
            return
        if conn.chat_held is None:
            conn.chat_held = {}
            conn.chat_gap_timer = self._clock.call_at(
                self._clock.now() + CHAT_GAP_WAIT,
                lambda: self._spawn(self._fill_chat_gap(conn), f"chat-gap-{conn.conn_id}"),
            )
        conn.chat_held[seq] = msg

    async def _fill_chat_gap(self, conn: Connection) -> None:
        """The gap did not fill in time (a node or Redis lost the message): read the log."""
        conn.chat_gap_timer = None
        if conn.chat_held is None or conn.closing:
            return
        entries, _ = await chatlog.since(self._engine, conn.chat_id, conn.chat_seq)
        for entry in entries:
            if entry.seq == conn.chat_seq + 1:
                write(conn, stored_message(entry))
                conn.chat_seq = entry.seq
        _release_held(conn)
        if conn.chat_held:  # not in the log either (cannot happen: stored before sent)
            log.error("chat %s: held messages missing from the log", conn.chat_id)
            for seq in sorted(conn.chat_held):
                write(conn, conn.chat_held[seq])
                conn.chat_seq = seq
            conn.chat_held = None


def _release_held(conn: Connection) -> None:
    held = conn.chat_held
    assert held is not None
    while (item := held.pop(conn.chat_seq + 1, None)) is not None:
        write(conn, item)
        conn.chat_seq += 1
    for seq in [q for q in held if q <= conn.chat_seq]:
        del held[seq]
    if not held:
        conn.chat_held = None
        if conn.chat_gap_timer is not None:
            conn.chat_gap_timer.cancel()
            conn.chat_gap_timer = None


def write(conn: Connection, item: m.ServerMessage | bytes) -> None:
    if isinstance(item, bytes):
        conn.send_json(item)
    else:
        conn.send(item)


def stored_message(msg: chatlog.StoredMessage) -> m.ChatMessage:
    return m.ChatMessage(
        seq=msg.seq,
        client_msg_id=msg.client_msg_id,
        sender_id=msg.sender_id,
        text=msg.text,
        sent_at=to_ms(msg.sent_at),
    )
