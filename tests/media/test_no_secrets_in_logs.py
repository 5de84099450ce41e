"""No secret reaches a log line: a whole scripted fair through the real app, every line captured
as `log_format = "json"` writes it (third-party libraries' DEBUG lines included), and every secret
the fair minted or received searched for in all of them.

The fair: booking through REST, a two-person call (tickets, ICE servers with TURN passwords,
relayed negotiation, chat, a refused reused ticket, leaving), a pre-call check whose server peer
allocates on a real coturn with its own TURN password, a metrics scrape with its token, and
webhooks (an endpoint whose secret is minted, then rotated; every delivery signed and checked).
It runs on a clock started at the real now, because coturn checks the TURN credentials' expiry.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCSessionDescription

from scheduling.clock import ManualClock
from scheduling.webhook_payloads import EventType
from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.ws import NODE
from tests.support.apiclient import ADA, ORGANIZER, SAM, Api, Person
from tests.support.app import TEST_SECRET
from tests.support.peers import MediaPeer
from tests.support.rooms import closed_with, present
from tests.support.seed import at, confirmed_chat_on, next_event_day
from tests.support.services import RunningService, free_port
from tests.support.signal_client import SignalClient
from tests.support.webhook_receiver import Receiver
from web.api_precall import OFFER_MARGIN_S, SERVER_TURN_USER, precall_ice_servers
from web.app import create_app
from web.config import Config
from web.keys import CONFIG, WEBHOOKS
from web.logs import REDACTED, log_handler

pytestmark = [pytest.mark.media, pytest.mark.coturn]

METRICS_TOKEN = "metrics-scrape-token-5f0c2a9e71b3"


class RecordingApi(Api):
    """The test client, remembering every JWT it mints for a person."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.minted: set[str] = set()

    def token(self, person: Person) -> str:
        token = super().token(person)
        self.minted.add(token)
        return token


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every line any logger writes during the test, at DEBUG, in the JSON format."""
    stream = io.StringIO()
    handler = log_handler("json", "fair-node", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
async def fair(
    aiohttp_client: Any, tmp_path: Path, turn_secret: str, coturn: RunningService
) -> RecordingApi:
    config = Config(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        jwt_secret=TEST_SECRET,
        turn_secret=turn_secret,
        # A dead UDP URL first and coturn's TCP one: servers probe both with real Allocates.
        turn_urls=(
            f"turn:{coturn.host}:{free_port()}?transport=udp",
            f"turn:{coturn.host}:{coturn.port}?transport=tcp",
        ),
        log_format="json",
        metrics_token=METRICS_TOKEN,
        node_id="fair-node",
        webhook_allow_private=True,  # the receiver below listens on loopback
    )
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    client: TestClient = await aiohttp_client(create_app(config, clock=clock))
    return RecordingApi(client, TEST_SECRET, clock)


def ice_secrets(servers: Any) -> set[str]:
    """The TURN passwords in a list of ICE servers (JSON dicts or message structs)."""
    found = set()
    for server in servers:
        credential = server["credential"] if isinstance(server, dict) else server.credential
        if credential:
            found.add(credential)
    return found


@pytest.mark.usefixtures("loopback_ice")
async def test_a_whole_fair_logs_no_secret(
    fair: RecordingApi, captured: io.StringIO, turn_secret: str
) -> None:
    api = fair
    config = api.client.app[CONFIG]
    minted: dict[str, set[str]] = {"ticket": set(), "turn password": set(), "webhook secret": set()}
    rx = Receiver()
    await rx.start()

    async def endpoint_on(event_id: str) -> None:
        """A webhook endpoint hearing everything: its secret minted, then rotated."""
        path = f"/api/v1/events/{event_id}/webhooks"
        types = [t.value for t in EventType]
        made = await api.call(
            ORGANIZER, "POST", path, {"url": rx.url, "event_types": types}, expect=201
        )
        rotated = await api.call(
            ORGANIZER, "POST", f"{path}/{made['endpoint']['id']}/rotate-secret"
        )
        minted["webhook secret"] |= {made["secret"], rotated["secret"]}
        rx.secret = rotated["secret"]

    # --- booking through REST -------------------------------------------------------------------
    chat_id, chat = await confirmed_chat_on(
        api, next_event_day(api.clock.now()), on_event=endpoint_on
    )
    await api.call(ORGANIZER, "GET", f"/api/v1/chats/{chat_id}")
    api.clock.set(at(chat["slot"]["starts_at"]) - timedelta(minutes=2))

    # --- the call -------------------------------------------------------------------------------
    async def grant(person: Person) -> dict[str, Any]:
        body: dict[str, Any] = await api.call(person, "POST", f"/api/v1/chats/{chat_id}/join")
        minted["ticket"].add(body["ticket"])
        minted["turn password"] |= ice_secrets(body["ice_servers"])
        return body

    async def join(person: Person, binary: bool) -> tuple[SignalClient, dict[str, Any]]:
        body = await grant(person)
        client = await present(api, body["ticket"], binary=binary)
        joined = await client.expect(m.Joined)
        minted["turn password"] |= ice_secrets(joined.ice_servers)
        return client, body

    ada, ada_grant = await join(ADA, binary=False)
    sam, _ = await join(SAM, binary=True)
    await ada.expect(m.PeerJoined)
    await ada.send(m.Offer(sdp="v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"))
    await sam.expect(m.RelayedOffer)
    await sam.send(m.Answer(sdp="v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\n"))
    await ada.expect(m.RelayedAnswer)
    await sam.send(m.Candidate(candidate="candidate:1 1 udp 1 127.0.0.1 9 typ host", sdpMid="0"))
    await ada.expect(m.RelayedCandidate)
    await ada.send(m.ChatSend(client_msg_id="hello-1", text="Hello Sam"))
    await sam.expect(m.ChatMessage)
    reused = await present(api, ada_grant["ticket"])  # a used ticket, presented again
    code, _ = await closed_with(reused)
    assert code == CloseCode.TICKET_USED
    await api.call(SAM, "GET", f"/api/v1/chats/{chat_id}/messages")

    # --- a pre-call check, its server peer on coturn ---------------------------------------------
    setup = await api.call(SAM, "GET", "/api/v1/precall")
    minted["turn password"] |= ice_secrets(setup["ice_servers"])
    server_expires = api.clock.now() + timedelta(seconds=config.precall_max_s + OFFER_MARGIN_S)
    minted["turn password"] |= ice_secrets(
        precall_ice_servers(config, SERVER_TURN_USER, server_expires)
    )
    peer = MediaPeer("sam", ice_servers=[])
    try:
        offer = await peer.create_offer()
        started = await api.call(
            SAM, "POST", "/api/v1/precall", {"sdp": offer.sdp, "type": offer.type}, expect=201
        )
        await peer.accept_answer(RTCSessionDescription(started["sdp"], started["type"]))
        await peer.wait_connected(15)
        assert await peer.wait_frames("video", 5, within=15) >= 5
        await api.call(SAM, "GET", f"/api/v1/precall/{started['id']}")
        final = await api.call(SAM, "DELETE", f"/api/v1/precall/{started['id']}")
        assert final["closed_reason"] == "deleted"
    finally:
        await peer.close()

    # --- the end of the call, and a scrape -------------------------------------------------------
    await ada.send(m.Leave())
    await ada.closed()
    await sam.expect(m.PeerLeft)
    await sam.close()
    scraped = await api.client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status == 200
    assert 'duet_precall_verdicts_total{aspect="camera",grade="ok"} 1.0' in await scraped.text()

    # --- the webhooks the fair caused, signed with the rotated secret ----------------------------
    await api.client.app[NODE].joins.flush()  # what the node writes each second: joins, leaves
    try:
        await api.client.app[WEBHOOKS].drain()
    finally:
        await rx.stop()
    wanted = {"chat.confirmed", "participant.joined", "participant.left"}
    assert wanted <= {r.type for r in rx.accepted}
    assert rx.accepted and all(r.verified for r in rx.requests)

    # --- every line, searched for every secret ---------------------------------------------------
    text = captured.getvalue()
    lines = [orjson.loads(line) for line in text.splitlines()]  # every line is one JSON object
    secrets = {
        "JWT secret": {TEST_SECRET},
        "TURN secret": {turn_secret},
        "metrics token": {METRICS_TOKEN},
        "person's JWT": api.minted,
        **minted,
    }
    assert minted["ticket"] and minted["turn password"] and api.minted  # the fair minted them
    assert len(minted["webhook secret"]) == 2
    assert len(minted["turn password"]) >= 4  # two people, the pre-call's and its server peer's
    for kind, values in secrets.items():
        for value in values:
            assert value not in text, f"a {kind} reached a log line"
    # ... and not because redaction caught it: no log call printed one (the first defence).
    assert REDACTED not in text

    # The capture saw the whole fair: Duet's own lines with their context, and the media
    # libraries' DEBUG lines (where a TURN password would most likely have slipped).
    assert all({"ts", "level", "logger", "message", "node_id"} <= set(line) for line in lines)
    rest = [line for line in lines if line["logger"] == "duet.web.requests"]
    assert rest and all("request_id" in line for line in rest)
    assert any(line.get("user_id") == "sam" for line in rest)
    joined = [line for line in lines if line["message"].startswith("joined (")]
    assert {line["user_id"] for line in joined} == {"ada", "sam"}
    assert all(line["chat_id"] == chat_id and "conn_id" in line for line in joined)
    assert any(line["logger"].startswith(("aioice", "aiortc")) for line in lines)
