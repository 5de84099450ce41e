"""Two real `duet serve` processes sharing one Redis: a call whose two people sit on different nodes.

One process cannot show what matters here: that the seat directory and the per-node pub/sub
channels carry offers, answers, candidates and chat between processes, and that a Redis restart
(empty data, same port) heals by itself: each node's listener reconnects with backoff and writes
its live seats back, so signaling, chat and even a resume keep working. The nodes run on the
system clock, so the chat is booked at the real current time. Run inside a loopback-only netns.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msgpack
import pytest
import redis.asyncio as redis

from rooms.broker import SeatRecord
from scheduling.clock import ManualClock
from signaling import messages as m
from signaling.node import SEAT_TTL_S, SETTLE_EVERY_S
from tests.support.apiclient import ADA, SAM, Api, Person
from tests.support.app import TEST_SECRET
from tests.support.duet_nodes import (
    DuetNode,
    Rest,
    book_chat_now,
    launch_node,
    poll,
    wait_ready,
)
from tests.support.media_client import Dialer, MediaClient
from tests.support.peers import SyntheticVideoTrack
from tests.support.seed import at, confirmed_chat
from tests.support.services import RunningService
from tests.support.signal_client import join
from web.app import create_app
from web.config import Config

pytestmark = [pytest.mark.media, pytest.mark.redis, pytest.mark.usefixtures("loopback_ice")]

SECRET = "multinode-test-secret-0123456789abcdef"
WITHIN = 20.0
HEAL_WITHIN = 30.0  # listener backoff is capped at 5 s; this leaves room for a slow machine
FRAMES = 15


@pytest.fixture
def nodes(redis_service: RunningService, tmp_path: Path) -> Iterator[list[DuetNode]]:
    """Started lazily by `_start_nodes`; whatever was started is stopped at teardown."""
    started: list[DuetNode] = []
    yield started
    for node in started:
        node.stop()


async def _start_nodes(
    started: list[DuetNode], redis_port: int, tmp_path: Path, session: aiohttp.ClientSession
) -> tuple[DuetNode, DuetNode]:
    """Node A first, then B: both would otherwise run the SQLite migrations at once."""
    database_url = f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3"
    for node_id in ("node-a", "node-b"):
        node = launch_node(node_id, tmp_path, SECRET, database_url, redis_port=redis_port)
        started.append(node)
        await wait_ready(session, node)
    return started[0], started[1]


def _dialer(api: Rest, person: Person, chat_id: str) -> Dialer:
    """Ticket from this node's REST API, socket to the `ws_url` it names (the same node)."""

    async def dial() -> tuple[aiohttp.ClientWebSocketResponse, str]:
        grant = await api.call(person, "POST", f"/api/v1/chats/{chat_id}/join")
        assert grant["ws_url"] == f"ws://127.0.0.1:{api.node.port}/api/v1/ws"
        ws = await api.session.ws_connect(grant["ws_url"], protocols=(m.SUBPROTOCOL_JSON,))
        return ws, grant["ticket"]

    return dial


async def _seats(redis_port: int, chat_id: str) -> dict[str, SeatRecord]:
    """The seat directory as Redis holds it right now (the broker's msgpack records)."""
    client = redis.Redis(host="127.0.0.1", port=redis_port)
    try:
        found = {}
        for person in (ADA, SAM):
            data = await client.hget(f"duet:seat:{chat_id}:{person.id}", "data")
            if data is not None:
                found[person.id] = SeatRecord.from_dict(msgpack.unpackb(data))
        return found
    finally:
        await client.aclose()


async def _subscribers(redis_port: int) -> dict[str, int]:
    client = redis.Redis(host="127.0.0.1", port=redis_port)
    try:
        counts = await client.pubsub_numsub("duet:node:node-a", "duet:node:node-b")
        return {name.decode(): count for name, count in counts}
    finally:
        await client.aclose()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def _media_flows(ada: MediaClient, sam: MediaClient, generation: int = 1) -> None:
    """Both on their `generation`-th peer connection, connected, and decoding new frames."""
    for client in (ada, sam):
        await client.wait_until(lambda c=client: c.generation == generation, WITHIN, "a new pc")
    assert ada.peer is not None and sam.peer is not None
    await ada.peer.wait_connected(WITHIN)
    await sam.peer.wait_connected(WITHIN)
    for peer in (ada.peer, sam.peer):
        video = peer.received["video"]
        await video.wait_for(video.count + FRAMES, WITHIN)
        assert await peer.wait_frames("audio", 25, WITHIN) >= 25


