"""The pre-call check: a real aiortc client against the running app, the pool's bounds, and leaks.

Run inside a loopback-only network namespace (measured; docs/architecture.md, "Media tests"):
``unshare -n sh -c 'ip link set lo up && exec .venv/bin/python -m pytest tests/media/test_precall.py'``.
Every wait is bounded and waits for a condition; nothing sleeps to synchronise.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import dataclasses
import gc
import os
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import aiohttp
import jsonschema
import pytest
from aiohttp.test_utils import TestClient
from aiortc import RTCPeerConnection, RTCSessionDescription

from media.peer_pool import PeerPool, PoolClosed, PoolFull
from media.precall import (
    RTT_FAIR_MS,
    RTT_POOR_MS,
    Measurement,
    PrecallPeer,
    PrecallService,
    verdict,
)
from media.turn import turn_password
from scheduling.clock import ManualClock
from tests.support.apiclient import ADA, SAM, Api, Person
from tests.support.app import TEST_NOW, TEST_SECRET
from tests.support.peers import MediaPeer
from web.api_precall import OFFER_MARGIN_S
from web.app import create_app
from web.config import Config
from web.keys import PRECALL
from web.openapi import openapi_document

MakeApi = Callable[..., Awaitable[Api]]


@pytest.fixture
def make_api(
    aiohttp_client: Any, app_config: Config, clock: ManualClock, loopback_ice: None
) -> MakeApi:
    """The app with config overrides (pool size, time limit), host candidates on loopback."""

    async def make(**overrides: Any) -> Api:
        config = dataclasses.replace(app_config, **overrides)
        client: TestClient = await aiohttp_client(create_app(config, clock=clock))
        return Api(client, TEST_SECRET, clock)

    return make


def assert_schema(body: dict[str, Any], schema: str) -> None:
    """The body matches the OpenAPI schema the web client is written against."""
    document = openapi_document()
    jsonschema.validate(
        body, {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
    )


def service_of(api: Api) -> PrecallService:
    return api.client.server.app[PRECALL]


async def start_check(api: Api, person: Person, peer: MediaPeer) -> dict[str, Any]:
    """Offer from the client, POST it, apply the server's answer; the body has id and expiry."""
    offer = await peer.create_offer()
    body = await api.call(
        person, "POST", "/api/v1/precall", {"sdp": offer.sdp, "type": offer.type}, expect=201
    )
    await peer.accept_answer(RTCSessionDescription(body["sdp"], body["type"]))
    return body


async def poll(
    read: Callable[[], Awaitable[dict[str, Any]]],
    done: Callable[[dict[str, Any]], bool],
    within: float,
    interval: float = 0.1,
) -> dict[str, Any]:
    """Read until ``done`` holds; TimeoutError carrying the last reading if it never does."""
    last: dict[str, Any] = {}
    try:
        async with asyncio.timeout(within):
            while True:
                last = await read()
                if done(last):
                    return last
                await asyncio.sleep(interval)
    except TimeoutError:
        raise TimeoutError(f"condition not met within {within}s; last: {last}") from None


