"""A node killed outright (no `disconnected` for its sockets) is noticed by the others.

Two real `duet serve` processes share one Redis; Ada's socket is on node A, Sam's on node B.
SIGKILL B: node A finds B's liveness key gone (signaling/presence.py `watch_nodes`) and tells Ada
`peer_reconnecting`, and Sam's resume on A brings `peer_joined`; never `peer_left`. When Sam is
back before anyone noticed, the join itself tells Ada both, in that order.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as redis

from signaling import messages as m
from tests.support.apiclient import ADA, SAM, Person
from tests.support.duet_nodes import DuetNode, Rest, book_chat_now, launch_node, poll, wait_ready
from tests.support.rooms import closed_with
from tests.support.services import RunningService
from tests.support.signal_client import SignalClient

pytestmark = pytest.mark.redis

SECRET = "node-death-test-secret-0123456789abcdef"
NOTICED_WITHIN = 8.0  # liveness TTL 3 s, checked every second, two misses: ~5 s at worst


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def nodes(redis_service: RunningService, tmp_path: Path) -> Iterator[list[DuetNode]]:
    started: list[DuetNode] = []
    yield started
    for node in started:
        node.stop()


async def _two_nodes(
    started: list[DuetNode], redis_port: int, tmp_path: Path, session: aiohttp.ClientSession
) -> tuple[Rest, Rest]:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3"
    for node_id in ("node-a", "node-b"):  # one after the other: both would migrate at once
        node = launch_node(node_id, tmp_path, SECRET, database_url, redis_port=redis_port)
        started.append(node)
        await wait_ready(session, node)
    return Rest(session, started[0], SECRET), Rest(session, started[1], SECRET)


async def _join(
    rest: Rest, person: Person, chat_id: str, resume: m.Resume | None = None
) -> tuple[SignalClient, m.Joined]:
    grant = await rest.call(person, "POST", f"/api/v1/chats/{chat_id}/join")
    ws = await rest.session.ws_connect(grant["ws_url"], protocols=(m.SUBPROTOCOL_JSON,))
    client = SignalClient(ws, binary=False)
    await client.send(m.Join(v=1, ticket=grant["ticket"], resume=resume))
    return client, await client.expect(m.Joined)


async def _gone(store: redis.Redis, key: str) -> bool:
    return not await store.exists(key)


def _kill(node: DuetNode) -> None:
    os.kill(node.process.pid, signal.SIGKILL)
    node.process.wait(timeout=10)


async def test_a_killed_nodes_seats_are_dropped_and_the_peer_told(
    nodes: list[DuetNode],
    redis_service: RunningService,
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    on_a, on_b = await _two_nodes(nodes, redis_service.port, tmp_path, session)
    chat_id, _ = await book_chat_now(on_a)
    ada, _ = await _join(on_a, ADA, chat_id)
    sam, _ = await _join(on_b, SAM, chat_id)
    await ada.expect(m.PeerJoined)
    _kill(nodes[1])
    reconnecting = await ada.expect(m.PeerReconnecting, within=NOTICED_WITHIN)
    assert reconnecting.grace_s == 60
    sam, joined = await _join(on_a, SAM, chat_id, m.Resume(last_seq=0, media_kept=True))
    assert joined.peer.state == "connected"
    back = await ada.expect(m.PeerJoined)
    assert back.resumed is True
    assert not any(isinstance(x, m.PeerLeft) for x in ada.received)
    await ada.close()
    await sam.close()


async def test_a_resume_before_anyone_noticed_tells_the_peer_reconnecting_then_back(
    nodes: list[DuetNode],
    redis_service: RunningService,
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    on_a, on_b = await _two_nodes(nodes, redis_service.port, tmp_path, session)
    chat_id, _ = await book_chat_now(on_a)
    ada, _ = await _join(on_a, ADA, chat_id)
    sam, _ = await _join(on_b, SAM, chat_id)
    await ada.expect(m.PeerJoined)
    _kill(nodes[1])
    store = redis.Redis(host="127.0.0.1", port=redis_service.port)
    try:  # B's liveness key runs out (its TTL is Redis's real time; bounded polling)
        await poll(lambda: _gone(store, "duet:alive:node-b"), 10.0, "node B's liveness key gone")
    finally:
        await store.aclose()
    sam, _ = await _join(on_a, SAM, chat_id, m.Resume(last_seq=0, media_kept=True))
    reconnecting = await ada.expect(m.PeerReconnecting)
    back = await ada.expect(m.PeerJoined)
    assert back.resumed is True and reconnecting.grace_s == 60
    await ada.send(m.Ping(ts=1))
    await ada.expect(m.Pong)
    kinds = [type(x).__name__ for x in ada.received]
    assert kinds.count("PeerReconnecting") == 1 and "PeerLeft" not in kinds
    await ada.close()
    await sam.close()


async def test_the_grace_of_a_stopped_nodes_seat_is_taken_over(
    nodes: list[DuetNode],
    redis_service: RunningService,
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    """Node B stops (SIGTERM): Sam's socket gets 1001 and Ada `peer_reconnecting`; B's grace
    timer died with B, so node A runs it, and when Sam never comes back Ada hears `peer_left`."""
    database_url = f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3"
    for node_id in ("node-a", "node-b"):
        node = launch_node(
            node_id,
            tmp_path,
            SECRET,
            database_url,
            redis_port=redis_service.port,
            env={"DUET_RECONNECT_GRACE_S": "3"},
        )
        nodes.append(node)
        await wait_ready(session, node)
    on_a, on_b = Rest(session, nodes[0], SECRET), Rest(session, nodes[1], SECRET)
    chat_id, _ = await book_chat_now(on_a)
    ada, _ = await _join(on_a, ADA, chat_id)
    sam, _ = await _join(on_b, SAM, chat_id)
    await ada.expect(m.PeerJoined)
    await asyncio.to_thread(nodes[1].stop)  # graceful: 1001 to Sam, presence news published
    assert (await closed_with(sam))[0] == 1001
    assert (await ada.expect(m.PeerReconnecting)).grace_s == 3
    left = await ada.expect(m.PeerLeft, within=3 + NOTICED_WITHIN)
    assert left.reason == "timeout"
    await ada.close()
