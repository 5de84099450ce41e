"""Call quality on the node: each `stats` sample graded, told to both people and the board,
and folded into the person's summary, which is saved every few samples and when the socket ends.

A summary lives on the node that holds the person's socket, keyed by chat and person so a
reconnect to the same node carries on; a reconnect to another node carries on from the saved
summary (`quality_store.load`). Rooms/call_quality.py holds the rules.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncEngine

from rooms import quality_store
from rooms.call_quality import Sample, Summary
from rooms.live_feed import LiveNews
from rooms.timeline import to_ms
from scheduling.clock import Clock
from signaling import messages as m
from signaling.connection import Connection
from signaling.switchboard import Switchboard

log = logging.getLogger("duet.signaling.quality")

# Samples between saves (about 30 s of a call); the socket's end saves the rest.
SAVE_EVERY: Final = 3


@dataclass(slots=True)
class _Entry:
    summary: Summary
    unsaved: int = 0
    told: str = ""  # the verdict the board heard last


@dataclass(eq=False)
class QualityDesk:
    board: Switchboard
    engine: AsyncEngine
    clock: Clock
    on_sample: Callable[[Sample, str], None]  # metrics: the sample and its verdict
    tell: Callable[[LiveNews], Awaitable[None]]  # the live board
    # The node's tracked tasks: a socket's handler may be cancelled while it ends (the client
    # went away), so the last save runs on its own.
    spawn: Callable[[Coroutine[Any, Any, None], str], None]
    _entries: dict[tuple[str, str], _Entry] = field(default_factory=dict)

    async def sample(self, conn: Connection, msg: m.Stats) -> None:
        key = (conn.chat_id, conn.user_id)
        entry = self._entries.get(key)
        if entry is None:
            stored = await quality_store.load(self.engine, *key)
            entry = self._entries.setdefault(key, _Entry(stored or Summary()))
        sample = Sample(
            rtt_ms=msg.rtt_ms,
            loss=msg.loss,
            jitter_ms=msg.jitter_ms,
            frames_decoded=msg.frames_decoded,
            frames_dropped=msg.frames_dropped,
            width=msg.width,
            height=msg.height,
            fps=msg.fps,
            pair=msg.pair,
            transport=msg.transport,
            relay_mode=msg.relay_mode,
        )
        verdict, words = entry.summary.add(sample)
        self.on_sample(sample, verdict)
        conn.send(m.Quality(verdict=verdict, words=words))
        peer = conn.peer
        if peer.connected:
            await self.board.to_seat(
                peer.node,
                conn.chat_id,
                conn.peer_id,
                m.PeerQuality(verdict=verdict, words=words),
                conn_id=peer.conn,
            )
        if verdict != entry.told:
            entry.told = verdict
            await self.tell(
                LiveNews(
                    "quality",
                    conn.chat_id,
                    conn.user_id,
                    verdict,
                    to_ms(self.clock.now()),
                    sample.path,
                )
            )
        entry.unsaved += 1
        if entry.unsaved >= SAVE_EVERY:
            await self._save(key, entry)

    def ended(self, conn: Connection, for_good: bool) -> None:
        """The socket ended: save what is unsaved; forget the summary if the seat is gone for
        good (left, or the room closed), else keep it for a reconnect to this node."""
        key = (conn.chat_id, conn.user_id)
        entry = self._entries.pop(key, None) if for_good else self._entries.get(key)
        if entry is not None and entry.unsaved:
            self.spawn(self._save(key, entry), f"quality-save-{conn.conn_id}")

    def forget(self, chat_id: str, user_id: str) -> None:
        """The seat is empty for good (its grace ran out): nothing more will come."""
        self._entries.pop((chat_id, user_id), None)

    async def _save(self, key: tuple[str, str], entry: _Entry) -> None:
        try:
            await quality_store.save(self.engine, *key, entry.summary, self.clock.now())
            entry.unsaved = 0
        except Exception:
            log.exception("could not save the call quality of %s in chat %s", key[1], key[0])
