"""Thousands of sockets opened and closed leave nothing behind (issue: ~11 KiB leaked per socket).

Each kind of socket life a server sees at a fair runs 2,000 times: a clean join and leave, a
refused ticket, bad frames, and an abrupt drop (the seat's reconnect grace then runs out). The
collector stays off the whole time, so every per-connection object must be freed by reference
counting alone: a reference cycle would survive, and so would anything `duet serve`'s periodic
`gc.freeze()` had frozen (web/gc_policy.py). RSS must come back within a small bound too.
"""

from __future__ import annotations

import asyncio
import collections
import gc
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
import orjson
import pytest

from rooms.tickets import mint_ticket, verify_ticket
from signaling import messages as m
from signaling.ws import NODE
from tests.support.apiclient import ADA, Api
from tests.support.app import TEST_SECRET
from tests.support.rooms import drop, eventually, forge, live_chat, pair, rejoin
from web.config import Config

ROUNDS = 2_000
# Dropped seats wait for their grace: the clock ends it after every this many drops.
GRACE_EVERY = 250
# Objects that exist once per server-side socket (and the client's twins, which must go too).
PER_SOCKET = frozenset(
    {
        "InlineWebSocketResponse",
        "InlineQueue",
        "WebSocketReader",
        "WebSocketWriter",
        "Request",
        "RequestHandler",
        "Connection",
        "ConnectionLimits",
        "TCPTransport",
        "ClientWebSocketResponse",
        "ClientResponse",
    }
)
# Python's allocator keeps some freed arenas; 11 KiB leaked per socket would be ~88 MiB here.
RSS_SLACK = 12 * 1024 * 1024


@pytest.fixture
def app_config(tmp_path: Path) -> Config:
    # A short grace, so dropped seats are released by the clock in the test (it is manual).
    return Config(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        jwt_secret=TEST_SECRET,
        dev_login=True,
        reconnect_grace_s=5,
    )


def _census() -> collections.Counter[str]:
    return collections.Counter(
        name for o in gc.get_objects() if (name := type(o).__name__) in PER_SOCKET
    )


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


Life = Callable[[aiohttp.ClientSession], Awaitable[None]]


async def test_thousands_of_sockets_of_every_kind_leave_nothing_alive(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    # The chat's stored facts as the join endpoint signs them; a fresh nonce per socket.
    room = verify_ticket(TEST_SECRET, await forge(api, chat_id, ADA.id), api.clock.now()).room
    url = api.client.make_url("/api/v1/ws")
    epoch = await api.client.app[NODE].broker.epoch()

    def join_frame() -> str:
        expires = api.clock.now() + timedelta(seconds=60)
        ticket = mint_ticket(TEST_SECRET, room, expires, epoch)
        return orjson.dumps({"type": "join", "v": 1, "ticket": ticket}).decode()

    async def open_joined(session: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
        ws = await session.ws_connect(url, protocols=(m.SUBPROTOCOL_JSON,))
        await ws.send_str(join_frame())
        joined = await ws.receive(timeout=5)
        assert orjson.loads(joined.data)["type"] == "joined", joined
        return ws

    async def until_closed(ws: aiohttp.ClientWebSocketResponse) -> int | None:
        while True:
            frame = await ws.receive(timeout=5)
            if frame.type == aiohttp.WSMsgType.CLOSE:
                code = int(frame.data)
                await ws.close()
                return code
            if frame.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                return ws.close_code

    async def clean_leave(session: aiohttp.ClientSession) -> None:
        ws = await open_joined(session)
        await ws.send_str('{"type":"leave"}')
        assert await until_closed(ws) == 1000

    async def refused_ticket(session: aiohttp.ClientSession) -> None:
        ws = await session.ws_connect(url, protocols=(m.SUBPROTOCOL_JSON,))
        await ws.send_str('{"type":"join","v":1,"ticket":"not-a-ticket"}')
        assert await until_closed(ws) == 4001

    async def bad_frames(session: aiohttp.ClientSession) -> None:
        ws = await open_joined(session)
        await ws.send_str("{not json")
        error = orjson.loads((await ws.receive(timeout=5)).data)
        assert error["code"] == "malformed"
        await ws.send_bytes(b"\x80")  # a binary frame on the JSON subprotocol
        assert await until_closed(ws) == 1003

    async def abrupt_drop(session: aiohttp.ClientSession) -> None:
        ws = await open_joined(session)
        ws._writer.transport.abort()  # no close frame, as a lost network
        await ws.receive(timeout=5)
        error = ws.exception()
        while error is not None:  # the client's own reference cycle: not the server's concern
            error.__traceback__ = None
            error = error.__context__

    lives: list[Life] = [clean_leave, refused_ticket, bad_frames, abrupt_drop]

    async def run(rounds: int) -> None:
        async with aiohttp.ClientSession() as session:
            for life in lives:
                for done in range(1, rounds + 1):
                    await life(session)
                    if done % GRACE_EVERY == 0:
                        await grace_runs_out()
        await grace_runs_out()

    async def grace_runs_out() -> None:
        """The dropped seats' reconnect grace ends (their peer would now see `peer_left`)."""
        node = api.client.app[NODE]
        await eventually(lambda: not node.local, "every socket's handler done")
        api.clock.advance(timedelta(seconds=6))
        await asyncio.sleep(0)  # the clock's callbacks start the grace-over tasks
        await eventually(lambda: not node._tasks, "every grace over")

    await run(GRACE_EVERY)  # warm-up: caches, pools, the allocator's arenas
    gc.collect()
    gc.disable()
    try:
        before, rss_before = _census(), _rss()
        await run(ROUNDS)
        after, rss_after = _census(), _rss()
    finally:
        gc.enable()
    grown = {name: after[name] - before[name] for name in PER_SOCKET if after[name] > before[name]}
    assert not grown, f"per-socket objects alive after {4 * ROUNDS} sockets: {grown}"
    assert rss_after - rss_before < RSS_SLACK, (rss_before, rss_after)


async def test_a_sockets_life_leaves_no_cyclic_garbage(api: Api) -> None:
    """What makes the periodic `gc.freeze()` safe: frozen objects are still freed by reference
    counting, and only cyclic garbage would stay frozen for good. A leave and a drop with resume,
    with a relayed message each, on server and client, must create none."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    candidate = m.Candidate(candidate="candidate:1 1 udp 1 1.2.3.4 5 typ host", sdpMid="0")
    gc.collect()
    gc.disable()
    try:
        for _ in range(5):
            await ada.send(m.Leave())
            await ada.closed()
            ada, _ = await rejoin(api, ADA, chat_id)
            await sam.expect(m.PeerJoined)
            drop(ada)
            await sam.expect(m.PeerReconnecting)
            ada, _ = await rejoin(api, ADA, chat_id, resume=m.Resume(last_seq=0, media_kept=True))
            await sam.expect(m.PeerJoined)
            await ada.send(candidate)
            await sam.expect(m.RelayedCandidate)
        assert gc.collect() == 0
    finally:
        gc.enable()
