"""A bounded pool of server-side WebRTC peers, each with a time limit.

Every server-side peer decodes and re-encodes media, which costs a sizeable share of a core;
an unbounded number of them would let a handful of browsers take the whole server down. The pool
therefore admits at most ``max_peers`` at once (refusing the next one with ``PoolFull``), closes
each one when its time limit passes or when the peer reports its connection ended, and closes all
of them when the app shuts down. Every task it starts is tracked and cancelled on close, so
nothing outlives the pool. One pool per app (an object, never a module global).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from scheduling.clock import Clock, SystemClock, TimerHandle

__all__ = ["PeerPool", "PoolClosed", "PoolEntry", "PoolFull", "PooledPeer"]

log = logging.getLogger("duet.media.pool")


class PooledPeer(Protocol):
    """What the pool needs of a peer: a way to close it, which must be safe to call twice."""

    async def close(self) -> None: ...


P = TypeVar("P", bound=PooledPeer)


class PoolFull(Exception):
    """All ``max_peers`` places are taken; the caller should try again later."""


class PoolClosed(Exception):
    """The pool is shutting down and admits no new peer."""


@dataclass(eq=False)
class PoolEntry(Generic[P]):
    """One admitted peer, its owner and its deadline (on the pool's clock)."""

    id: str
    owner: str
    peer: P
    started_at: datetime
    deadline: datetime
    close_reason: str | None = None
    _timer: TimerHandle | None = field(default=None, repr=False)


class PeerPool(Generic[P]):
    """At most ``max_peers`` live peers, none older than ``max_lifetime_s``.

    ``on_closed(entry, reason)`` runs just before a peer is closed (reason ``"time_limit"``,
    ``"deleted"``, ``"shutdown"``, or whatever the peer reported), so the owner of the pool can
    keep a final result without the pool knowing what a result is.
    """

    def __init__(
        self,
        max_peers: int,
        max_lifetime_s: float,
        *,
        on_closed: Callable[[PoolEntry[P], str], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if max_peers < 1:
            raise ValueError("max_peers must be at least 1")
        if max_lifetime_s <= 0:
            raise ValueError("max_lifetime_s must be positive")
        self.max_peers = max_peers
        self.max_lifetime_s = max_lifetime_s
        # The time limit runs on the app's clock, so a test moves it by hand instead of waiting.
        self.clock: Clock = clock or SystemClock()
        self._on_closed = on_closed
        self._entries: dict[str, PoolEntry[P]] = {}
        # Peers taken out of _entries but whose close() has not finished: they still hold
        # sockets, threads and codecs, so they still count against max_peers.
        self._closing = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False

    # --- figures -------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Peers holding resources now (live or still closing)."""
        return len(self._entries) + self._closing

    @property
    def task_count(self) -> int:
        """Time limits pending, and tasks the pool started that have not finished."""
        timers = sum(1 for entry in self._entries.values() if entry._timer is not None)
        return timers + sum(1 for task in self._tasks if not task.done())

    def get(self, peer_id: str) -> PoolEntry[P] | None:
        return self._entries.get(peer_id)

    # --- admission and closing -----------------------------------------------------------------

    def add(self, owner: str, make_peer: Callable[[], P]) -> PoolEntry[P]:
        """Admit a new peer (built only if there is room) and start its time limit.

        Synchronous on purpose: the place is taken before the caller awaits anything (such as
        ICE gathering), so concurrent requests cannot overshoot ``max_peers``.
        """
        if self._closed:
            raise PoolClosed("the pool is closed")
        if self.size >= self.max_peers:
            raise PoolFull(f"{self.size} of {self.max_peers} peers are running")
        peer = make_peer()
        now = self.clock.now()
        peer_id = secrets.token_urlsafe(16)
        deadline = now + timedelta(seconds=self.max_lifetime_s)
        entry: PoolEntry[P] = PoolEntry(peer_id, owner, peer, started_at=now, deadline=deadline)
        self._entries[peer_id] = entry
        entry._timer = self.clock.call_at(deadline, lambda: self._expire(peer_id))
        return entry

    async def close_peer(self, peer_id: str, reason: str) -> PoolEntry[P] | None:
        """Close one peer now; None if it is not (or no longer) in the pool. Safe to repeat."""
        entry = self._entries.pop(peer_id, None)
        if entry is None:
            return None
        entry.close_reason = reason
        timer = entry._timer
        entry._timer = None
        if timer is not None:
            timer.cancel()
        self._closing += 1
        try:
            if self._on_closed is not None:
                try:
                    self._on_closed(entry, reason)
                except Exception:
                    log.exception("on_closed failed for peer %s", peer_id)
            await entry.peer.close()
        finally:
            self._closing -= 1
        return entry

    def close_soon(self, peer_id: str, reason: str) -> None:
        """Close a peer from synchronous code (an event callback), in a tracked task."""
        if peer_id in self._entries:
            self._spawn(self.close_peer(peer_id, reason), f"peer-close-{peer_id[:6]}")

    async def close(self) -> None:
        """Refuse new peers, close every peer, and wait for or cancel every task of the pool."""
        self._closed = True
        await asyncio.gather(
            *(self.close_peer(peer_id, "shutdown") for peer_id in list(self._entries)),
            return_exceptions=True,
        )
        # Background closes started by callbacks finish on their own; timers were cancelled.
        tasks = [task for task in self._tasks if not task.done()]
        if tasks:
            with suppress(TimeoutError):
                async with asyncio.timeout(10):
                    await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- internals -------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("pool task %s failed", task.get_name(), exc_info=task.exception())

    def _expire(self, peer_id: str) -> None:
        entry = self._entries.get(peer_id)
        if entry is not None:
            entry._timer = None
            self._spawn(self.close_peer(peer_id, "time_limit"), f"peer-expire-{peer_id[:6]}")
