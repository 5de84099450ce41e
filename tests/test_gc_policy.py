"""`duet serve`'s collector policy (web/gc_policy.py): the young generations are collected on a
timer while serving, and the timer stops with the app, leaving no callback behind."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from aiohttp import web

from web.gc_policy import young_collections


def ticks(loop: asyncio.AbstractEventLoop) -> list[asyncio.TimerHandle]:
    """The policy's pending timer callbacks on `loop` (asyncio's default loop keeps them in
    `_scheduled`)."""
    return [
        h
        for h in loop._scheduled  # type: ignore[attr-defined]
        if not h.cancelled() and getattr(h._callback, "__name__", "") == "tick"
    ]


async def test_young_generations_are_collected_on_a_timer_until_cleanup() -> None:
    loop = asyncio.get_running_loop()
    young: asyncio.Queue[int] = asyncio.Queue()

    def seen(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == 1:
            loop.call_soon_threadsafe(young.put_nowait, info["generation"])

    gc.callbacks.append(seen)
    try:
        ctx = young_collections(web.Application(), every_s=0.01)
        await ctx.__anext__()
        for _ in range(2):  # it runs again after the first time: a timer, not a one-off
            assert await asyncio.wait_for(young.get(), timeout=5) == 1
        assert len(ticks(loop)) == 1
        await ctx.aclose()
        assert ticks(loop) == []
    finally:
        gc.callbacks.remove(seen)
