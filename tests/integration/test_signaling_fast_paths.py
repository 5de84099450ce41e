"""The signaling fast paths (docs/performance.md, "after the fixes") keep the protocol's behaviour.

- direct writes go straight to the transport (signaling/aiohttp_internals.py);
- a paused transport still gets frames in order, and a client that stops reading is closed 4013;
- relayed messages go out without rebuilding them, and cross-node JSON reaches msgpack clients
  byte for byte as a local message would;
- batched attendance, the one-query chat history and pipelined seat refreshes. (That a socket's
  life leaves no cyclic garbage, which makes the periodic `gc.freeze()` safe, is tests/integration/soak.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import msgpack
import orjson
import pytest
import sqlalchemy as sa
from aiohttp import WSMsgType, web
from aiohttp._websocket.reader import WebSocketReader
from aiohttp.test_utils import TestClient

from rooms import attendance, chatlog
from rooms.broker import SeatRecord, SeatState
from rooms.broker_redis import RedisBroker
from scheduling.db import read_tx
from scheduling.schema import attendance as attendance_table
from scheduling.store_chats import ended_unsettled
from signaling import messages as m
from signaling.aiohttp_internals import InlineQueue, write_frame_now
from signaling.close_codes import CloseCode
from signaling.codec import encode, encode_json_bytes
from signaling.connection import OUTBOX_LIMIT, Connection
from signaling.ws import NODE
from tests.support.apiclient import ADA, ALAN, GRACE, MEI, PRIYA, SAM, Api
from tests.support.rooms import live_chat, pair, room_closes_at
from tests.support.seed import confirmed_chat
from tests.support.services import RunningService
from web.keys import ENGINE

Handler = Callable[[Connection], Awaitable[None]]


async def _socket_pair(
    aiohttp_client: Any, script: Handler
) -> tuple[TestClient, Any, asyncio.Task[None]]:
    """A server socket wrapped in a `Connection` (as ws.py does) that runs `script`."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=m.SUBPROTOCOLS, compress=False)
        await ws.prepare(request)
        conn = Connection(ws, binary=False, conn_id="fast-path-test")
        try:
            await script(conn)
        finally:
            done.set_result(None)
        async for _ in ws:
            pass
        await conn.stop()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/ws", protocols=[m.SUBPROTOCOL_JSON])
    return client, ws, done  # type: ignore[return-value]


