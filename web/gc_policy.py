"""`duet serve`'s garbage-collector policy, in one object: no long pauses with 10,000 sockets.

Measured (docs/performance.md), Python 3.11:

- A full collection walks every tracked object it can see. So the start-up heap is frozen out
  of its sight at start, and each joined socket's objects (~65) as sockets join and drop: the
  signaling node tells the policy of every socket event (`SignalingNode.heap`, a no-op hook
  unless this policy is installed), and every REFREEZE_AFTER_EVENTS of them `gc.freeze()` runs
  (O(1)) after a young collection that keeps fresh garbage out of the permanent generation.
  Frozen objects are still freed by reference counting, and a socket's life makes no reference
  cycle (tests/integration/soak), so a closed socket's objects go at once even when frozen.
- What cannot be frozen is what each socket re-creates per message: aiohttp's receive coroutines
  and futures, ~10 objects that live until the socket's next message, ~100,000 at 10,000 busy
  sockets. A full collection over them took 50-70 ms. So automatic full collections are off
  (threshold 2 = FULL_NEVER), and one runs every FULL_EVERY_S only when it is short (fewer than
  FULL_IF_BELOW unfrozen old objects: a quiet moment), or when that population passes
  FULL_ANYWAY_ABOVE (a bound, paid with one logged pause). Frozen objects are never collected,
  so a re-freeze at the node's quiet moment (the settle tick) first collects the old generation
  too when that is short: a cycle that died between a promotion and a busy re-freeze is the one
  thing that can stay for good.
- CPython starts a young collection when allocations minus deallocations pass 700, and freeing
  any object, frozen ones included, counts as a deallocation. When old objects die as fast as
  new ones are made the young generation grew to 100,000 objects unchecked and collecting it took
  40-50 ms. The young generations are collected every YOUNG_EVERY_S instead: a few ms.

Only for `duet serve`: tests and tools keep CPython's defaults. Measured on CPython 3.11; 3.14's
incremental collector has no third threshold, so "automatic full collections off" needs
re-measuring there.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from signaling.ws import NODE

log = logging.getLogger("duet.gc")

YOUNG_EVERY_S: Final = 0.25
FULL_EVERY_S: Final = 60.0
FULL_IF_BELOW: Final = 50_000  # unfrozen old objects: ~15-20 ms to walk
FULL_ANYWAY_ABOVE: Final = 1_000_000
FULL_NEVER: Final = 1 << 30  # threshold 2: automatic full collections never start
# During a join (or drop) storm, re-freeze every this many socket events: ~65 objects per
# socket, so a collection between freezes walks at most ~26k of them.
REFREEZE_AFTER_EVENTS: Final = 400
# A quiet-moment re-freeze collects the old generation first when it is shorter (~10 ms).
FREEZE_FULL_IF_BELOW: Final = 40_000


def full_collection_due(unfrozen_old: int) -> bool:
    """Whether the scheduled full collection runs now (see the module docstring)."""
    return unfrozen_old < FULL_IF_BELOW or unfrozen_old > FULL_ANYWAY_ABOVE


class GcPolicy:
    """Installed by `duet serve` as a cleanup context (`context`); the node's `HeapKeeper`."""

    def __init__(
        self, young_every_s: float = YOUNG_EVERY_S, full_every_s: float = FULL_EVERY_S
    ) -> None:
        self.young_every_s = young_every_s
        self.full_every_s = full_every_s
        self._events = 0  # sockets joined and dropped
        self._frozen_at = 0

    # --- what the signaling node tells it -------------------------------------------------------

    def socket_event(self) -> None:
        self._events += 1
        if self._events - self._frozen_at >= REFREEZE_AFTER_EVENTS:
            self._refreeze(full_if_short=False)

    def quiet_moment(self) -> None:
        if self._events != self._frozen_at:
            self._refreeze(full_if_short=True)

    def _refreeze(self, full_if_short: bool) -> None:
        """Not a full collection during a storm: it costs ~4 ms however little it finds, which
        every 400 joins was 10 % of a join's CPU."""
        self._frozen_at = self._events
        full = full_if_short and len(gc.get_objects(2)) < FREEZE_FULL_IF_BELOW
        gc.collect(2 if full else 1)
        gc.freeze()

    # --- the schedule ----------------------------------------------------------------------------

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        """Freeze the start-up heap, hook into the node, run the collections on timers; undo
        all of it when the app stops. Append it after the contexts that build the node."""
        loop = asyncio.get_running_loop()
        thresholds = gc.get_threshold()
        gc.collect()
        gc.freeze()
        node = app.get(NODE)
        if node is not None:
            node.heap = self
        gc.set_threshold(thresholds[0], thresholds[1], FULL_NEVER)
        handles: dict[str, asyncio.TimerHandle] = {}

        def young() -> None:
            gc.collect(1)
            handles["young"] = loop.call_later(self.young_every_s, young)

        def full() -> None:
            unfrozen_old = len(gc.get_objects(2))
            if full_collection_due(unfrozen_old):
                if unfrozen_old > FULL_ANYWAY_ABOVE:
                    log.warning("full collection over %d objects (a long pause)", unfrozen_old)
                gc.collect(2)
            handles["full"] = loop.call_later(self.full_every_s, full)

        handles["young"] = loop.call_later(self.young_every_s, young)
        handles["full"] = loop.call_later(self.full_every_s, full)
        try:
            yield
        finally:
            for handle in handles.values():
                handle.cancel()
            gc.set_threshold(*thresholds)
            gc.unfreeze()
