"""`duet serve`'s garbage-collector policy: keep collections short with 10,000 sockets.

Measured (docs/performance.md): a full collection walks every tracked object, so the start-up
heap and each joined socket's objects (~65) are frozen out of its sight (`freeze_heap` here,
then `SignalingNode._refreeze` as sockets join). That leaves one trap. CPython starts a young
collection when allocations minus deallocations pass 700, and freeing any object, frozen ones
included, counts as a deallocation. When old objects die as fast as new ones are made (aiohttp
replacing every socket's heartbeat timer every 20 s, or thousands of sockets dropping at once)
the young generation grew to 100,000 objects unchecked, and collecting it took 40-50 ms.
`young_collections` collects the young generations once a second instead, a few ms at most.

Only for `duet serve`: tests and tools keep CPython's defaults.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator

from aiohttp import web

from signaling.ws import NODE

YOUNG_EVERY_S = 1.0


async def freeze_heap(app: web.Application) -> None:
    """Move start-up objects out of the collector's sight and let the node re-freeze as
    sockets join: one start-up freeze left every socket's objects to full collections,
    seconds each at 10,000 sockets."""
    gc.collect()
    gc.freeze()
    app[NODE].refreeze_heap = True


async def young_collections(
    app: web.Application, every_s: float = YOUNG_EVERY_S
) -> AsyncIterator[None]:
    """A cleanup context: collects generations 0 and 1 every `every_s` while serving."""
    loop = asyncio.get_running_loop()
    handle: asyncio.TimerHandle | None = None

    def tick() -> None:
        nonlocal handle
        gc.collect(1)
        handle = loop.call_later(every_s, tick)

    handle = loop.call_later(every_s, tick)
    try:
        yield
    finally:
        handle.cancel()
