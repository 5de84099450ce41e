"""`duet serve` stopped with SIGTERM (systemd's stop, a rolling upgrade) ends its sockets with
1001 at once, so clients reconnect to another node within their first backoff, and the peer on
another node hears `peer_reconnecting`, not silence.

Before web/cli.py closed the sockets on shutdown, aiohttp stopped listening and then waited for
every WebSocket handler to end by itself: the process lingered ~30 s, and the clients then saw
1006 (no close frame). Real processes, real Redis, the system clock.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from signaling import messages as m
from signaling.close_codes import CloseCode
from tests.support.apiclient import ADA, SAM, Person
from tests.support.duet_nodes import DuetNode, launch_node, migrate_database, wait_ready
from tests.support.live_rest import RestApi, book_chat_now
from tests.support.services import RunningService
from tests.support.signal_client import SignalClient

pytestmark = [pytest.mark.redis]

SECRET = "graceful-shutdown-secret-0123456789abcdef"
# SIGTERM to the close frame: no wait for anything but the node's own work.
CLOSED_WITHIN = 3.0
# SIGTERM to the exit: the sockets' closing handshakes and the node's cleanup.
EXITED_WITHIN = 10.0


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[list[DuetNode]]:
    started: list[DuetNode] = []
    yield started
    for node in started:
        node.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def _join(api: RestApi, person: Person, chat_id: str) -> SignalClient:
    grant = await api.call(person, "POST", f"/api/v1/chats/{chat_id}/join")
    ws = await api.session.ws_connect(grant["ws_url"], protocols=(m.SUBPROTOCOL_JSON,))
    client = SignalClient(ws, binary=False)
    await client.send(m.Join(v=1, ticket=grant["ticket"], can_restart_ice=False))
    await client.expect(m.Joined, within=10.0)
    return client


async def test_sigterm_closes_sockets_with_1001_and_the_peer_hears_reconnecting(
    redis_service: RunningService,
    nodes: list[DuetNode],
    tmp_path: Path,
    session: aiohttp.ClientSession,
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3"
    await migrate_database(database_url, tmp_path)
    for node_id in ("stopping", "staying"):
        nodes.append(
            launch_node(node_id, tmp_path, SECRET, database_url, redis_port=redis_service.port)
        )
    stopping, staying = nodes
    await asyncio.gather(wait_ready(session, stopping), wait_ready(session, staying))
    chat_id, _ = await book_chat_now(RestApi(session, staying.url, SECRET))
    ada = await _join(RestApi(session, stopping.url, SECRET), ADA, chat_id)
    sam = await _join(RestApi(session, staying.url, SECRET), SAM, chat_id)
    try:
        await ada.expect(m.PeerJoined)

        sent = time.monotonic()
        os.kill(stopping.process.pid, signal.SIGTERM)
        assert await ada.closed(within=CLOSED_WITHIN) == CloseCode.GOING_AWAY
        closed_after = time.monotonic() - sent
        reconnecting = await sam.expect(m.PeerReconnecting, within=CLOSED_WITHIN)
        assert reconnecting.grace_s > 0
        code = await asyncio.to_thread(stopping.process.wait, EXITED_WITHIN)
        exited_after = time.monotonic() - sent
        assert code == 0, stopping.output()
        assert closed_after < CLOSED_WITHIN and exited_after < EXITED_WITHIN
        assert not sam.ws.closed, "the other node's socket is not touched"
    except BaseException:
        for node in nodes:
            print(f"--- {node.node_id} log ---\n{node.output()}")
        raise
    finally:
        await ada.close()
        await sam.close()
