"""The side chat: stored before it is acknowledged, then sent to both seats in `seq` order."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from rooms import chatlog
from rooms.broker import Broker, BrokerUnavailable, SeatState
from rooms.chat_notes import HAS_HISTORY, NOTES_TTL_S
from rooms.timeline import to_ms
from scheduling.clock import Clock
from signaling import messages as m
from signaling.connection import Connection
from signaling.switchboard import Switchboard

log = logging.getLogger("duet.signaling.chat")


@dataclass(eq=False)
class Chat:
    board: Switchboard
    broker: Broker
    engine: AsyncEngine
    clock: Clock
    # Chat messages stored (repeats of one `client_msg_id` not counted), read by metrics.
    stored: int = 0

    async def send(self, conn: Connection, msg: m.ChatSend) -> None:
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
        self.stored += 1
        out = m.ChatMessage(
            seq=stored.seq,
            client_msg_id=msg.client_msg_id,
            sender_id=conn.user_id,
            text=stored.text,
            sent_at=sent_at,
        )
        self.board.send_chat(conn, stored.seq, out)
        # Look the peer's seat up afresh (chat is rare, typed by people): a peer that is joining
        # right now has written its seat but may not be known to this connection yet, and it
        # reads the log only up to its seat write (signaling/admission.py), so it must get this
        # one live.
        try:
            peer = await self.broker.get_seat(conn.chat_id, conn.peer_id)
            target = (
                None
                if peer is None or peer.state != SeatState.CONNECTED
                else (peer.node_id, peer.conn_id)
            )
        except BrokerUnavailable:
            link = conn.peer
            target = (link.node, link.conn) if link.connected else None
        if target is not None:
            await self.board.to_seat(
                target[0], conn.chat_id, conn.peer_id, out, conn_id=target[1], seq=stored.seq
            )

    async def announce(
        self, chat_id: str, user_ids: tuple[str, ...], stored: chatlog.StoredMessage
    ) -> None:
        """A message someone outside the call stored (the organizer's Support answer): to
        whichever of `user_ids` is in the room now; the others read it from the log on join."""
        try:
            await self.broker.note_chat(chat_id, HAS_HISTORY, "1", NOTES_TTL_S)
        except BrokerUnavailable:
            log.warning("could not note chat history of %s; joins fall back on tickets", chat_id)
        out = m.ChatMessage(
            seq=stored.seq,
            client_msg_id=stored.client_msg_id,
            sender_id=stored.sender_id,
            text=stored.text,
            sent_at=to_ms(stored.sent_at),
        )
        self.stored += 1
        for user_id in user_ids:
            try:
                seat = await self.broker.get_seat(chat_id, user_id)
            except BrokerUnavailable:
                continue  # stored: the log replays it on the next join or resume
            if seat is not None and seat.state == SeatState.CONNECTED:
                await self.board.to_seat(
                    seat.node_id, chat_id, user_id, out, conn_id=seat.conn_id, seq=stored.seq
                )