async def wait_true(check: Callable[[], bool], within: float, what: str) -> None:
    """Bounded wait for in-process state that has no event to await (tasks, threads)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{what}: not true within {within}s")


async def wait_client_state(peer: MediaPeer, state: str, within: float) -> None:
    changed = asyncio.Event()
    peer.pc.on("connectionstatechange", changed.set)
    async with asyncio.timeout(within):
        while peer.pc.connectionState != state:
            changed.clear()
            await changed.wait()


def rss_bytes() -> int:
    """Resident set size from /proc/self/statm (pages), no psutil needed."""
    with open("/proc/self/statm") as fh:
        resident_pages = int(fh.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


# --- the whole check, end to end ------------------------------------------------------------


@pytest.mark.media
async def test_check_mirrors_camera_and_mic_and_grades_the_connection(make_api: MakeApi) -> None:
    api = await make_api()
    setup = await api.call(SAM, "GET", "/api/v1/precall")
    # No TURN configured: the browser gets no ICE server at all, never a public STUN default.
    assert setup == {"ice_servers": [], "max_duration_s": 60}
    assert_schema(setup, "PrecallSetup")
    peer = MediaPeer("sam", ice_servers=[])
    try:
        started = await start_check(api, SAM, peer)
        assert started["type"] == "answer" and 55 <= started["expires_in_s"] <= 60
        assert_schema(started, "PrecallAnswer")
        # The server peer gathered only loopback host candidates (no STUN, so no srflx).
        candidates = [x for x in started["sdp"].splitlines() if x.startswith("a=candidate:")]
        assert candidates and all(" 127.0.0.1 " in c and "typ host" in c for c in candidates)

        await peer.wait_connected(10)
        # Our own camera and microphone come back through the server.
        assert await peer.wait_frames("video", 15, within=10) >= 15
        assert await peer.wait_frames("audio", 25, within=10) >= 25
        assert [(p.local_type, p.remote_type) for p in peer.selected_pairs()] == [("host", "host")]

        def read() -> Awaitable[dict[str, Any]]:
            return api.call(SAM, "GET", f"/api/v1/precall/{started['id']}")

        live = await poll(
            read,
            # Bitrate and loss need two stats samples; under load the first poll can precede them.
            lambda v: (
                v["camera"] == "ok"
                and v["microphone"] == "ok"
                and v["rtt_ms"] is not None
                and v["bitrate_kbps"] is not None
                and v["loss_pct"] is not None
            ),
            within=15,
        )
        assert_schema(live, "PrecallVerdict")
        assert live["state"] == "connected" and live["closed_reason"] is None
        assert live["path"] == "direct"
        # Loopback itself takes microseconds; what is measured is mostly this one event loop
        # running both peers' codecs, which reached ~150 ms while other tests loaded the CPU.
        assert 0 < live["rtt_ms"] < 500, live
        assert live["loss_pct"] is not None and live["loss_pct"] < 2
        rtt = live["rtt_ms"]
        expected = "good" if rtt < RTT_FAIR_MS else "fair" if rtt < RTT_POOR_MS else "poor"
        assert live["connection"] == expected, live
        assert live["bitrate_kbps"] is not None and live["bitrate_kbps"] > 20
        assert (live["video"]["width"], live["video"]["height"]) == (320, 240)
        assert live["audio"]["peak_dbfs"] > -30  # the client's 400 Hz tone, not silence
        assert live["summary"].startswith(
            f"Your camera and microphone work; your connection is {live['connection']}"
        )

        final = await api.call(SAM, "DELETE", f"/api/v1/precall/{started['id']}")
        assert final["state"] == "closed" and final["closed_reason"] == "deleted"
        assert final["camera"] == "ok" and final["expires_in_s"] == 0
        assert_schema(final, "PrecallVerdict")
        assert service_of(api).pool.size == 0
        # The server closed its side (DTLS close_notify), so the client sees the end too.
        await wait_client_state(peer, "closed", within=10)
        # The final verdict stays readable for a while, for its owner only.
        again = await api.call(SAM, "GET", f"/api/v1/precall/{started['id']}")
        assert again["closed_reason"] == "deleted"
        await api.call(ADA, "GET", f"/api/v1/precall/{started['id']}", expect=404)
    finally:
        await peer.close()


@pytest.mark.media
async def test_pool_refuses_a_third_check_until_one_ends(make_api: MakeApi) -> None:
    api = await make_api(max_server_peers=2)
    peers = [MediaPeer(f"p{i}", ice_servers=[], video_size=(160, 120)) for i in range(3)]
    try:
        first = await start_check(api, SAM, peers[0])
        await start_check(api, ADA, peers[1])
        await asyncio.gather(peers[0].wait_connected(10), peers[1].wait_connected(10))

        offer = await peers[2].create_offer()
        body = {"sdp": offer.sdp, "type": "offer"}
        refused = await api.call(SAM, "POST", "/api/v1/precall", body, expect=503)
        assert refused["detail"] == "Too many checks are running; try again in a minute."
        assert refused["code"] == "precall_busy"
        assert service_of(api).pool.size == 2

        # Someone else cannot read or end Sam's check; it looks as if it did not exist.
        await api.call(ADA, "GET", f"/api/v1/precall/{first['id']}", expect=404)
        await api.call(ADA, "DELETE", f"/api/v1/precall/{first['id']}", expect=404)
        assert service_of(api).pool.size == 2

        await api.call(SAM, "DELETE", f"/api/v1/precall/{first['id']}")
        third = await api.call(SAM, "POST", "/api/v1/precall", body, expect=201)
        await peers[2].accept_answer(RTCSessionDescription(third["sdp"], third["type"]))
        await peers[2].wait_connected(10)
        assert service_of(api).pool.size == 2

        # Shutting the app down closes every server peer; the browsers see their calls end.
        service = service_of(api)
        await api.client.close()
        assert service.pool.size == 0 and service.pool.task_count == 0
        await asyncio.gather(
            wait_client_state(peers[1], "closed", within=10),
            wait_client_state(peers[2], "closed", within=10),
        )
    finally:
        for peer in peers:
            await peer.close()


@pytest.mark.media
async def test_time_limit_closes_the_server_peer(make_api: MakeApi) -> None:
    api = await make_api(precall_max_s=2)
    peer = MediaPeer("sam", ice_servers=[], video_size=(160, 120))
    try:
        started = await start_check(api, SAM, peer)
        assert started["expires_in_s"] == 2
        await peer.wait_connected(10)
        api.clock.advance(timedelta(seconds=1))
        status = await api.call(SAM, "GET", f"/api/v1/precall/{started['id']}")
        assert status["state"] != "closed" and status["expires_in_s"] == 1  # not yet
        api.clock.advance(timedelta(seconds=1))  # the limit, counted from the POST
        # The server ends the call by itself; the client sees its connection close.
        await wait_client_state(peer, "closed", within=8)
        final = await api.call(SAM, "GET", f"/api/v1/precall/{started['id']}")
        assert final["state"] == "closed" and final["closed_reason"] == "time_limit"
        assert service_of(api).pool.size == 0 and service_of(api).pool.task_count == 0
    finally:
        await peer.close()


@pytest.mark.media
async def test_client_hanging_up_frees_the_place_before_the_time_limit(
    make_api: MakeApi,
) -> None:
    api = await make_api(max_server_peers=1)
    peer = MediaPeer("sam", ice_servers=[], video_size=(160, 120))
    started = await start_check(api, SAM, peer)
    await peer.wait_connected(10)
    await peer.close()  # the browser tab goes away cleanly (DTLS close_notify)
    final = await poll(
        lambda: api.call(SAM, "GET", f"/api/v1/precall/{started['id']}"),
        lambda v: v["state"] == "closed",
        within=10,
    )
    assert final["closed_reason"] == "disconnected"
    assert service_of(api).pool.size == 0


async def test_bad_requests_are_refused_with_sentences(make_api: MakeApi) -> None:
    api = await make_api()
    await api.call(None, "POST", "/api/v1/precall", {"sdp": "x", "type": "offer"}, expect=401)
    garbage = await api.call(
        SAM, "POST", "/api/v1/precall", {"sdp": "hello", "type": "offer"}, expect=422
    )
    assert garbage["code"] == "bad_offer"
    no_media = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    empty = await api.call(
        SAM, "POST", "/api/v1/precall", {"sdp": no_media, "type": "offer"}, expect=422
    )
    assert empty["detail"] == "The offer has neither a camera nor a microphone to check."
    wrong = await api.call(
        SAM, "POST", "/api/v1/precall", {"sdp": no_media, "type": "answer"}, expect=422
    )
    assert wrong["field"] == "type"
    missing = await api.call(SAM, "GET", "/api/v1/precall/nope", expect=404)
    assert missing["code"] == "precall_not_found"
    # Refused offers leave nothing behind: no peer, no kept result.
    assert service_of(api).pool.size == 0 and service_of(api).results_kept == 0


async def test_setup_gives_duets_own_turn_with_short_lived_credentials(make_api: MakeApi) -> None:
    urls = ("turn:turn.duet.example:3478?transport=udp",)
    api = await make_api(turn_secret="s3cret", turn_urls=urls, precall_max_s=60)
    setup = await api.call(SAM, "GET", "/api/v1/precall")
    assert_schema(setup, "PrecallSetup")
    [server] = setup["ice_servers"]
    assert server["urls"] == list(urls)  # only Duet's server, nothing public
    expiry, _ = server["username"].split(":")
    # Valid for the check plus time to build the offer, not for hours.
    lifetime = int(expiry) - int(api.clock.now().timestamp())
    assert lifetime == 60 + OFFER_MARGIN_S
    assert server["credential"] == turn_password("s3cret", server["username"])


# --- the pool on its own (no media: fast and exact) ---------------------------------------


class FakePeer:
    def __init__(self) -> None:
        self.closed = 0

    async def close(self) -> None:
        self.closed += 1


async def test_pool_bound_time_limit_and_shutdown_leave_no_task() -> None:
    reasons: list[str] = []
    clock = ManualClock(TEST_NOW)
    pool: PeerPool[FakePeer] = PeerPool(
        2, 0.2, on_closed=lambda e, r: reasons.append(r), clock=clock
    )
    a = pool.add("sam", FakePeer)
    b = pool.add("ada", FakePeer)
    with pytest.raises(PoolFull):
        pool.add("mei", FakePeer)
    assert pool.task_count == 2  # one timer each

    pool.close_soon(a.id, "disconnected")
    pool.close_soon(a.id, "disconnected")  # a second report of the same end is harmless
    clock.advance(timedelta(seconds=0.2))  # b's time limit
    await wait_true(lambda: b.peer.closed == 1, within=2, what="time limit closes b")
    assert a.peer.closed == 1 and sorted(reasons) == ["disconnected", "time_limit"]
    assert pool.size == 0 and pool.task_count == 0

    c = pool.add("mei", FakePeer)
    await pool.close()
    assert c.peer.closed == 1 and reasons[-1] == "shutdown"
    assert pool.size == 0 and pool.task_count == 0
    with pytest.raises(PoolClosed):
        pool.add("sam", FakePeer)


# --- grading (pure) ------------------------------------------------------------------------


def _m(**kw: Any) -> Measurement:
    base: dict[str, Any] = {
        "state": "connected",
        "connected_for_s": 10.0,
        "offered_video": True,
        "offered_audio": True,
        "video_frames": 300,
        "audio_frames": 500,
        "audio_peak_dbfs": -12.0,
        "rtt_ms": 40.0,
        "loss_pct": 0.0,
        "bitrate_kbps": 800.0,
        "path": "direct",
    }
    return Measurement(**(base | kw))


def test_verdict_words_each_trouble_for_a_person() -> None:
    assert verdict(_m())["connection"] == "good"
    assert verdict(_m(rtt_ms=200.0))["connection"] == "fair"
    assert verdict(_m(loss_pct=3.0))["connection"] == "fair"
    assert verdict(_m(rtt_ms=450.0))["connection"] == "poor"
    assert verdict(_m(bitrate_kbps=20.0))["connection"] == "poor"  # camera as a slideshow

    silent = verdict(_m(audio_peak_dbfs=-70.0))
    assert silent["microphone"] == "silent" and "say something" in silent["summary"]
    assert verdict(_m(offered_audio=False, audio_frames=0))["microphone"] == "no_audio"
    dark = verdict(_m(video_frames=0))
    assert dark["camera"] == "no_frames" and dark["summary"].startswith("We receive no picture")

    # Early on, missing frames are "not yet", not an alarm; after the check, "unknown".
    early = _m(connected_for_s=1.0, video_frames=0, audio_frames=0, rtt_ms=None, loss_pct=None)
    assert (verdict(early)["camera"], verdict(early)["connection"]) == ("checking", "checking")
    assert verdict(early, final=True)["camera"] == "unknown"
    never = _m(state="closed", connected_for_s=None, video_frames=0, audio_frames=0)
    assert verdict(never, final=True)["connection"] == "failed"

    relayed = verdict(_m(path="turn"))
    assert relayed["path"] == "turn" and "relay server" in relayed["summary"]


# --- leaks ---------------------------------------------------------------------------------

LEAK_CHECKS = 200
# The first few dozen checks raise the allocator's high-water mark (arenas, aiohttp and SQLite
# caches, the kept verdicts); measured here, RSS settled after ~50 checks and then stayed flat.
LEAK_WARMUP = 50
LEAK_BUDGET_S = 75.0
# 10 MiB over 200 checks is ~50 KB per check. A single live check costs several MB (codec
# contexts, SRTP, threads), so leaking any real part of a peer would blow through this; with
# malloc_trim the measured growth was about 1 MiB, leaving room for allocator noise.
LEAK_RSS_BOUND = 10 * 1024 * 1024


def media_threads() -> list[threading.Thread]:
    """aiortc's per-receiver decoder threads ("video-decoder", "audio-decoder")."""
    return [t for t in threading.enumerate() if t.name.endswith("-decoder")]


