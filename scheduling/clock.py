"""Clocks are injected so domain code never reads the time by itself and tests never sleep.

A clock also schedules callbacks at wall-clock instants (`call_at`): rooms use it for time
warnings, the end of a slot and reconnect grace periods, so a test can move time by hand and see
a room close at its end without sleeping through real minutes.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        """Run `callback` on the event loop once the clock reaches `when`."""
        ...


class SystemClock:
    """The real wall clock, used by the running server."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        delay = (when - self.now()).total_seconds()
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


@dataclass
class _ManualTimer:
    callback: Callable[[], None] | None

    def cancel(self) -> None:
        self.callback = None


@dataclass
class ManualClock:
    """A clock tests move by hand; shared by reference so every component sees the same time."""

    current: datetime = field(default_factory=lambda: datetime.now(UTC))
    _timers: list[tuple[datetime, int, _ManualTimer]] = field(default_factory=list, repr=False)
    _order: itertools.count[int] = field(default_factory=itertools.count, repr=False)

    def now(self) -> datetime:
        return self.current

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        timer = _ManualTimer(callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        self._fire_due()
        return timer

    def advance(self, delta: timedelta) -> None:
        self.set(self.current + delta)

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.current = when
        self._fire_due()

    def _fire_due(self) -> None:
        """Due callbacks run on the loop (like SystemClock's), in deadline order."""
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        while self._timers and self._timers[0][0] <= self.current:
            _, _, timer = heapq.heappop(self._timers)
            if timer.callback is None:
                continue
            callback, timer.callback = timer.callback, None
            if loop is None:
                callback()
            else:
                loop.call_soon(callback)
