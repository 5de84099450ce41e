"""Time warnings and the room's close, with one timer per closing instant, not three per socket.

Slots sit on a shared grid, so thousands of rooms close at the same few instants. Grouping the
sockets by their room's closing time keeps the timer handles and callbacks per node small and
fixed, instead of three handles and closures per socket that every garbage collection had to walk
(docs/performance.md, "GC at 10k sockets"). Members are anything hashable: the node uses its
connections.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final, Generic, TypeVar

from rooms.timeline import pending_warnings
from scheduling.clock import Clock, TimerHandle

T = TypeVar("T")

log = logging.getLogger("duet.rooms.closing_timers")

# Members warned or closed per turn of the event loop: a closing instant of 10,000 sockets in
# one callback held the loop for ~0.5 s; in slices every other socket is served in between.
SLICE: Final = 250


def _in_slices(members: Sequence[T], each: Callable[[T], None], then: Callable[[], None]) -> None:
    """`each(member)` for every member, SLICE per turn of the running loop; then `then()`."""

    def run(start: int) -> None:
        for member in members[start : start + SLICE]:
            try:
                each(member)
            except Exception:  # one member's failure must not skip the others
                log.exception("closing timer callback for %r failed", member)
        if start + SLICE < len(members):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a test driving it by hand): go on at once
                run(start + SLICE)
            else:
                loop.call_soon(run, start + SLICE)
        else:
            then()

    run(0)


class _Group(Generic[T]):
    __slots__ = ("handles", "members")

    def __init__(self) -> None:
        # member -> the first warning (seconds left) still ahead when it was added: a callback
        # may run a little after its instant, and a member added in between must not get it.
        self.members: dict[T, int] = {}
        self.handles: list[TimerHandle] = []


class ClosingTimers(Generic[T]):
    """Calls `on_warning(member, seconds_left)` at each warning and `on_close(member)` at the
    closing instant, for every member still added then (in slices of SLICE per turn of the
    loop), and `on_closed(closes_at)` after the last of them."""

    def __init__(
        self,
        clock: Clock,
        on_warning: Callable[[T, int], None],
        on_close: Callable[[T], None],
        on_closed: Callable[[datetime], None] | None = None,
    ) -> None:
        self._clock = clock
        self._on_warning = on_warning
        self._on_close = on_close
        # Once every member of a closing instant was closed: the node settles those chats.
        self._on_closed = on_closed
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
            due = [member for member, first in group.members.items() if seconds <= first]
            _in_slices(due, lambda member: self._on_warning(member, seconds), lambda: None)

    def _close(self, closes_at: datetime) -> None:
        group = self._groups.pop(closes_at, None)
        if group is not None:
            _in_slices(list(group.members), self._on_close, lambda: self._closed(closes_at))

    def _closed(self, closes_at: datetime) -> None:
        if self._on_closed is not None:
            try:
                self._on_closed(closes_at)
            except Exception:
                log.exception("after closing the rooms of %s", closes_at)
