"""When the room's own machinery fails, the close code tells the client the truth.

A join while Redis is down is not "you left" (1000, do not retry): it is `error {unavailable}`
and 1013, which clients retry. A client too slow to read its messages is closed with 4013 (a
close frame it will read once it reads again), and its peer sees it as a drop: reconnecting,
then gone once the grace runs out.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import WSMsgType

from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.connection import OUTBOX_LIMIT
from signaling.ws import NODE
from tests.support.apiclient import SAM, Api
from tests.support.app import redis_config
from tests.support.rooms import closed_with, live_chat, pair, rejoin
from tests.support.services import RunningService
from tests.support.signal_client import SignalClient, ticket
from web.config import Config


@pytest.fixture
def app_config(tmp_path: Path, redis_service: RunningService) -> Config:
    return redis_config(
        f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        redis_service.port,
        reconnect_grace_s=30,
    )


@pytest.mark.redis
async def test_a_join_while_redis_is_down_is_unavailable_and_retried(
    api: Api, redis_service: RunningService
) -> None:
    chat_id, _ = await live_chat(api)
    grant = await ticket(api, SAM, chat_id)  # REST needs no Redis: the ticket is signed
    await asyncio.to_thread(redis_service.stop)
    client = await SignalClient.open(api.client)
    await client.send(m.Join(v=1, ticket=grant["ticket"]))
    code, before = await closed_with(client, within=15)
    assert code == CloseCode.TRY_AGAIN_LATER and CloseCode(code).retry
    assert [(x.code, x.ref_type) for x in before] == [("unavailable", "join")]
    assert api.client.app[NODE].local == {}  # nothing of the refused socket stays

    await asyncio.to_thread(redis_service.start)
    sam, joined = await rejoin(api, SAM, chat_id)  # what the client does next
    assert joined.you.user_id == SAM.id
    await sam.close()


@pytest.mark.redis
async def test_a_client_that_stops_reading_gets_4013_and_its_peer_sees_a_drop(api: Api) -> None:
    chat_id, _ = await live_chat(api)
    ada, sam = await pair(api, chat_id)
    node = api.client.app[NODE]
    sam.ws._response.connection.transport.pause_reading()  # Sam's tab hangs
    sams_seat = node.local[(chat_id, SAM.id)]
    big = m.RelayedOffer(sdp="v=0\r\n" + "a=x-fill:" + "x" * 60_000)
    for _ in range(4 * OUTBOX_LIMIT):  # a long call's worth of traffic Sam never reads
        sams_seat.send(big)
        if sams_seat.closing:
            break
    assert sams_seat.closing and sams_seat.close_code == CloseCode.TOO_SLOW

    reconnecting = await ada.expect(m.PeerReconnecting)
    assert reconnecting.grace_s == 30
    sam.ws._response.connection.transport.resume_reading()
    frames = 0
    while (frame := await sam.ws.receive(timeout=10)).type == WSMsgType.TEXT:
        frames += 1
    assert frame.type == WSMsgType.CLOSE and frame.data == CloseCode.TOO_SLOW, (frame, frames)

    api.clock.advance(timedelta(seconds=31))
    left = await ada.expect(m.PeerLeft)
    assert left.reason == "timeout"
    await ada.close()
