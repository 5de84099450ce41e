"""The offers list, cached per event: what 10,000 participants load when the doors open.

Building it counts every employee's free slots (26 ms for 900 employees and 43,200 slots,
docs/performance.md); its answer is the same for everyone signed in, and changes only when an
employee publishes or edits their availability, or a chat takes or frees a slot. So each node
keeps the encoded answer per event, with an ETag for clients (304 when they have it).

Any node may make the change, so the cache is validated through the broker, not by this node's
memory: a change writes a new version note for the event (`invalidate`), and every read first
reads that note (one Redis round trip; nothing with the in-memory broker) along with the
broker's epoch (a restarted Redis lost the notes: every entry built before is dropped). An
entry also expires when the earliest free slot starts (its count drops then) and after MAX_AGE_S
at most (what no note announces: a person's name or a company's, set by the host platform).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from rooms.broker import Broker

MAX_AGE_S: Final = 60
# The version note outlives every entry by far, so an expired note never meets an entry built
# while it was set.
NOTE_TTL_S: Final = 24 * 3600
_NOTE: Final = "v"


def _note_key(event_id: str) -> str:
    # The broker's chat notes, under a name no chat id can take (ids are 32 hex digits).
    return f"offers:{event_id}"


@dataclass(frozen=True, slots=True)
class Built:
    """What a build returns: the encoded body, when its counts change by themselves, and the
    decoded list it encodes (what searches and filters run over, web/offers_filter.py)."""

    body: bytes
    next_slot_start: datetime | None
    items: Any = None


@dataclass(frozen=True, slots=True)
class Entry:
    version: str
    body: bytes
    etag: str
    expires_at: datetime
    items: Any = None


class OffersCache:
    """Per-event encoded offers, validated against the broker's version note on every read."""

    def __init__(self, broker: Broker, now: Callable[[], datetime]) -> None:
        self._broker = broker
        self._now = now
        self._entries: dict[str, Entry] = {}
        self._building: dict[str, asyncio.Lock] = {}
        self.builds = 0  # for tests and operators: how often the list was built

    async def _version(self, event_id: str) -> str:
        notes = await self._broker.chat_notes(_note_key(event_id))
        return f"{await self._broker.epoch()}/{notes.get(_NOTE, '')}"

    async def get(self, event_id: str, build: Callable[[], Awaitable[Built]]) -> Entry:
        """The event's offers, built at most once at a time per event on this node."""
        version = await self._version(event_id)
        entry = self._fresh(event_id, version)
        if entry is not None:
            return entry
        lock = self._building.setdefault(event_id, asyncio.Lock())
        async with lock:  # the first request builds; those arriving meanwhile take its result
            entry = self._fresh(event_id, version)
            if entry is not None:
                return entry
            built = await build()
            self.builds += 1
            now = self._now()
            expires = now + timedelta(seconds=MAX_AGE_S)
            if built.next_slot_start is not None:
                expires = min(expires, built.next_slot_start)
            digest = hashlib.blake2b(built.body, digest_size=12).hexdigest()
            # Tagged with the version read before the build: a change made during the build
            # has a newer note, so the next read builds again.
            entry = Entry(version, built.body, f'"{digest}"', expires, built.items)
            self._entries[event_id] = entry
            return entry

    def _fresh(self, event_id: str, version: str) -> Entry | None:
        entry = self._entries.get(event_id)
        if entry is None or entry.version != version or entry.expires_at <= self._now():
            return None
        return entry

    async def invalidate(self, event_id: str) -> None:
        """The event's offers changed (on any node): every node builds them again."""
        self._entries.pop(event_id, None)
        await self._broker.note_chat(
            _note_key(event_id), _NOTE, secrets.token_urlsafe(9), NOTE_TTL_S
        )
