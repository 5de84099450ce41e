"""`duet serve`'s garbage-collector policy: no long collection pauses with 10,000 sockets.

Measured (docs/performance.md), Python 3.11:

- A full collection walks every tracked object it can see. So the start-up heap and each joined
  socket's objects (~65) are frozen out of its sight (`freeze_heap` here, then
  `SignalingNode._refreeze` as sockets join and drop).
- What cannot be frozen is what each socket re-creates per message: aiohttp's receive coroutines
  and futures, ~10 objects that live until the socket's next message, ~100,000 at 10,000 busy
  sockets. A full collection over them took 50-70 ms. So automatic full collections are off
  (`gc.set_threshold(..., FULL_NEVER)`), and `gc_schedule` runs one every FULL_EVERY_S only when
  it is short (fewer than FULL_IF_BELOW unfrozen old objects: a quiet moment), or when that
  population passes FULL_ANYWAY_ABOVE (a bound on the unfrozen objects, cyclic garbage among
  them, paid with one pause that is logged). Frozen objects are never collected, so each
  re-freeze first collects the old generation too when that is short
  (`SignalingNode._refreeze`); a cycle that died between a promotion and a busy re-freeze is
  the one thing that can stay for good.
- CPython starts a young collection when allocations minus deallocations pass 700, and freeing
  any object, frozen ones included, counts as a deallocation. When old objects die as fast as
  new ones are made (each socket's receive state, replaced per message) the young generation
  grew to 100,000 objects unchecked and collecting it took 40-50 ms. `gc_schedule` collects
  the young generations every YOUNG_EVERY_S instead: a few ms, and short enough not to show
  in the relay's 99th percentile.

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


async def freeze_heap(app: web.Application) -> None:
    """Move start-up objects out of the collector's sight and let the node re-freeze as
    sockets join: one start-up freeze left every socket's objects to full collections,
    seconds each at 10,000 sockets."""
    gc.collect()
    gc.freeze()
    app[NODE].refreeze_heap = True


def full_collection_due(unfrozen_old: int) -> bool:
    """Whether the scheduled full collection runs now (see the module docstring)."""
    return unfrozen_old < FULL_IF_BELOW or unfrozen_old > FULL_ANYWAY_ABOVE


async def gc_schedule(
    app: web.Application, young_every_s: float = YOUNG_EVERY_S, full_every_s: float = FULL_EVERY_S
) -> AsyncIterator[None]:
    """A cleanup context: the young and the scheduled full collections, on timers."""
    loop = asyncio.get_running_loop()
    thresholds = gc.get_threshold()
    gc.set_threshold(thresholds[0], thresholds[1], FULL_NEVER)
    handles: dict[str, asyncio.TimerHandle] = {}

    def young() -> None:
        gc.collect(1)
        handles["young"] = loop.call_later(young_every_s, young)

    def full() -> None:
        unfrozen_old = len(gc.get_objects(2))
        if full_collection_due(unfrozen_old):
            if unfrozen_old > FULL_ANYWAY_ABOVE:
                log.warning("full collection over %d objects (a long pause)", unfrozen_old)
            gc.collect(2)
        handles["full"] = loop.call_later(full_every_s, full)

    handles["young"] = loop.call_later(young_every_s, young)
    handles["full"] = loop.call_later(full_every_s, full)
    try:
        yield
    finally:
        for handle in handles.values():
            handle.cancel()
        gc.set_threshold(*thresholds)
