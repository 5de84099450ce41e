"""TURN through Duet: the join grant carries short-lived credentials, and a relay-only call works.

test_turn.py proves coturn and the credential format; this proves the product wiring: Duet mints
one credential per person and chat that expires with the join window, only inside the window and
only for the chat's two people, and two clients that may use nothing but TURN get a call.

The call hands Duet's credentials to a real coturn, which checks their expiry against the real
clock: that test runs Duet on a clock set from the real now and books its chat on the next day,
so it passes whatever the calendar says (the fixed TEST_NOW of tests/support/app.py would make every
credential expired for coturn on any later day). The grant test is pure logic: fixed clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from media.turn import turn_password
from scheduling.clock import ManualClock
from tests.support.apiclient import ADA, PRIYA, SAM, Api
from tests.support.app import TEST_SECRET
from tests.support.media_client import MediaClient, api_dialer
from tests.support.seed import at, confirmed_chat, confirmed_chat_on, next_event_day
from tests.support.services import RunningService, free_port
from web.app import create_app
from web.config import Config

pytestmark = [pytest.mark.media, pytest.mark.coturn]


@pytest.fixture
def app_config(tmp_path: Path, turn_secret: str) -> Config:
    """The app as deployed beside coturn: the shared secret and the TURN URLs."""
    return Config(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        jwt_secret=TEST_SECRET,
        dev_login=True,
        turn_secret=turn_secret,
        turn_urls=("turn:turn.duet.test:3478?transport=udp",),
    )


async def test_join_grant_mints_turn_credentials_only_inside_the_window(
    api: Api, turn_secret: str
) -> None:
    chat_id, chat = await confirmed_chat(api)
    starts = at(chat["slot"]["starts_at"])
    api.clock.set(starts - timedelta(minutes=10))
    early = await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/join", expect=409)
    assert early["code"] == "too_early" and "ice_servers" not in early
    await api.call(PRIYA, "POST", f"/api/v1/chats/{chat_id}/join", expect=404)

    api.clock.set(starts - timedelta(minutes=2))
    sam = (await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/join"))["ice_servers"]
    ada = (await api.call(ADA, "POST", f"/api/v1/chats/{chat_id}/join"))["ice_servers"]
    assert len(sam) == len(ada) == 1
    closes = at(chat["join"]["join_closes_at"])
    for server in (sam[0], ada[0]):
        expiry, opaque = server["username"].split(":")
        # Expires exactly when the join window closes, and reveals no user id.
        assert int(expiry) == int(closes.timestamp())
        assert opaque and "sam" not in opaque and "ada" not in opaque
        assert server["credential"] == turn_password(turn_secret, server["username"])
    assert sam[0]["username"] != ada[0]["username"]  # one per person and chat

    api.clock.set(closes + timedelta(seconds=1))
    late = await api.call(SAM, "POST", f"/api/v1/chats/{chat_id}/join", expect=409)
    assert late["code"] == "chat_ended"


# --- a real call through coturn, on real time ------------------------------------------------


@pytest.fixture
def live_turn_urls(coturn: RunningService) -> tuple[str, str]:
    """UDP listed first but answering nothing (as behind a UDP-dropping firewall), then TCP:
    aiortc alone would use only the UDP URL and get no relay (media/ice.py)."""
    return (
        f"turn:{coturn.host}:{free_port()}?transport=udp",
        f"turn:{coturn.host}:{coturn.port}?transport=tcp",
    )


@pytest.fixture
async def live_api(aiohttp_client: Any, app_config: Config, live_turn_urls: tuple[str, str]) -> Api:
    """Duet beside the real coturn, on a clock that starts at the real now."""
    config = dataclasses.replace(app_config, turn_urls=live_turn_urls)
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    client: TestClient = await aiohttp_client(create_app(config, clock=clock))
    return Api(client, TEST_SECRET, clock)


@pytest.fixture
async def relay_only_call(live_api: Api) -> AsyncIterator[tuple[MediaClient, MediaClient]]:
    api = live_api
    chat_id, chat = await confirmed_chat_on(api, next_event_day(api.clock.now()))
    api.clock.set(at(chat["slot"]["starts_at"]) - timedelta(minutes=2))
    closes = at(chat["join"]["join_closes_at"])
    assert closes > datetime.now(UTC), "coturn would refuse credentials that expired"
    ada = MediaClient("ada", api_dialer(api, ADA, chat_id), relay_only=True)
    sam = MediaClient("sam", api_dialer(api, SAM, chat_id), relay_only=True, trickle=True)
    try:
        yield ada, sam
    finally:
        await sam.close()
        await ada.close()


@pytest.mark.usefixtures("loopback_ice")
async def test_relay_only_clients_call_through_coturn_with_duets_credentials(
    relay_only_call: tuple[MediaClient, MediaClient],
    coturn: RunningService,
    live_turn_urls: tuple[str, str],
) -> None:
    ada, sam = relay_only_call
    await ada.connect()
    await sam.connect()
    assert ada.joined is not None and ada.joined.ice_servers
    assert ada.joined.ice_servers[0].urls == live_turn_urls  # handed out in Duet's order
    await ada.wait_until(
        lambda: ada.peer is not None and ada.peer.pc.connectionState == "connected",
        30.0,
        "a relayed connection",
    )
    assert ada.peer is not None and sam.peer is not None
    for peer in (ada.peer, sam.peer):  # each client's aiortc got the URL that works first
        assert peer.ice_servers[0].urls[0] == live_turn_urls[1]
    assert await ada.peer.wait_frames("video", 10, within=20) >= 10
    assert await sam.peer.wait_frames("video", 10, within=20) >= 10
    pairs = ada.peer.selected_pairs()
    assert pairs and all(p.local_type == "relay" for p in pairs)
    assert all(p.local_address[0] == coturn.host for p in pairs)
