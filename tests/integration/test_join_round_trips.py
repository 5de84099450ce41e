"""How many times a join waits on Redis, counted against a real Redis so it cannot creep back.

At :00 thousands of joins arrive at once (issue #12), and each wait on Redis costs the node a
pipeline's worth of CPU and the person a round trip. A join sends two pipelines of its own: the
claim with everything read before a seat is taken (`open_join`), then the seat's write with the
reads that must follow it (`take_seat`). Its live-board news rides the publisher's batched
pipeline, shared with every other payload of those milliseconds.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgpack
import pytest
import redis.asyncio as redis

from rooms.broker import SeatRecord, SeatState
from rooms.broker_redis import RedisBroker
from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.ws import NODE
from tests.support.apiclient import ADA, SAM, Api
from tests.support.app import redis_config
from tests.support.rooms import closed_with, eventually, live_chat, present
from tests.support.services import RunningService
from tests.support.signal_client import SignalClient, ticket
from web.config import Config

pytestmark = pytest.mark.redis

# The node's own timers, due whenever: not part of any join.
_TICKS = ("watch-nodes", "settle")


@pytest.fixture
def app_config(tmp_path: Path, redis_service: RunningService) -> Config:
    return redis_config(
        f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        redis_service.port,
    )


@contextmanager
def round_trips(broker: RedisBroker) -> Iterator[Counter[str]]:
    """Each command or pipeline the broker sends takes a pooled connection once and waits for
    its replies once: counted here by who sent it, "batched" (the publisher's shared pipeline)
    or "join" (anything else: the socket's own task and what it spawned)."""
    seen: Counter[str] = Counter()
    pool = broker._pool
    real = pool.get_connection

    async def counted(*args: Any, **kwargs: Any) -> Any:
        task = asyncio.current_task()
        name = task.get_name() if task is not None else ""
        if name.startswith("redis-publish-"):
            seen["batched"] += 1
        elif not name.startswith(_TICKS):
            seen["join"] += 1
        return await real(*args, **kwargs)

    pool.get_connection = counted  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        del pool.get_connection


async def _news_kept(store: redis.Redis, chat_id: str, user_id: str) -> None:
    """Wait until the live board's record of this seat is in Redis (published and kept)."""
    key = f"{chat_id}:{user_id}:seat"

    async def kept() -> bool:
        return bool(await store.hexists("duet:live:records", key))

    deadline = asyncio.get_running_loop().time() + 5
    while not await kept():
        assert asyncio.get_running_loop().time() < deadline, f"no live record {key}"
        await asyncio.sleep(0.01)


async def _joins(api: Api, raw_ticket: str) -> tuple[SignalClient, m.Joined]:
    client = await present(api, raw_ticket)
    return client, await client.expect(m.Joined)


async def test_a_join_waits_on_redis_twice(api: Api, redis_service: RunningService) -> None:
    broker = api.client.app[NODE].broker
    assert isinstance(broker, RedisBroker)
    store = redis.Redis(host="127.0.0.1", port=redis_service.port)
    try:
        chat_id, _ = await live_chat(api)
        # The grants read the broker's epoch (cached per node for a second): not the join's.
        ada_ticket = (await ticket(api, ADA, chat_id))["ticket"]
        sam_ticket = (await ticket(api, SAM, chat_id))["ticket"]
        again = (await ticket(api, SAM, chat_id))["ticket"]

        with round_trips(broker) as first:
            ada, joined = await _joins(api, ada_ticket)
            await _news_kept(store, chat_id, ADA.id)
        assert not joined.peer.present
        assert first["join"] == 2, first
        assert first["batched"] >= 1  # the live news went out, in the shared pipeline

        with round_trips(broker) as second:  # the peer is seated: it hears of us too
            sam, joined = await _joins(api, sam_ticket)
            await ada.expect(m.PeerJoined)
            await _news_kept(store, chat_id, SAM.id)
        assert joined.peer.present
        assert second["join"] == 2, second

        with round_trips(broker) as rejoin:  # another tab replaces the first, on this node
            tab, joined = await _joins(api, again)
            code, _ = await closed_with(sam)  # the replaced tab leaves without asking Redis
        assert code == CloseCode.REPLACED
        assert joined.peer.present
        assert rejoin["join"] == 2, rejoin
        await ada.close()
        await tab.close()
    finally:
        await store.aclose()


async def test_replacing_a_seat_held_on_another_live_node_adds_one_check(
    api: Api, redis_service: RunningService
) -> None:
    """The seat names another node: whether that node is alive decides between `replaced`
    (sent there through the publisher) and a resume after its death; one more round trip."""
    broker = api.client.app[NODE].broker
    assert isinstance(broker, RedisBroker)
    store = redis.Redis(host="127.0.0.1", port=redis_service.port)
    try:
        chat_id, _ = await live_chat(api)
        raw = (await ticket(api, SAM, chat_id))["ticket"]
        elsewhere = SeatRecord("node-x", "conn-x", SeatState.CONNECTED, SAM.name)
        seat_key = f"duet:seat:{chat_id}:{SAM.id}"
        await store.hset(
            seat_key, mapping={"conn": "conn-x", "data": msgpack.packb(elsewhere.to_dict())}
        )
        await store.expire(seat_key, 60)
        await store.set("duet:alive:node-x", b"1", ex=60)
        with round_trips(broker) as seen:
            sam, joined = await _joins(api, raw)
            await eventually(lambda: broker._idle.is_set(), "the replaced note published")
        assert joined.you.user_id == SAM.id
        assert seen["join"] == 3, seen
        data = await store.hget(seat_key, "data")
        assert data is not None
        assert SeatRecord.from_dict(msgpack.unpackb(data)).node_id == broker.node_id
        await sam.close()
    finally:
        await store.aclose()
