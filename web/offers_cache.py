"""Encoded answers cached per key on each node, validated through the broker on every read
(named for its first kind, the offers list; one employee's free slots are the second).

Two answers are read far more often than they change: the offers list of an event (26 ms to
build for 900 employees, the same for everyone signed in) and one employee's free slots (what
every participant opens before booking; ~0.5 ms of a node's CPU to read and encode, against a
target of 2,000 a second per node). Both change only when an employee publishes or edits their
availability, or a chat takes or frees a slot (docs/performance.md, issue #12). So each node
keeps the encoded answer per key, with an ETag for clients (304 when they have it).

Any node may make the change, so an entry is validated through the broker, not by this node's
memory: a change writes a new version note for the key (`invalidate`, after its commit), and
every read first reads that note (one Redis round trip; nothing with the in-memory broker) along
with the broker's epoch (a restarted Redis lost the notes: every entry built before is dropped).
An entry also expires when the earliest free slot it counts starts (that slot is no longer free)
and after MAX_AGE_S at most (what no note announces: a person's name or a company's, set by the
host platform).
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


@dataclass(frozen=True, slots=True)
class Built:
    """What a build returns: the encoded body, when it changes by itself (its earliest free
    slot starts), and the decoded answer it encodes (what the offers' searches and filters run
    over, web/offers_filter.py)."""

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


class AnswerCache:
    """Encoded answers of one kind ("offers", "slots") per key, each validated against the
    broker's version note for that key on every read.

    `max_entries` bounds the memory of a kind with many keys (one entry per employee asked
    about): past it, expired entries go, and if that is not enough, all of them."""

    def __init__(
        self, broker: Broker, now: Callable[[], datetime], kind: str, max_entries: int = 50_000
    ) -> None:
        self._broker = broker
        self._now = now
        self._kind = kind
        self._max_entries = max_entries
        self._entries: dict[str, Entry] = {}
        self._building: dict[str, asyncio.Lock] = {}
        self.builds = 0  # for tests and operators: how often an answer was built

    def _note_key(self, key: str) -> str:
        # The broker's chat notes, under a name no chat id can take (ids are 32 hex digits).
        return f"{self._kind}:{key}"

    async def _version(self, key: str) -> str:
        notes = await self._broker.chat_notes(self._note_key(key))
        return f"{await self._broker.epoch()}/{notes.get(_NOTE, '')}"

    async def get(self, key: str, build: Callable[[], Awaitable[Built]]) -> Entry:
        """The answer for `key`, built at most once at a time per key on this node."""
        version = await self._version(key)
        entry = self._fresh(key, version)
        if entry is not None:
            return entry
        lock = self._building.setdefault(key, asyncio.Lock())
        try:
            async with lock:  # the first request builds; those arriving meanwhile take its result
                entry = self._fresh(key, version)
                if entry is not None:
                    return entry
                return self._keep(key, version, await build())
        finally:
            if not lock.locked() and self._building.get(key) is lock:
                del self._building[key]  # at worst a waiter's rebuild: no lock per key forever

    def _keep(self, key: str, version: str, built: Built) -> Entry:
        self.builds += 1
        now = self._now()
        expires = now + timedelta(seconds=MAX_AGE_S)
        if built.next_slot_start is not None:
            expires = min(expires, built.next_slot_start)
        digest = hashlib.blake2b(built.body, digest_size=12).hexdigest()
        # Tagged with the version read before the build: a change made during the build has a
        # newer note, so the next read builds again.
        entry = Entry(version, built.body, f'"{digest}"', expires, built.items)
        if len(self._entries) >= self._max_entries:
            self._entries = {k: e for k, e in self._entries.items() if e.expires_at > now}
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
        self._entries[key] = entry
        return entry

    def _fresh(self, key: str, version: str) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None or entry.version != version or entry.expires_at <= self._now():
            return None
        return entry

    async def invalidate(self, key: str) -> None:
        """The answer for `key` changed (on any node): every node builds it again."""
        self._entries.pop(key, None)
        await self._broker.note_chat(
            self._note_key(key), _NOTE, secrets.token_urlsafe(9), NOTE_TTL_S
        )
