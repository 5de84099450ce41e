"""The in-process broker: one node, dictionaries, no network."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence

from rooms.broker import Deliver, JoinLookup, OnReconnect, SeatKey, SeatRecord
from scheduling.clock import Clock

MAX_PENDING = 100_000


class MemoryBroker:
    """Single-node broker. Payloads to this node are delivered in order by one task."""

    def __init__(self, clock: Clock, node_id: str = "local") -> None:
        self.node_id = node_id
        self._clock = clock
        self._seats: dict[tuple[str, str], SeatRecord] = {}
        self._claims: dict[str, float] = {}
        # This process's: claims and notes live only as long as it, so a restart is a new epoch.
        self._epoch = secrets.token_urlsafe(9)
        self._notes: dict[str, tuple[float, dict[str, str]]] = {}
        self._deliver: Deliver | None = None
        self._deliver_live: Deliver | None = None
        self._live: dict[str, bytes] = {}
        self._live_until = 0.0

    async def start(self, deliver: Deliver, on_reconnect: OnReconnect | None = None) -> None:
        self._deliver = deliver

    async def close(self) -> None:
        self._deliver = None

    async def send(self, node_id: str, payload: bytes) -> None:
        if node_id != self.node_id or self._deliver is None:
            return  # a node that does not exist in a one-process deployment
        await self._deliver(payload)

    def post(self, node_id: str, payload: bytes) -> None:
        """There is no other node in one process: nothing to do."""

    async def put_seat(self, chat_id: str, user_id: str, seat: SeatRecord, ttl_s: int) -> None:
        self._seats[(chat_id, user_id)] = seat

    async def get_seat(self, chat_id: str, user_id: str) -> SeatRecord | None:
        return self._seats.get((chat_id, user_id))

    async def delete_seat(self, chat_id: str, user_id: str, conn_id: str) -> bool:
        seat = self._seats.get((chat_id, user_id))
        if seat is None or seat.conn_id != conn_id:
            return False
        del self._seats[(chat_id, user_id)]
        return True

    async def refresh_seats(self, seats: Sequence[SeatKey], ttl_s: int) -> None:
        """Nothing to do: seats in one process have no TTL."""

    async def mark_alive(self, ttl_s: int) -> None:
        """One process: this node is the only one, and alive while it runs."""

    async def alive(self, node_ids: Collection[str]) -> set[str]:
        return {n for n in node_ids if n == self.node_id}

    async def epoch(self) -> str:
        return self._epoch

    async def open_join(self, nonce: str, ttl_s: int, chat_id: str, user_id: str) -> JoinLookup:
        first = self._claim(f"ticket:{nonce}", ttl_s)
        notes = await self.chat_notes(chat_id)
        return JoinLookup(first, self._epoch, notes, self._seats.get((chat_id, user_id)))

    async def take_seat(
        self, chat_id: str, user_id: str, seat: SeatRecord, ttl_s: int, peer_id: str
    ) -> tuple[dict[str, str], SeatRecord | None]:
        self._seats[(chat_id, user_id)] = seat
        return await self.chat_notes(chat_id), self._seats.get((chat_id, peer_id))

    def _claim(self, key: str, ttl_s: int) -> bool:
        now = self._clock.now().timestamp()
        if len(self._claims) > MAX_PENDING:
            self._claims = {k: t for k, t in self._claims.items() if t > now}
        expires = self._claims.get(key)
        if expires is not None and expires > now:
            return False
        self._claims[key] = now + ttl_s
        return True

    async def note_chat(self, chat_id: str, name: str, value: str, ttl_s: int) -> None:
        now = self._clock.now().timestamp()
        if len(self._notes) > MAX_PENDING:
            self._notes = {k: v for k, v in self._notes.items() if v[0] > now}
        notes = await self.chat_notes(chat_id)
        notes[name] = value
        self._notes[chat_id] = (now + ttl_s, notes)

    async def chat_notes(self, chat_id: str) -> dict[str, str]:
        entry = self._notes.get(chat_id)
        if entry is None or entry[0] <= self._clock.now().timestamp():
            return {}
        return dict(entry[1])

    async def listen_live(self, deliver: Deliver) -> None:
        self._deliver_live = deliver

    async def publish_live(self, payload: bytes) -> None:
        if self._deliver_live is not None:
            await self._deliver_live(payload)

    async def put_live(self, key: str, payload: bytes, ttl_s: int) -> None:
        now = self._clock.now().timestamp()
        if self._live_until <= now:
            self._live = {}
        self._live[key] = payload
        self._live_until = now + ttl_s

    async def live_records(self) -> list[bytes]:
        if self._live_until <= self._clock.now().timestamp():
            return []
        return list(self._live.values())
