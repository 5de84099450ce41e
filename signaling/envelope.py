"""What one node sends another about one seat: the node-to-node envelope and the peer link.

A payload travels through the broker (Redis pub/sub) to the node that holds the seat. It carries
the message as the JSON frame to write (nodes trust each other, so the receiving node writes it
as is instead of decoding and validating it again: docs/performance.md), or a close, or news of
the peer's seat, and a chat message's `seq` so the receiving node can keep chat in order without
decoding the frame. Packed as a msgpack array: positions, not keys, on the relay's hot path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import msgpack


@dataclass(frozen=True, slots=True)
class PeerLink:
    """What a connection knows of its peer's seat, kept current by presence news, so relaying
    an offer or a candidate needs no lookup in the shared store."""

    node: str
    conn: str
    connected: bool
    can_restart_ice: bool


# What a connection learns when the other seat is gone (left, or its grace ran out).
PEER_GONE: Final = PeerLink(node="", conn="", connected=False, can_restart_ice=True)


@dataclass(frozen=True, slots=True)
class Envelope:
    chat_id: str
    user_id: str
    conn_id: str | None  # only this connection of the seat; None: whichever holds it
    frame: bytes | None  # a server message, encoded as its JSON frame
    close: int | None  # close the socket with this code (after `frame`, if any)
    peer: PeerLink | None  # news of this seat's peer
    seq: int | None  # `frame` is chat message `seq`

    def pack(self) -> bytes:
        peer = self.peer
        packed: bytes = msgpack.packb(
            (
                self.chat_id,
                self.user_id,
                self.conn_id,
                self.frame,
                self.close,
                None
                if peer is None
                else (peer.node, peer.conn, peer.connected, peer.can_restart_ice),
                self.seq,
            )
        )
        return packed

    @classmethod
    def unpack(cls, payload: bytes) -> Envelope:
        chat_id, user_id, conn_id, frame, close, peer, seq = msgpack.unpackb(payload)
        return cls(
            chat_id,
            user_id,
            conn_id,
            frame,
            close,
            None if peer is None else PeerLink(*peer),
            seq,
        )