async def _texts(ws: Any, count: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(count):
        frame = await ws.receive(timeout=5)
        assert frame.type == WSMsgType.TEXT, frame
        out.append(orjson.loads(frame.data))
    return out


async def test_aiohttp_still_has_what_the_direct_write_uses(aiohttp_client: Any) -> None:
    """aiohttp 3.14's private writer API, used only by `write_frame_now`; if this fails after an
    upgrade, adapt `write_frame_now` (relays would otherwise all take the queue path)."""
    seen: dict[str, Any] = {}

    async def script(conn: Connection) -> None:
        writer = conn.ws._writer
        seen["attrs"] = [
            hasattr(writer, name)
            for name in ("_write_websocket_frame", "_closing", "transport", "protocol")
        ]
        seen["paused_flag"] = hasattr(writer.protocol, "writing_paused") if writer else False
        seen["direct"] = write_frame_now(conn.ws, b'{"type":"pong","ts":1}', WSMsgType.TEXT)
        conn.send(m.Pong(ts=2))
        seen["queued"] = (len(conn._outbox), conn._writer)

    _, ws, done = await _socket_pair(aiohttp_client, script)
    await done
    assert seen["attrs"] == [True] * 4 and seen["paused_flag"]
    assert seen["direct"] is True
    assert seen["queued"] == (0, None)  # no outbox, no writer task: written at once
    assert [x["ts"] for x in await _texts(ws, 2)] == [1, 2]
    await ws.close()


async def test_a_paused_transport_queues_and_keeps_the_order(aiohttp_client: Any) -> None:
    """While the client is not reading, frames wait in the outbox; a frame sent after the
    transport resumes still goes out behind them, never ahead."""

    async def script(conn: Connection) -> None:
        protocol = conn.ws._writer.protocol  # type: ignore[union-attr]
        protocol.pause_writing()
        conn.send(m.Pong(ts=1))
        conn.send(m.Pong(ts=2))
        assert len(conn._outbox) == 2 and conn._writer is not None
        protocol.resume_writing()
        conn.send(m.Pong(ts=3))  # the writer has not run yet: this one queues too
        assert len(conn._outbox) == 3
        await asyncio.sleep(0.05)
        assert not conn._outbox and conn._writer is None  # drained; direct writes again
        conn.send(m.Pong(ts=4))

    _, ws, done = await _socket_pair(aiohttp_client, script)
    await done
    assert [x["ts"] for x in await _texts(ws, 4)] == [1, 2, 3, 4]
    await ws.close()


async def test_a_client_that_stops_reading_is_closed_not_buffered(aiohttp_client: Any) -> None:
    """The bounded outbox: a stuck client is closed with 4013 once it is full."""
    seen: dict[str, Any] = {}

    async def script(conn: Connection) -> None:
        protocol = conn.ws._writer.protocol  # type: ignore[union-attr]
        protocol.pause_writing()
        for i in range(OUTBOX_LIMIT + 10):
            conn.send(m.Pong(ts=i))
        seen["closing"] = (conn.closing, conn.close_code, len(conn._outbox))
        protocol.resume_writing()

    _, ws, done = await _socket_pair(aiohttp_client, script)
    await done
    assert seen["closing"] == (True, CloseCode.TOO_SLOW, 0)
    while (frame := await ws.receive(timeout=5)).type == WSMsgType.TEXT:
        pass
    assert frame.type == WSMsgType.CLOSE and frame.data == CloseCode.TOO_SLOW


CROSS_NODE: list[m.ServerMessage] = [
    m.RelayedCandidate(candidate="candidate:1 1 udp 1 1.2.3.4 5 typ host", sdpMid="0"),
    m.Pong(ts=1.5),
    m.PeerJoined(
        peer=m.PeerInfo(
            present=True,
            state="connected",
            user_id="u-1",
            name="Ada",
            media_state=m.MediaFlags(mic=True, camera=False, screen=False),
        ),
        resumed=False,
        media_action="new_connection",
    ),
    m.ChatMessage(seq=3, client_msg_id="c1", sender_id="u-1", text="hi ✓", sent_at=1),
]


@pytest.mark.parametrize("msg", CROSS_NODE, ids=lambda x: type(x).__name__)
def test_json_from_another_node_reaches_msgpack_clients_unchanged(msg: m.ServerMessage) -> None:
    """Nodes carry messages as JSON (`_to_seat`); a msgpack socket gets it re-packed
    (`Connection.send_json`), identical to what a local `send` would have written."""
    assert msgpack.packb(orjson.loads(encode_json_bytes(msg))) == encode(msg, binary=True)


async def test_buffered_joins_keep_the_first_and_last_time(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    engine = api.client.app[ENGINE]
    buffer = attendance.JoinBuffer(engine, flush_every_s=3600)
    t0 = api.clock.now()
    buffer.add(chat_id, "ada", t0)
    buffer.add(chat_id, "ada", t0 + timedelta(seconds=5))
    buffer.add(chat_id, "sam", t0 + timedelta(seconds=7))
    await buffer.flush()
    buffer.add(chat_id, "ada", t0 + timedelta(seconds=9))
    await buffer.close()
    async with read_tx(engine) as db:
        rows = (
            await db.execute(
                sa.select(attendance_table).where(attendance_table.c.chat_id == chat_id)
            )
        ).mappings()
        got = {r["user_id"]: (r["first_joined_at"], r["last_seen_at"]) for r in rows}
    assert got == {
        "ada": (t0, t0 + timedelta(seconds=9)),
        "sam": (t0 + timedelta(seconds=7), t0 + timedelta(seconds=7)),
    }


async def test_the_settler_writes_buffered_joins_before_judging(api: Api) -> None:
    """Joins not flushed yet still count: settling right after the room closed is a
    completed chat, not a no-show."""
    chat_id, chat = await live_chat(api)
    engine = api.client.app[ENGINE]
    buffer = attendance.JoinBuffer(engine, flush_every_s=3600)
    buffer.add(chat_id, ADA.id, api.clock.now())
    buffer.add(chat_id, SAM.id, api.clock.now())
    settled = await attendance.settle_ended(engine, room_closes_at(chat), [buffer])
    assert [(c.id, c.state.value) for c in settled] == [(chat_id, "completed")]
    await buffer.close()


@pytest.mark.both_backends
@pytest.mark.parametrize("page", [1, 2, 500])
async def test_ended_chats_are_read_in_pages_and_none_is_lost(api: Api, page: int) -> None:
    """Settling reads the rooms of a closing instant page by page (a turn of the loop between
    pages); every ended chat comes back once, whatever the page size."""
    made = [
        await confirmed_chat(api, employee, participant, nth=nth)
        for nth, (employee, participant) in enumerate(((ADA, SAM), (ALAN, PRIYA), (GRACE, MEI)))
    ]
    after = max(room_closes_at(chat) for _, chat in made)
    async with read_tx(api.client.app[ENGINE]) as conn:
        ended = await ended_unsettled(conn, after, page=page)
    assert sorted(c.id for c in ended) == sorted(chat_id for chat_id, _ in made)


async def test_history_in_one_query_matches_every_edge(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat_id, _ = await live_chat(api)
    engine = api.client.app[ENGINE]
    now = api.clock.now()

    async def since(after: int) -> tuple[list[int], int]:
        async with read_tx(engine) as db:
            rows, last = await chatlog.since_in(db, chat_id, after)
        return [r.seq for r in rows], last

    assert await since(0) == ([], 0)
    assert await since(4) == ([], 0)
    for i in range(4):
        await chatlog.append(engine, chat_id, ADA.id, f"c{i}", f"text {i}", now)
    assert await since(0) == ([1, 2, 3, 4], 4)
    assert await since(2) == ([3, 4], 4)
    assert await since(4) == ([], 4)
    assert await since(9) == ([1, 2, 3, 4], 4)  # beyond the end: everything
    monkeypatch.setattr(chatlog, "HISTORY_LIMIT", 2)
    assert await since(0) == ([1, 2], 4)  # cut by the limit: last_seq is still the real one
    assert await since(9) == ([1, 2], 4)


@pytest.mark.redis
async def test_seat_refreshes_go_in_one_pipeline_and_spare_replaced_seats(
    redis_service: RunningService,
) -> None:
    broker = RedisBroker(f"redis://127.0.0.1:{redis_service.port}/0", "node-a")
    try:
        for user in ("ada", "sam"):
            seat = SeatRecord("node-a", f"conn-{user}", SeatState.CONNECTED, user)
            await broker.put_seat("chat-1", user, seat, 5)
        await broker.refresh_seats([("chat-1", "ada", "conn-ada"), ("chat-1", "sam", "old")], 90)
        ttl = broker._redis.ttl
        assert await ttl(broker._seat_key("chat-1", "ada")) > 60
        assert await ttl(broker._seat_key("chat-1", "sam")) <= 5  # held by another socket
        await broker.refresh_seats([], 90)
    finally:
        await broker.close()


def _await_chain(task: asyncio.Task[Any]) -> list[str]:
    """The names of the coroutines a task is suspended in, outermost first."""
    names: list[str] = []
    coro: Any = task.get_coro()
    while coro is not None and hasattr(coro, "cr_code"):
        names.append(coro.cr_code.co_name)
        coro = coro.cr_await
    return names


async def test_a_socket_holds_no_middleware_frames(api: Api) -> None:
    """web/socket_lane.py: the signaling socket's handler runs without the REST middlewares, so
    a joined socket's task holds no frame of theirs for the whole call; REST requests still
    go through them (their errors are problem+json)."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    chains = [_await_chain(t) for t in asyncio.all_tasks()]
    sockets = [c for c in chains if "ws_handler" in c]
    assert len(sockets) == 2
    for chain in sockets:
        # aiohttp's own outermost `impl` (it sets request.app) stays; ours are skipped.
        assert not {"problem_middleware", "middleware", "idempotency_middleware"} & {*chain}
    problem = await api.call(None, "GET", "/api/v1/me", expect=401)
    assert problem["status"] == 401  # the REST chain (auth, problem+json) is still in place
    await ada.close()
    await sam.close()


async def test_relayed_messages_keep_their_order_behind_slower_ones(api: Api) -> None:
    """A candidate is relayed as soon as it is parsed, unless an earlier frame of the same socket
    is still being handled (a chat message waits for the database): then it waits its turn, so
    the peer sees everything in the order it was sent."""
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    candidate = m.Candidate(candidate="candidate:1 1 udp 1 1.2.3.4 5 typ host", sdpMid="0")
    node = api.client.app[NODE]
    stats, relayed = node.stats, node.board.relayed
    await ada.send(candidate)  # nothing ahead of it: relayed as it is parsed
    await sam.expect(m.RelayedCandidate)
    assert (relayed["candidate"], stats["inline"]) == (1, 1)
    for i in range(3):
        await ada.send(m.ChatSend(client_msg_id=f"c{i}", text=f"hello {i}"))
        await ada.send(m.MediaState(mic=bool(i % 2), camera=True, screen=False))
        await ada.send(candidate)
    kinds = []
    while len(kinds) < 9:
        msg = await sam.recv()
        if isinstance(msg, m.ChatMessage | m.PeerMediaState | m.RelayedCandidate):
            kinds.append(type(msg).__name__)
    assert kinds == ["ChatMessage", "MediaState", "Candidate"] * 3
    assert relayed["candidate"] == 4
    await ada.close()
    await sam.close()


class _Protocol:
    """What aiohttp's queue needs of its transport protocol: flow control it can pause."""

    def __init__(self) -> None:
        self._reading_paused = False

    def pause_reading(self) -> None:
        self._reading_paused = True

    def resume_reading(self) -> None:
        self._reading_paused = False


def _masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    length = len(payload)
    header = bytes([0x81]) + (
        bytes([0x80 | length])
        if length < 126
        else bytes([0x80 | 126]) + length.to_bytes(2, "big")
        if length < 65536
        else bytes([0x80 | 127]) + length.to_bytes(8, "big")
    )
    return header + b"\x00\x00\x00\x00" + payload  # a zero mask leaves the payload as is


async def test_a_stalled_parser_resuming_cannot_let_a_frame_overtake() -> None:
    """aiohttp stops parsing while its queue is over its limit and resumes while the handler
    pops the last queued frame: frames parsed then must queue behind it, not go inline."""
    queue = InlineQueue(_Protocol(), 65536, loop=asyncio.get_running_loop())
    reader = WebSocketReader(queue, 2**20, False, True)
    seen: list[str] = []

    def take(frame: Any) -> bool:
        if len(frame.data) > 100:
            return False
        seen.append(frame.data)
        return True

    queue.take = take
    big = ["a" * 70_000, "b" * 70_000]
    reader.feed_data(b"".join(_masked_text_frame(t) for t in [*big, "c1", "c2"]))
    while len(seen) < 4:
        frame = await queue.read()
        queue.undelivered -= 1  # what InlineWebSocketResponse.receive does
        seen.append(frame.data)
    assert [x[:2] for x in seen] == ["aa", "bb", "c1", "c2"]
