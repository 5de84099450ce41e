"""`duet serve`'s collector policy (web/gc_policy.py): young generations collected on a timer,
automatic full collections off while serving and scheduled ones only when short (or when
memory needs them), everything restored when the app stops."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import pytest
from aiohttp import web

from web.gc_policy import (
    FULL_ANYWAY_ABOVE,
    FULL_IF_BELOW,
    FULL_NEVER,
    REFREEZE_AFTER_EVENTS,
    GcPolicy,
    full_collection_due,
)


def timers(loop: asyncio.AbstractEventLoop) -> list[str]:
    """The policy's pending timer callbacks on `loop` (asyncio's default loop keeps them in
    `_scheduled`)."""
    return sorted(
        h._callback.__name__  # type: ignore[attr-defined]
        for h in loop._scheduled  # type: ignore[attr-defined]
        if not h.cancelled() and getattr(h._callback, "__name__", "") in ("young", "full")  # type: ignore[attr-defined]
    )


async def test_collections_run_on_timers_until_cleanup() -> None:
    loop = asyncio.get_running_loop()
    seen: asyncio.Queue[int] = asyncio.Queue()

    def record(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop":
            loop.call_soon_threadsafe(seen.put_nowait, info["generation"])

    before = gc.get_threshold()
    gc.callbacks.append(record)
    try:
        ctx = GcPolicy(young_every_s=0.01, full_every_s=0.05).context(web.Application())
        await ctx.__anext__()  # freezes the start-up heap: the old generation is short now
        assert gc.get_threshold() == (before[0], before[1], FULL_NEVER)
        generations: set[int] = set()

        async def until_young_and_full() -> None:
            while not {1, 2} <= generations:  # young ones again and again, and a full one
                generations.add(await seen.get())

        await asyncio.wait_for(until_young_and_full(), timeout=10)
        assert timers(loop) == ["full", "young"]
        await ctx.aclose()
        assert timers(loop) == []
        assert gc.get_threshold() == before
    finally:
        gc.callbacks.remove(record)


@pytest.mark.parametrize(
    ("unfrozen_old", "due"),
    [
        (0, True),
        (FULL_IF_BELOW - 1, True),  # a quiet moment: short enough
        (FULL_IF_BELOW, False),  # busy sockets: would pause too long, wait
        (FULL_ANYWAY_ABOVE, False),
        (FULL_ANYWAY_ABOVE + 1, True),  # memory first: one long pause, logged
    ],
)
def test_a_full_collection_runs_when_short_or_when_memory_needs_it(
    unfrozen_old: int, due: bool
) -> None:
    assert full_collection_due(unfrozen_old) is due


def test_socket_events_refreeze_in_storms_and_at_quiet_moments() -> None:
    """The node's hook: every REFREEZE_AFTER_EVENTS sockets the heap is frozen again (young
    collection only), and a quiet moment after any event freezes what is left."""
    policy = GcPolicy()
    frozen: list[int] = []
    try:
        for _ in range(REFREEZE_AFTER_EVENTS - 1):
            policy.socket_event()
        before = gc.get_freeze_count()
        policy.quiet_moment()  # something happened since the last freeze
        frozen.append(gc.get_freeze_count() - before)
        kept = [object() for _ in range(100)]  # noqa: F841  # live objects to freeze
        for _ in range(REFREEZE_AFTER_EVENTS):
            policy.socket_event()
        frozen.append(gc.get_freeze_count() - before)
        count = gc.get_freeze_count()
        policy.quiet_moment()  # nothing happened since: no work
        assert gc.get_freeze_count() == count
        assert frozen[0] > 0 and frozen[1] > frozen[0]
    finally:
        gc.unfreeze()