def other_threads() -> list[threading.Thread]:
    """Threads besides the event loop's executor, which grows on demand and is shared."""
    return [t for t in threading.enumerate() if not t.name.startswith("asyncio_")]


def settled_rss() -> int:
    """RSS after a full collection and glibc's malloc_trim, so freed heap is not counted."""
    gc.collect()
    libc = ctypes.util.find_library("c")
    if libc is not None:
        with contextlib.suppress(AttributeError, OSError):
            ctypes.CDLL(libc).malloc_trim(0)
    return rss_bytes()


@pytest.mark.media
@pytest.mark.timeout(180)
async def test_hundreds_of_checks_leak_no_memory_peer_or_task(make_api: MakeApi) -> None:
    api = await make_api(max_server_peers=2)
    service = service_of(api)
    # A plain session, not the TestClient: that one keeps every response until teardown,
    # which would be the test's own growth, not the app's.
    session = aiohttp.ClientSession(
        base_url=str(api.client.make_url("/")),
        headers={"Authorization": f"Bearer {api.token(SAM)}"},
    )

    async def one_check() -> None:
        peer = MediaPeer("leak", ice_servers=[], video_size=(160, 120))
        try:
            offer = await peer.create_offer()
            async with session.post(
                "/api/v1/precall", json={"sdp": offer.sdp, "type": "offer"}
            ) as r:
                assert r.status == 201, await r.text()
                started = await r.json()
            await peer.accept_answer(RTCSessionDescription(started["sdp"], started["type"]))
            await peer.wait_connected(10)
            async with session.delete(f"/api/v1/precall/{started['id']}") as r:
                assert r.status == 200 and (await r.json())["closed_reason"] == "deleted"
        finally:
            await peer.close()

    try:
        await _leak_run(service, one_check)
    finally:
        await session.close()