async def test_call_across_two_nodes_survives_a_redis_restart(
    redis_service: RunningService,
    nodes: list[DuetNode],
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    node_a, node_b = await _start_nodes(nodes, redis_service.port, tmp_path, session)
    rest_a, rest_b = Rest(session, node_a, SECRET), Rest(session, node_b, SECRET)
    chat_id, starts_at = await book_chat_now(rest_a)
    assert datetime.now(UTC) >= starts_at - timedelta(minutes=5), "the join window is open"
    ada = MediaClient("ada@node-a", _dialer(rest_a, ADA, chat_id))
    sam = MediaClient("sam@node-b", _dialer(rest_b, SAM, chat_id), trickle=True)
    try:
        joined = await ada.connect()
        assert joined.offerer and joined.media_action == "none"
        joined = await sam.connect()
        assert joined.peer.state == "connected" and joined.media_action == "new_connection"
        await _media_flows(ada, sam)  # offer, answer and trickled candidates crossed nodes
        seats = await _seats(redis_service.port, chat_id)
        assert seats[ADA.id].node_id == "node-a" and seats[SAM.id].node_id == "node-b"

        ack = await ada.chat_send("hello from node A")
        assert (await sam.wait_chat("hello from node A")).seq == ack.seq
        assert (await ada.wait_chat("hello from node A")).seq == ack.seq
        ack = await sam.chat_send("hello from node B")
        assert (await ada.wait_chat("hello from node B")).seq == ack.seq == 2

        # Redis restarts empty on the same port. Media is peer-to-peer and does not notice.
        await asyncio.to_thread(redis_service.restart)

        async def healed() -> bool:
            seats = await _seats(redis_service.port, chat_id)
            subscribed = await _subscribers(redis_service.port)
            return set(seats) == {ADA.id, SAM.id} and set(subscribed.values()) == {1}

        await poll(healed, HEAL_WITHIN, "seats rewritten and both nodes resubscribed")
        seats = await _seats(redis_service.port, chat_id)
        assert seats[ADA.id].node_id == "node-a" and seats[SAM.id].node_id == "node-b"
        assert seats[ADA.id].state == seats[SAM.id].state == "connected"

        ack = await ada.chat_send("after the restart, from A")
        assert (await sam.wait_chat("after the restart, from A", WITHIN)).seq == ack.seq
        ack = await sam.chat_send("after the restart, from B")
        assert (await ada.wait_chat("after the restart, from B", WITHIN)).seq == ack.seq

        # Renegotiation across nodes: Ada (the offerer) now shares a screen.
        mid = await ada.start_screen_share(SyntheticVideoTrack(480, 270))
        await sam.wait_until(
            lambda: sam.peer is not None and mid in sam.peer.by_mid, WITHIN, "screen"
        )
        assert sam.peer is not None
        assert await sam.peer.by_mid[mid].wait_for(FRAMES, WITHIN) >= FRAMES
        assert sam.peer_tracks.get(mid) == "screen"
        await ada.wait_until(ada.stable, WITHIN, "the share's answer")
        await _media_flows(ada, sam)

        # The rewritten directory is what lets a drop and a resume on the *other* node work.
        seen = len(ada.messages)
        await sam.drop()
        await ada.expect(m.PeerReconnecting, WITHIN, after=seen)
        sam.dial = _dialer(rest_a, SAM, chat_id)  # a load balancer may pick any node
        seen = len(ada.messages)
        joined = await sam.connect(resume=True)
        assert joined.media_action == "new_connection" and joined.peer.state == "connected"
        peer_joined = await ada.expect(m.PeerJoined, WITHIN, after=seen)
        assert peer_joined.resumed and peer_joined.media_action == "new_connection"
        await _media_flows(ada, sam, generation=2)
        await sam.chat_send("resumed on node A")
        await ada.wait_chat("resumed on node A")
        seats = await _seats(redis_service.port, chat_id)
        assert seats[SAM.id].node_id == "node-a"
        assert not ada.failures and not sam.failures
    except BaseException:
        for node in nodes:
            print(f"--- {node.node_id} log ---\n{node.output()}")
        raise
    finally:
        await sam.close()
        await ada.close()


async def test_live_seats_are_refreshed_before_their_redis_ttl_runs_out(
    aiohttp_client: Any, app_config: Config, clock: ManualClock, redis_service: RunningService
) -> None:
    """Seats carry a TTL so a crashed node's seats vanish; a live seat must not.

    Without refreshing, every call's seats disappeared 90 s after joining, and a later drop or
    resume found no seat: the peer was never told and the rejoin saw an empty room.
    """
    config = dataclasses.replace(
        app_config,
        broker="redis",
        redis_url=f"redis://127.0.0.1:{redis_service.port}/0",
        node_id="solo",
    )
    api = Api(await aiohttp_client(create_app(config, clock=clock)), TEST_SECRET, clock)
    chat_id, chat = await confirmed_chat(api)
    clock.set(at(chat["slot"]["starts_at"]) - timedelta(minutes=2))
    ada, _ = await join(api, ADA, chat_id)
    store = redis.Redis(host="127.0.0.1", port=redis_service.port)
    key = f"duet:seat:{chat_id}:{ADA.id}"
    try:
        assert 0 < await store.ttl(key) <= SEAT_TTL_S
        await store.expire(key, 5)  # as if most of the TTL had passed without a refresh
        # The pass that the clock's jump to the chat's day started schedules the next one when
        # it ends: let it end first, or the advance below can come before that next pass exists.
        await asyncio.gather(*(t for t in asyncio.all_tasks() if t.get_name() == "settle"))
        clock.advance(timedelta(seconds=SETTLE_EVERY_S))  # the node's periodic pass is due

        async def refreshed() -> bool:
            return await store.ttl(key) > SEAT_TTL_S - 30

        await poll(refreshed, 10.0, "the live seat's TTL refreshed")
        seat = (await _seats(redis_service.port, chat_id))[ADA.id]
        assert seat.state == "connected" and seat.node_id == "solo"
    finally:
        await store.aclose()
        await ada.close()
