"""The broker: one small interface for what rooms share across server nodes.

- a seat directory: which node and connection holds each person's seat in a chat, its presence
  state and media flags (with a TTL in Redis, so a crashed node's seats expire);
- fan-out: deliver an opaque payload to one node (the payload names chat, user and connection);
- claim-once keys, for single-use join tickets, and the store's epoch, which says whether it
  still holds them (it lost them all if it restarted);
- chat notes: a few short strings per chat with a TTL (`rooms/chat_notes.py`);
- the live board's news: published to every node, the latest of each kept (`rooms/live_feed.py`);
- node liveness: each node says it is alive every second, so the others notice one that died
  (`signaling/presence.py` then treats its seats as dropped).

`MemoryBroker` serves one process; `RedisBroker` lets the two people of a chat sit on different
nodes. Pub/sub only notifies: chat messages are stored in the database before anyone is told.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class SeatState(StrEnum):
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"


@dataclass(frozen=True, slots=True)
class SeatRecord:
    """One person's seat in one chat's room, as every node sees it."""

    node_id: str
    conn_id: str
    state: SeatState
    name: str
    mic: bool = True
    camera: bool = True
    screen: bool = False
    can_restart_ice: bool = True
    # mid -> "camera" | "screen", the labels of this person's outgoing tracks
    tracks: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeatRecord:
        return cls(**{**data, "state": SeatState(data["state"])})


Deliver = Callable[[bytes], Awaitable[None]]
SeatKey = tuple[str, str, str]  # (chat_id, user_id, conn_id)
OnReconnect = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class JoinLookup:
    first: bool  # the ticket's nonce was not claimed before
    epoch: str
    notes: dict[str, str]
    seat: SeatRecord | None


class BrokerUnavailable(Exception):
    """The shared store did not answer; callers tell the user to retry instead of crashing."""


class Broker(Protocol):
    node_id: str

    async def start(self, deliver: Deliver, on_reconnect: OnReconnect | None = None) -> None:
        """Begin receiving payloads for this node; `on_reconnect` re-registers live seats."""
        ...

    async def close(self) -> None: ...

    async def send(self, node_id: str, payload: bytes) -> None:
        """Deliver `payload` to `node_id` (this node included); best effort, never blocks long."""
        ...

    def post(self, node_id: str, payload: bytes) -> None:
        """`send` to another node without awaiting (the relay's hot path); best effort."""
        ...

    async def put_seat(self, chat_id: str, user_id: str, seat: SeatRecord, ttl_s: int) -> None: ...

    async def get_seat(self, chat_id: str, user_id: str) -> SeatRecord | None: ...

    async def delete_seat(self, chat_id: str, user_id: str, conn_id: str) -> bool:
        """Remove the seat only if `conn_id` still holds it (a newer tab's seat stays)."""
        ...

    async def refresh_seats(self, seats: Sequence[SeatKey], ttl_s: int) -> None:
        """Extend each (chat, user, conn) seat's TTL, only where `conn` still holds it, in one
        round trip for all of them (a seat a newer tab took over keeps its own TTL)."""
        ...

    async def mark_alive(self, ttl_s: int) -> None:
        """Say this node is alive for `ttl_s` more seconds (a node that stops saying so, killed
        or cut off, is presumed dead and its seats dropped by the others)."""
        ...

    async def alive(self, node_ids: Collection[str]) -> set[str]:
        """Which of `node_ids` said they were alive recently."""
        ...

    async def epoch(self) -> str:
        """The shared store's epoch: a new one after it lost its data (a restart), so what was
        signed against the old one (join tickets, rooms/tickets.py) is known to be stale."""
        ...

    async def open_join(self, nonce: str, ttl_s: int, chat_id: str, user_id: str) -> JoinLookup:
        """What a join needs before it takes a seat, in one round trip: claim the ticket's
        nonce (first claim within `ttl_s`?), the store's epoch, the chat's notes, and the seat
        this person holds now."""
        ...

    async def take_seat(
        self, chat_id: str, user_id: str, seat: SeatRecord, ttl_s: int, peer_id: str
    ) -> tuple[dict[str, str], SeatRecord | None]:
        """Write the seat, then read the chat's notes and the peer's seat, in that order and in
        one round trip (the order is what closes the races in signaling/admission.py)."""
        ...

    async def note_chat(self, chat_id: str, name: str, value: str, ttl_s: int) -> None:
        """Set one note of the chat; the chat's notes live `ttl_s` from the latest one."""
        ...

    async def chat_notes(self, chat_id: str) -> dict[str, str]:
        """Every live note of the chat (empty when there are none)."""
        ...

    # --- the live board's news (rooms/live_feed.py) ------------------------------------------

    async def listen_live(self, deliver: Deliver) -> None:
        """Hand every payload `publish_live` sends, from any node this one included, to
        `deliver` (call after `start`)."""
        ...

    async def publish_live(self, payload: bytes) -> None:
        """Send `payload` to every node's `listen_live`; best effort."""
        ...

    async def put_live(self, key: str, payload: bytes, ttl_s: int) -> None:
        """Keep `payload` as the latest under `key` (all keys live `ttl_s` from the latest)."""
        ...

    async def live_records(self) -> list[bytes]:
        """Every payload kept by `put_live`."""
        ...