async def _leak_run(service: PrecallService, one_check: Callable[[], Awaitable[None]]) -> None:
    for _ in range(LEAK_WARMUP):
        await one_check()
    baseline_tasks = len(asyncio.all_tasks())
    baseline_threads = len(other_threads())
    before = settled_rss()

    began = time.monotonic()
    done = 0
    while done < LEAK_CHECKS and time.monotonic() - began < LEAK_BUDGET_S:
        await one_check()
        done += 1
    elapsed = time.monotonic() - began

    await wait_true(lambda: service.pool.size == 0, within=10, what="pool empty")
    await wait_true(
        lambda: len(asyncio.all_tasks()) <= baseline_tasks, within=10, what="tasks back"
    )
    await wait_true(lambda: media_threads() == [], within=10, what="decoder threads gone")
    assert len(other_threads()) <= baseline_threads, [t.name for t in other_threads()]
    after = settled_rss()
    growth = after - before
    print(
        f"\nprecall leak: {done} checks in {elapsed:.1f}s ({elapsed / done * 1000:.0f} ms each); "
        f"RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB ({growth / 2**20:+.1f} MiB)"
    )
    assert done >= 100, f"only {done} checks fit in {LEAK_BUDGET_S}s"
    assert growth < LEAK_RSS_BOUND, f"RSS grew {growth / 2**20:.1f} MiB over {done} checks"
    assert service.pool.size == 0 and service.pool.task_count == 0
    # No peer object survives: neither the server's nor the clients' connections and tracks.
    alive = [o for o in gc.get_objects() if isinstance(o, (RTCPeerConnection, PrecallPeer))]
    assert alive == []
    assert service.results_kept <= 256  # finished verdicts are kept in bounded memory
