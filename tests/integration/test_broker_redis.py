"""The Redis broker's fan-out on a real redis-server (rooms/broker_redis.py): payloads to another
node arrive complete and in order although they travel batched, one frame per destination node
per batch; a frame that is not one of ours is dropped without deafening the listener, and a
frame of another shape (a bare envelope or a bare list of payloads, as earlier versions
published) is dropped too. Each frame carries its publisher's time, so both lags are measured."""

from __future__ import annotations

import asyncio
import time

import msgpack

from rooms.broker_redis import LINGER_S, RedisBroker
from tests.support.services import RunningService


async def test_batched_payloads_arrive_complete_and_in_order(
    redis_service: RunningService,
) -> None:
    url = f"redis://127.0.0.1:{redis_service.port}/0"
    a, b, c = RedisBroker(url, "a"), RedisBroker(url, "b"), RedisBroker(url, "c")
    got: dict[str, list[bytes]] = {"b": [], "c": []}
    done = asyncio.Event()

    def receiver(name: str):  # type: ignore[no-untyped-def]
        async def deliver(payload: bytes) -> None:
            got[name].append(payload)
            if len(got["b"]) == 2000 and len(got["c"]) == 500:
                done.set()

        return deliver

    async def ignore(payload: bytes) -> None:
        raise AssertionError("node a is sent nothing")

    await a.start(ignore)
    await b.start(receiver("b"))
    await c.start(receiver("c"))
    try:
        for i in range(2000):  # all queued before the publisher runs: large batches
            await a.send("b", b"to-b %d" % i)
            if i % 4 == 0:
                await a.send("c", b"to-c %d" % (i // 4))
        await asyncio.wait_for(done.wait(), 10)
        assert got["b"] == [b"to-b %d" % i for i in range(2000)]
        assert got["c"] == [b"to-c %d" % i for i in range(500)]
        assert a.dropped == 0
    finally:
        for broker in (a, b, c):
            await broker.close()


async def test_a_foreign_frame_is_dropped_and_the_listener_goes_on(
    redis_service: RunningService,
) -> None:
    url = f"redis://127.0.0.1:{redis_service.port}/0"
    a, b = RedisBroker(url, "a"), RedisBroker(url, "b")
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def deliver(payload: bytes) -> None:
        if payload == b"boom":
            raise ValueError("a payload the node cannot handle")
        await got.put(payload)

    async def ignore(payload: bytes) -> None:
        pass

    await a.start(ignore)
    await b.start(deliver)
    try:
        envelope = msgpack.packb({"c": "chat", "u": "ada"})  # one envelope, not in a frame
        bare_list = msgpack.packb([b"lost", b"too"])  # payloads without the publisher's time
        ours = msgpack.packb([time.time(), [b"boom", b"ok"]])
        for frame in (b"\xc1", msgpack.packb(7), envelope, bare_list, ours):
            await a._redis.publish("duet:node:b", frame)
        await a.send("b", b"after")
        assert await asyncio.wait_for(got.get(), 5) == b"ok"
        assert await asyncio.wait_for(got.get(), 5) == b"after"  # the others were dropped
    finally:
        await a.close()
        await b.close()


async def test_both_lags_are_observed_per_batch_and_per_frame(
    redis_service: RunningService,
) -> None:
    """Publish lag: from `post` to the batch's PUBLISH done (at least the 2 ms linger); receive
    lag: from the publisher's time in the frame to the listener."""
    url = f"redis://127.0.0.1:{redis_service.port}/0"
    a, b = RedisBroker(url, "a"), RedisBroker(url, "b")
    lags: dict[str, list[float]] = {"publish": [], "receive": []}
    a.observe_lag = lambda direction, seconds: lags[direction].append(seconds)
    b.observe_lag = a.observe_lag
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def ignore(payload: bytes) -> None:
        pass

    await a.start(ignore)
    await b.start(got.put)
    try:
        for i in range(3):
            a.post("b", b"p%d" % i)
        assert [await asyncio.wait_for(got.get(), 5) for _ in range(3)] == [b"p0", b"p1", b"p2"]
        assert len(lags["publish"]) == 1 and len(lags["receive"]) == 1  # one batch, one frame
        assert LINGER_S <= lags["publish"][0] < 5
        assert 0 <= lags["receive"][0] < 5
    finally:
        await a.close()
        await b.close()
