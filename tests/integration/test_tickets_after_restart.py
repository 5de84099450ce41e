"""What a restart of the broker (Redis) or of a one-node Duet may no longer break.

Used tickets and the chat notes that refuse tickets minted before a cancel live in the broker.
A restart empties it, so a ticket names the broker's epoch (rooms/tickets.py): after the restart
a replayed ticket, or one minted before a cancel, is refused (4001: fetch a new one, which reads
the database's current state), and a fresh ticket joins.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from scheduling.clock import ManualClock
from signaling import messages as m
from signaling.close_codes import CloseCode
from tests.support.apiclient import SAM, Api
from tests.support.app import TEST_SECRET, redis_config
from tests.support.rooms import closed_with, live_chat, present, rejoin
from tests.support.services import RunningService
from tests.support.signal_client import ticket
from web.app import create_app
from web.config import Config


@pytest.fixture
def app_config(tmp_path: Path, redis_service: RunningService) -> Config:
    return redis_config(
        f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        redis_service.port,
    )


@pytest.mark.redis
async def test_after_a_redis_restart_a_used_ticket_stays_used(
    api: Api, redis_service: RunningService
) -> None:
    chat_id, _ = await live_chat(api)
    used = (await ticket(api, SAM, chat_id))["ticket"]
    sam = await present(api, used)
    await sam.expect(m.Joined)
    await sam.send(m.Leave())
    await closed_with(sam)
    await asyncio.to_thread(redis_service.restart)  # empty: the claim of `used` is gone
    code, _ = await closed_with(await present(api, used), within=15)
    assert code == CloseCode.TICKET_INVALID  # not a second join on a used ticket
    sam, joined = await rejoin(api, SAM, chat_id)  # what the client does after 4001
    assert joined.you.user_id == SAM.id
    await sam.close()


@pytest.mark.redis
async def test_after_a_redis_restart_a_ticket_minted_before_a_cancel_is_refused(
    api: Api, redis_service: RunningService
) -> None:
    chat_id, _ = await live_chat(api)
    stale = (await ticket(api, SAM, chat_id))["ticket"]
    await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/cancel", {"reason": "ill"})
    await asyncio.to_thread(redis_service.restart)  # the cancel's note is gone
    code, _ = await closed_with(await present(api, stale), within=15)
    assert code == CloseCode.TICKET_INVALID
    refused = await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/join", expect=409)
    assert refused["code"] == "chat_cancelled"  # a new ticket reads the database


async def test_after_a_one_node_restart_old_tickets_are_refused(
    aiohttp_client: Any, tmp_path: Path, clock: ManualClock
) -> None:
    """One node with the in-memory broker: its used tickets and notes die with the process."""
    config = Config(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        jwt_secret=TEST_SECRET,
        dev_login=True,
    )
    before = Api(await aiohttp_client(create_app(config, clock=clock)), TEST_SECRET, clock)
    chat_id, _ = await live_chat(before)
    used = (await ticket(before, SAM, chat_id))["ticket"]
    sam = await present(before, used)
    await sam.expect(m.Joined)
    await sam.close()
    await before.client.close()  # the node stops; a new process starts on the same database
    after = Api(await aiohttp_client(create_app(config, clock=clock)), TEST_SECRET, clock)
    code, _ = await closed_with(await present(after, used))
    assert code == CloseCode.TICKET_INVALID
    sam, joined = await rejoin(after, SAM, chat_id)
    assert joined.you.user_id == SAM.id
    await sam.close()
