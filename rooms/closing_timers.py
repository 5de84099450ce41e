"""Time warnings and the room's close, with one timer per closing instant, not three per socket.

Slots sit on a shared grid, so thousands of rooms close at the same few instants. Grouping the
sockets by their room's closing time keeps the timer handles and callbacks per node small and
fixed, instead of three handles and closures per socket that every garbage collection had to walk
(docs/performance.md, "GC at 10k sockets"). Members are anything hashable: the node uses its
connections.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Generic, TypeVar

from rooms.timeline import pending_warnings
from scheduling.clock import Clock, TimerHandle

T = TypeVar("T")

log = logging.getLogger("duet.rooms.closing_timers")


class _Group(Generic[T]):
    __slots__ = ("handles", "members")

    def __init__(self) -> None:
        # member -> the first warning (seconds left) still ahead when it was added: a callback
        # may run a little after its instant, and a member added in between must not get it.
        self.members: dict[T, int] = {}
        self.handles: list[TimerHandle] = []


class ClosingTimers(Generic[T]):
    """Calls `on_warning(member, seconds_left)` at each warning and `on_close(member)` at the
    closing instant, for every member still added then."""

    def __init__(
        self,
        clock: Clock,
        on_warning: Callable[[T, int], None],
        on_close: Callable[[T], None],
    ) -> None:
        self._clock = clock
        self._on_warning = on_warning
        self._on_close = on_close
        self._groups: dict[datetime, _Group[T]] = {}

    def __len__(self) -> int:
        """How many closing instants have timers now."""
        return len(self._groups)

    def add(self, member: T, closes_at: datetime, now: datetime) -> None:
        pending = pending_warnings(closes_at, now)
        group = self._groups.get(closes_at)
        fresh = group is None
        if group is None:
            group = self._groups[closes_at] = _Group()
        # The member before any timer: a clock may run a callback that is already due at once.
        group.members[member] = pending[0][1] if pending else 0
        if not fresh:
            return
        for when, seconds in pending:
            group.handles.append(
                self._clock.call_at(when, functools.partial(self._warn, closes_at, seconds))
            )
        group.handles.append(self._clock.call_at(closes_at, lambda: self._close(closes_at)))

    def discard(self, member: T, closes_at: datetime) -> None:
        group = self._groups.get(closes_at)
        if group is None:
            return
        group.members.pop(member, None)
        if not group.members:
            self._drop(closes_at)

    def cancel_all(self) -> None:
        for closes_at in list(self._groups):
            self._drop(closes_at)

    def _drop(self, closes_at: datetime) -> None:
        group = self._groups.pop(closes_at)
        for handle in group.handles:
            handle.cancel()

    def _warn(self, closes_at: datetime, seconds: int) -> None:
        group = self._groups.get(closes_at)
        if group is not None:
            for member, first in list(group.members.items()):
                if seconds <= first:
                    try:
                        self._on_warning(member, seconds)
                    except Exception:  # one member's failure must not skip the others
                        log.exception("time warning for %r failed", member)

    def _close(self, closes_at: datetime) -> None:
        group = self._groups.pop(closes_at, None)
        if group is not None:
            for member in list(group.members):
                try:
                    self._on_close(member)
                except Exception:  # one member's failure must not leave the others open
                    log.exception("closing %r failed", member)
