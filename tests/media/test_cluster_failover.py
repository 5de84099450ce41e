"""A real call through HAProxy in front of three `duet serve` nodes (Redis, one database), while
nodes die or are restarted under it. Everything runs on loopback, as deployed by docs/deploy.md:
HAProxy runs the shipped `deploy/haproxy.cfg` (tests/support/haproxy.py changes only where it
listens, its servers and its files), and both clients reach Duet only through it.

- A node is SIGKILLed under one person's socket: that person's client reconnects through HAProxy
  to a live node and resumes within 3 s; the peer-to-peer media never stops meanwhile; no
  acknowledged chat message is lost or repeated; the other person sees `peer_reconnecting`,
  then `peer_joined` (resumed), never `peer_left`.
- The three nodes are restarted one by one (SIGTERM, as systemd does) while both people chat:
  no call and no acknowledged message is lost.

The nodes run on the system clock, so the chat is booked around the real now.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from signaling import messages as m
from tests.support import services
from tests.support.apiclient import ADA, SAM, Person
from tests.support.cluster import ChatLedger, Cluster, FrameTimes, Reconnector
from tests.support.live_rest import RestApi, book_chat_now
from tests.support.media_client import MediaClient

pytestmark = [pytest.mark.media, pytest.mark.redis, pytest.mark.usefixtures("loopback_ice")]

SECRET = "cluster-test-secret-0123456789abcdef0123"
WITHIN = 20.0
FRAMES = 10
RESUME_WITHIN_S = 3.0  # from the SIGKILL to the resumed `joined`
# Frames each side must decode on the untouched peer connection between the kill and the
# resume: the outage lasts at least the browser's first backoff (0.5 s), ~15 frames at 30 fps.
OUTAGE_FRAMES = 5
MAX_FRAME_GAP_S = 1.0  # measured under 0.1 s: the media does not notice the signaling outage


@pytest.fixture
def cluster_database_url(tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """The one database all nodes share: a throw-away PostgreSQL, as in production."""
    return services.postgres_url(request.getfixturevalue("postgres_service"))


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
async def cluster(
    tmp_path: Path,
    cluster_database_url: str,
    redis_service: services.RunningService,
    session: aiohttp.ClientSession,
) -> AsyncIterator[Cluster]:
    """Database migrated, three nodes ready, HAProxy seeing all three UP; stopped by PID."""
    running = Cluster(tmp_path, SECRET, cluster_database_url, redis_service, session)
    try:
        await running.start()
        yield running
    except BaseException:
        print(running.logs())
        raise
    finally:
        running.stop()


async def _media_flows(ada: MediaClient, sam: MediaClient) -> None:
    """Both connected on their current peer connection and decoding new video frames.

    A connection replaced while we watch (a `new_connection` still on its way after a resume)
    ends its tracks; then the new one is watched instead, within the same bound."""
    async with asyncio.timeout(WITHIN):
        while True:
            try:
                for client in (ada, sam):
                    await client.wait_until(
                        lambda c=client: (
                            c.peer is not None and c.stable() and "video" in c.peer.received
                        ),
                        WITHIN,
                        "a negotiated peer connection with video",
                    )
                for client in (ada, sam):
                    assert client.peer is not None
                    await client.peer.wait_connected(WITHIN)
                    video = client.peer.received["video"]
                    await video.wait_for(video.count + FRAMES, WITHIN)
                return
            except AssertionError as exc:
                if "ended" not in str(exc) and "closed" not in str(exc):
                    raise


async def _messages(api: RestApi, person: Person, chat_id: str) -> list[tuple[str, int]]:
    body = await api.call(person, "GET", f"/api/v1/chats/{chat_id}/messages")
    return [(x["client_msg_id"], x["seq"]) for x in body["messages"]]


def _view(client: MediaClient) -> list[tuple[str, int]]:
    return [(x.client_msg_id, x.seq) for x in client.chat]


async def _everyone_has_every_message(
    api: RestApi, chat_id: str, ledger: ChatLedger, clients: list[MediaClient]
) -> None:
    """Acknowledged once is stored once (REST) and shown once (each client's own view)."""
    last = max(sent.seq for sent in ledger.acked.values())
    for client in clients:
        await client.wait_until(
            lambda c=client: any(x.seq == last for x in c.chat), WITHIN, f"chat up to seq {last}"
        )
    assert ledger.missing_or_repeated(await _messages(api, ADA, chat_id)) == {}
    for client in clients:
        assert ledger.missing_or_repeated(_view(client)) == {}, client.name


def _presence(client: MediaClient, after: int) -> list[m.ServerMessage]:
    kinds = (m.PeerReconnecting, m.PeerJoined, m.PeerLeft)
    return [x for x in client.messages[after:] if isinstance(x, kinds)]


async def test_a_node_killed_under_a_call_loses_nothing(cluster: Cluster) -> None:
    api = cluster.api()
    chat_id, _ = await book_chat_now(api)
    ada = MediaClient("ada", cluster.dialer(ADA, chat_id))
    sam = MediaClient("sam", cluster.dialer(SAM, chat_id), trickle=True)
    reconnectors = [Reconnector(ada), Reconnector(sam)]
    clocks: list[FrameTimes] = []
    ledger = ChatLedger()
    try:
        assert (await ada.connect()).media_action == "none"
        assert (await sam.connect()).media_action == "new_connection"
        await _media_flows(ada, sam)
        seats = await cluster.seats(chat_id, (ADA, SAM))
        # leastconn: Sam's socket goes to a node that holds none, not to Ada's.
        assert seats[ADA.id].node_id != seats[SAM.id].node_id, seats
        victim = seats[SAM.id].node_id
        for reconnector in reconnectors:
            reconnector.start()
        for i in range(3):
            await ledger.send(ada, ADA, f"before {i} from Ada", WITHIN)
            await ledger.send(sam, SAM, f"before {i} from Sam", WITHIN)

        assert ada.peer is not None and sam.peer is not None
        clocks = [FrameTimes(ada.peer.received["video"]), FrameTimes(sam.peer.received["video"])]
        seen = len(ada.messages)
        # Sam's last message is on its way as his node dies: whether or not it was stored, his
        # client sends it again (same client_msg_id) after the resume, and it is stored once.
        in_flight = asyncio.create_task(ledger.send(sam, SAM, "as the node dies", WITHIN))
        await ledger.wait_written("as the node dies", WITHIN)
        killed_at = await cluster.kill(victim)
        # Ada's node is alive: she chats on while Sam is away; the resume brings it to him.
        await ledger.send(ada, ADA, "while Sam is away", WITHIN)
        outage = await reconnectors[1].wait_outages(1, WITHIN)
        await asyncio.wait_for(in_flight, WITHIN)
        resumed_after = outage.joined_at - killed_at
        during = [c.between(killed_at, outage.joined_at) for c in clocks]
        gaps = [c.longest_gap(killed_at, outage.joined_at) for c in clocks]
        print(
            f"resumed {resumed_after:.2f}s after the kill ({outage.attempts} attempt(s), "
            f"{outage.errors}); frames during the outage (Ada, Sam) {during}, longest gaps "
            f"{[round(g, 2) for g in gaps]}"
        )

        seats = await cluster.seats(chat_id, (ADA, SAM))
        assert seats[SAM.id].node_id not in (victim, None), seats
        assert resumed_after <= RESUME_WITHIN_S, outage
        assert all(n >= OUTAGE_FRAMES for n in during), (during, gaps)
        assert max(gaps) < MAX_FRAME_GAP_S, (during, gaps)
        for client in (ada, sam):  # a new peer connection on both sides (aiortc: no ICE restart)
            await client.wait_until(lambda c=client: c.generation == 2, WITHIN, "a new pc")
        await _media_flows(ada, sam)
        await ledger.send(sam, SAM, "back from Sam", WITHIN)
        await ledger.send(ada, ADA, "back from Ada", WITHIN)
        await _everyone_has_every_message(api, chat_id, ledger, [ada, sam])
        for reconnector in reconnectors:
            reconnector.check()
        assert reconnectors[0].outages == [], "Ada's node was not touched"
        assert not ada.failures and not sam.failures

        # Last, because it depends on the surviving nodes noticing the dead node's seats.
        presence = _presence(ada, seen)
        assert not any(isinstance(x, m.PeerLeft) for x in presence), presence
        assert [type(x) for x in presence] == [m.PeerReconnecting, m.PeerJoined], presence
        assert isinstance(presence[1], m.PeerJoined) and presence[1].resumed
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        for reconnector in reconnectors:
            await reconnector.stop()
        for clock in clocks:
            await clock.close()
        await sam.close()
        await ada.close()


async def _chatter(
    ledger: ChatLedger, clients: list[tuple[MediaClient, Person]], stop: asyncio.Event
) -> None:
    """Both people type all along: one message each about every 1.5 s (under the chat rate
    limit of 1/s), each sent until acknowledged."""
    n = 0
    while not stop.is_set():
        for client, person in clients:
            await ledger.send(client, person, f"message {n} from {person.name}", WITHIN)
        n += 1
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.5):  # pacing, not waiting for an outcome
                await stop.wait()


