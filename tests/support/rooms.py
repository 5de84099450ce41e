"""Shared steps for the live-room tests: a chat inside its join window, raw joins, drops, closes.

The room tests drive the real app (SQLite file, real WebSockets) and move the ManualClock by
hand; these helpers keep each test about the behaviour it checks rather than the plumbing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import WSMsgType

from rooms.chatlog import last_seq_in
from rooms.tickets import RoomPass, mint_ticket
from scheduling.db import read_tx
from scheduling.store_chats import get_chat
from scheduling.store_events import require_event
from signaling import messages as m
from signaling.codec import decode_server
from signaling.ws import NODE
from tests.support.apiclient import ADA, SAM, Api, Person
from tests.support.app import TEST_SECRET
from tests.support.seed import at, confirmed_chat
from tests.support.signal_client import SignalClient, join, ticket
from web.keys import ENGINE

# The event's default join policy (web/api_events.py): open 5 min before, 2 min grace after.
OPENS_BEFORE = timedelta(seconds=300)
GRACE_AFTER = timedelta(seconds=120)


async def live_chat(
    api: Api, before_start: timedelta = timedelta(minutes=2), **kwargs: Any
) -> tuple[str, dict[str, Any]]:
    """A confirmed chat with the clock set `before_start` ahead of its slot (window open)."""
    chat_id, chat = await confirmed_chat(api, **kwargs)
    api.clock.set(at(chat["slot"]["starts_at"]) - before_start)
    return chat_id, chat


def room_closes_at(chat: dict[str, Any]) -> datetime:
    """When the room closes: slot end plus the grace, the same instant the join window closes."""
    return at(chat["slot"]["ends_at"]) + GRACE_AFTER


async def forge(
    api: Api, chat_id: str, user_id: str, valid_for: timedelta = timedelta(seconds=60)
) -> str:
    """A correctly signed ticket with the chat's stored facts, minted outside the REST
    endpoint's checks (the window, the chat's state): the socket must check what it can."""
    async with read_tx(api.client.app[ENGINE]) as db:
        chat = await get_chat(db, chat_id)
        assert chat is not None and chat.side_of(user_id) is not None
        event = await require_event(db, chat.event_id)
        seq = await last_seq_in(db, chat_id)
    room = RoomPass.of(chat, user_id, event.join_policy, event.media_mode, seq)
    epoch = await api.client.app[NODE].broker.epoch()
    return mint_ticket(TEST_SECRET, room, api.clock.now() + valid_for, epoch)


async def present(
    api: Api,
    raw_ticket: str,
    *,
    binary: bool = False,
    resume: m.Resume | None = None,
    can_restart_ice: bool = True,
) -> SignalClient:
    """Open a socket and send `join` with `raw_ticket`; the caller reads the outcome."""
    client = await SignalClient.open(api.client, binary)
    await client.send(
        m.Join(v=1, ticket=raw_ticket, resume=resume, can_restart_ice=can_restart_ice)
    )
    return client


async def rejoin(
    api: Api,
    person: Person,
    chat_id: str,
    *,
    resume: m.Resume | None = None,
    can_restart_ice: bool = True,
) -> tuple[SignalClient, m.Joined]:
    """Fetch a fresh ticket and join, as a client does after a drop."""
    grant = await ticket(api, person, chat_id)
    client = await present(api, grant["ticket"], resume=resume, can_restart_ice=can_restart_ice)
    return client, await client.expect(m.Joined)


async def pair(
    api: Api, chat_id: str, *, ada_ice: bool = True, sam_ice: bool = True
) -> tuple[SignalClient, SignalClient]:
    """Both seats joined; Ada's `peer_joined` for Sam is consumed."""
    ada, _ = await join(api, ADA, chat_id, can_restart_ice=ada_ice)
    sam, _ = await join(api, SAM, chat_id, can_restart_ice=sam_ice)
    await ada.expect(m.PeerJoined)
    return ada, sam


def drop(client: SignalClient) -> None:
    """Lose the connection without a close frame, as a network failure does (no `leave`)."""
    client.ws._writer.transport.abort()


async def closed_with(client: SignalClient, within: float = 5.0) -> tuple[int | None, list[Any]]:
    """Read until the server closes; the code of its close frame and the messages before it.

    The code comes from the close frame itself, as a browser reports it: aiohttp's client
    overwrites `ws.close_code` with 1006 when its own close reply finds the TCP connection
    already shut, which the server may do right after sending its close frame.
    """
    before: list[Any] = []
    while True:
        frame = await client.ws.receive(timeout=within)
        if frame.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            msg = decode_server(frame.data)
            client.received.append(msg)
            before.append(msg)
        elif frame.type == WSMsgType.CLOSE:
            return int(frame.data), before
        else:
            return client.ws.close_code, before


async def alive(client: SignalClient, ts: float = 42.0) -> None:
    """The socket still answers: a `ping` gets its `pong` (skipping anything queued before)."""
    await client.send(m.Ping(ts=ts))
    pong = await client.expect(m.Pong)
    assert pong.ts == ts


async def eventually(predicate: Callable[[], bool], what: str, within: float = 5.0) -> None:
    """Yield to the loop until `predicate()` holds: for work the server finishes on its own
    (a handler's cleanup after a close), never a fixed sleep standing in for it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"still not {what} after {within} s")
        await asyncio.sleep(0.005)
