"""Glue between signaling and the media relay: the one object the node calls in relay mode.

Why here: media/relay.py speaks SDP strings and callbacks and must not know signaling, while
the node should not grow relay logic. ``MediaRelayHub`` turns `offer`/`answer`/`candidate`/
`track_info` from a client into calls on the chat's ``RelayRoom`` and the room's output into
server messages for that client. Rooms are bounded (a ``PeerPool`` of ``max_rooms``, each with
a time limit) and closed when someone leaves, the room closes, or both rebuild their media.

Limitation: a chat's room lives on the node that received its first media message, so with
several nodes both seats of a relay-mode chat must be served by the same node.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Final

from media.forwarding import check_internals
from media.ice import IceServer
from media.peer_pool import PeerPool, PoolClosed, PoolEntry, PoolFull
from media.relay import Description, Label, Outgoing, Refused, RelayRoom
from scheduling.clock import Clock
from signaling import messages as m
from signaling.codec import ErrorCode
from signaling.connection import Connection

__all__ = ["MediaRelayHub"]

log = logging.getLogger("duet.signaling.relay")

# Safety net only: rooms close when the chat's sockets close; no chat slot is this long.
ROOM_MAX_LIFETIME_S: Final = 4 * 3600

Deliver = Callable[[str, str, m.ServerMessage], None]
MediaMessage = m.Offer | m.Answer | m.Candidate | m.TrackInfo | m.IceRestartRequest


class MediaRelayHub:
    """All relay rooms of this node; created and closed by the app's signaling context."""

    def __init__(
        self,
        ice_servers: Callable[[], Sequence[IceServer]],
        max_rooms: int,
        *,
        forward_encoded: bool = True,
        clock: Clock | None = None,
    ) -> None:
        check_internals()  # fail at startup, not in the middle of someone's call
        self.forward_encoded = forward_encoded
        self._ice_servers = ice_servers
        self._pool: PeerPool[RelayRoom] = PeerPool(
            max_rooms, ROOM_MAX_LIFETIME_S, on_closed=self._forget, clock=clock
        )
        self._rooms: dict[str, str] = {}  # chat id -> pool entry id
        self._deliver: Deliver | None = None
        # Relay-mode chats with a seat on this node: the node routes their media messages here.
        self.chats: set[str] = set()
        # Relay rooms opened since start (metrics; `rooms_open` is how many are open now).
        self.opened = 0

    def attach(self, deliver: Deliver) -> None:
        """The node's local delivery: (chat id, user id, message) to that seat's socket."""
        self._deliver = deliver

    @property
    def rooms_open(self) -> int:
        return len(self._rooms)

    def room(self, chat_id: str) -> RelayRoom | None:
        entry_id = self._rooms.get(chat_id)
        entry = None if entry_id is None else self._pool.get(entry_id)
        return None if entry is None else entry.peer

    # --- from clients ---------------------------------------------------------------------

    def handle(self, conn: Connection, msg: MediaMessage) -> None:
        """Apply a client's media message to its relay room (never awaits negotiation)."""
        if isinstance(msg, m.IceRestartRequest):
            self._error(
                conn,
                ErrorCode.NOT_SUPPORTED,
                msg.type,
                "The media relay cannot restart ICE; leave and join again to reconnect media.",
            )
            return
        room = self.room(conn.chat_id)
        if room is None:
            try:
                room = self._open(conn)
            except PoolFull:
                self._error(
                    conn,
                    ErrorCode.UNAVAILABLE,
                    msg.type,
                    "The media relay is busy right now; please try again in a minute.",
                )
                return
            except PoolClosed:
                return
        if isinstance(msg, m.Offer):
            ok = room.offer(conn.user_id, msg.sdp)
        elif isinstance(msg, m.Answer):
            ok = room.answer(conn.user_id, msg.sdp)
        elif isinstance(msg, m.Candidate):
            ok = room.candidate(conn.user_id, msg.candidate, msg.sdpMid, msg.sdpMLineIndex)
        else:
            ok = room.label(conn.user_id, msg.mid, msg.purpose)
        if not ok:
            self._error(conn, ErrorCode.RATE_LIMITED, msg.type, "Too many media messages at once.")

    def _open(self, conn: Connection) -> RelayRoom:
        chat_id = conn.chat_id

        def send(user_id: str, out: Outgoing) -> None:
            self._send(chat_id, user_id, out)

        entry = self._pool.add(
            chat_id,
            lambda: RelayRoom(
                chat_id,
                (conn.user_id, conn.peer_id),
                self._ice_servers(),
                send,
                forward_encoded=self.forward_encoded,
            ),
        )
        self._rooms[chat_id] = entry.id
        self.opened += 1
        return entry.peer

    def _send(self, chat_id: str, user_id: str, out: Outgoing) -> None:
        if self._deliver is None:
            return
        msg: m.ServerMessage
        if isinstance(out, Description):
            msg = (
                m.RelayedOffer(sdp=out.sdp) if out.type == "offer" else m.RelayedAnswer(sdp=out.sdp)
            )
        elif isinstance(out, Label):
            msg = m.PeerTrackInfo(mid=out.mid, purpose=out.purpose)
        else:
            assert isinstance(out, Refused)
            msg = m.Error(code=ErrorCode.BAD_VALUE.value, message=out.reason, ref_type=out.ref_type)
        self._deliver(chat_id, user_id, msg)

    @staticmethod
    def _error(conn: Connection, code: ErrorCode, ref_type: str, message: str) -> None:
        conn.send(m.Error(code=code.value, message=message, ref_type=ref_type))

    # --- lifecycle ------------------------------------------------------------------------

    def admitted(self, chat_id: str, media_action: str) -> None:
        """A seat of a relay-mode chat was taken; `new_connection` means both rebuild from scratch.

        Called before `joined`/`peer_joined` go out, so the clients' first offers meet new legs.
        """
        self.chats.add(chat_id)
        if media_action == "new_connection":
            self.close_room(chat_id)

    def vacated(self, chat_id: str) -> None:
        """A seat is empty for good (left, timed out, room closed): nobody to forward to."""
        self.chats.discard(chat_id)
        self.close_room(chat_id)

    def close_room(self, chat_id: str) -> None:
        """Forget the chat's room at once (a later offer opens a new one) and close it.

        The close runs in a task the pool tracks: it is called from a socket's disconnect path,
        which aiohttp may cancel once the socket is gone, and closing two peer connections
        should not delay telling the other person anything.
        """
        entry_id = self._rooms.pop(chat_id, None)
        if entry_id is not None:
            self._pool.close_soon(entry_id, "closed")

    def _forget(self, entry: PoolEntry[RelayRoom], reason: str) -> None:
        if self._rooms.get(entry.owner) == entry.id:
            del self._rooms[entry.owner]
        log.info("relay room %s closed (%s)", entry.owner, reason)

    async def close(self) -> None:
        await self._pool.close()