async def test_rolling_restart_loses_no_call_and_no_message(cluster: Cluster) -> None:
    api = cluster.api()
    chat_id, _ = await book_chat_now(api)
    ada = MediaClient("ada", cluster.dialer(ADA, chat_id))
    sam = MediaClient("sam", cluster.dialer(SAM, chat_id), trickle=True)
    reconnectors = [Reconnector(ada), Reconnector(sam)]
    ledger = ChatLedger()
    stop = asyncio.Event()
    chatter: asyncio.Task[None] | None = None
    try:
        await ada.connect()
        await sam.connect()
        await _media_flows(ada, sam)
        seen = [len(ada.messages), len(sam.messages)]
        for reconnector in reconnectors:
            reconnector.start()
        chatter = asyncio.create_task(_chatter(ledger, [(ada, ADA), (sam, SAM)], stop))

        for node_id in list(cluster.nodes):
            started = time.monotonic()
            await cluster.restart(node_id)
            for client in (ada, sam):
                await client.wait_until(
                    lambda c=client: c.joined is not None and c.close_code is None,
                    WITHIN,
                    f"joined again after {node_id}'s restart",
                )
            await _media_flows(ada, sam)
            print(f"{node_id} restarted, call whole again after {time.monotonic() - started:.1f}s")
            assert not chatter.done(), chatter
            for reconnector in reconnectors:
                reconnector.check()

        stop.set()
        await asyncio.wait_for(chatter, WITHIN)
        await _everyone_has_every_message(api, chat_id, ledger, [ada, sam])
        outages = [len(r.outages) for r in reconnectors]
        print(f"outages (Ada, Sam): {outages}; acknowledged messages: {len(ledger.acked)}")
        assert all(n >= 1 for n in outages), "each person's node was restarted once at least"
        presences = [
            _presence(client, after) for client, after in zip((ada, sam), seen, strict=True)
        ]
        for client, presence in zip((ada, sam), presences, strict=True):
            assert not any(isinstance(x, m.PeerLeft) for x in presence), (client.name, presence)
        assert not ada.failures and not sam.failures

        # Last: a node stopped with SIGTERM tells each of its sockets' peers that the person is
        # reconnecting (1001 is a drop, docs/protocol.md 7), then the resume says they are back.
        for presence, other in zip(presences, reversed(reconnectors), strict=True):
            expected = [m.PeerReconnecting, m.PeerJoined] * len(other.outages)
            assert [type(x) for x in presence] == expected, presence
            assert all(x.resumed for x in presence if isinstance(x, m.PeerJoined)), presence
    except BaseException:
        print(cluster.logs())
        raise
    finally:
        stop.set()
        if chatter is not None:
            chatter.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await chatter
        for reconnector in reconnectors:
            await reconnector.stop()
        await sam.close()
        await ada.close()
