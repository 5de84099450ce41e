"""The answer cache's own rules (web/offers_cache.py), with the in-memory broker: entries expire
when their earliest slot starts, a change of one key leaves the others, and the number of entries
is bounded (one per employee asked about is many)."""

from __future__ import annotations

from datetime import timedelta

from rooms.broker_memory import MemoryBroker
from scheduling.clock import ManualClock
from tests.support.app import TEST_NOW
from web.offers_cache import AnswerCache, Built


def cache_of(clock: ManualClock, max_entries: int = 50_000) -> AnswerCache:
    return AnswerCache(MemoryBroker(clock), clock.now, "test", max_entries)


async def test_an_entry_lasts_until_its_earliest_slot_starts_and_a_change_is_per_key() -> None:
    clock = ManualClock(TEST_NOW)
    cache = cache_of(clock)
    starts = TEST_NOW + timedelta(seconds=10)

    async def build() -> Built:
        return Built(b'{"n":%d}' % cache.builds, starts)

    first = await cache.get("a", build)
    await cache.get("b", build)
    assert (await cache.get("a", build)).etag == first.etag and cache.builds == 2
    await cache.invalidate("b")
    assert (await cache.get("a", build)).body == first.body and cache.builds == 2
    assert (await cache.get("b", build)).body == b'{"n":2}'
    clock.advance(timedelta(seconds=10))
    assert (await cache.get("a", build)).body == b'{"n":3}'


async def test_entries_are_bounded_expired_ones_going_first() -> None:
    clock = ManualClock(TEST_NOW)
    cache = cache_of(clock, max_entries=2)

    def until(seconds: int | None) -> Built:
        start = None if seconds is None else TEST_NOW + timedelta(seconds=seconds)
        return Built(b"[]", start)

    async def soon() -> Built:
        return until(5)

    async def later() -> Built:
        return until(None)

    await cache.get("soon", soon)
    await cache.get("later", later)
    clock.advance(timedelta(seconds=5))
    await cache.get("third", later)  # full: the expired entry makes room
    await cache.get("later", later)
    assert cache.builds == 3
    await cache.get("fourth", later)  # full of live entries: all go
    await cache.get("third", later)
    assert cache.builds == 5
