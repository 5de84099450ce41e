"""`GET /metrics` through the real app: who may scrape it, and that its series move by exactly
what a scripted call does (joins, refusals, relayed messages by type, chat, rooms, sockets,
grant-to-joined time, database transactions), parsed with prometheus-client's own parser."""

from __future__ import annotations

import asyncio
import gc
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from media.precall import Measurement, verdict
from scheduling.clock import ManualClock
from signaling import messages as m
from signaling.close_codes import CloseCode
from signaling.node import CallQuality
from signaling.ws import NODE
from tests.support.apiclient import ADA, SAM, Api
from tests.support.app import TEST_NOW, TEST_SECRET
from tests.support.rooms import closed_with, eventually, live_chat, present
from tests.support.services import free_port
from tests.support.signal_client import SignalClient, join, ticket
from web.app import create_app
from web.config import Config
from web.metrics import METRICS, _LoopProbe

TOKEN = "scrape-token-0123456789abcdef"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
def app_config(tmp_path: Path) -> Config:
    return Config(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/duet.sqlite3",
        jwt_secret=TEST_SECRET,
        metrics_token=TOKEN,
    )


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(client: TestClient) -> Samples:
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    assert resp.headers["Cache-Control"] == "no-store"
    return parse(await resp.text())


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_metrics_need_the_token_and_skip_the_rest_auth(api: Api) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer not-the-token-at-all-00"},
        {"Authorization": f"Bearer {api.token(ADA)}"},  # a person's JWT is no scrape token
        {"Authorization": TOKEN},
    ):
        resp = await api.client.get("/metrics", headers=headers)
        assert resp.status == 401, headers
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert TOKEN not in await resp.text()
    samples = await scrape(api.client)
    assert value(samples, "duet_node", node_id=api.client.app[NODE].broker.node_id) == 1
    assert value(samples, "process_cpu_seconds_total") > 0


async def test_without_a_token_metrics_are_not_served(aiohttp_client: Any, tmp_path: Path) -> None:
    config = Config(database_url=f"sqlite+aiosqlite:///{tmp_path}/d.sqlite3", jwt_secret="s" * 40)
    client: TestClient = await aiohttp_client(create_app(config))
    api = Api(client, "s" * 40, ManualClock(TEST_NOW))
    for headers in ({}, {"Authorization": f"Bearer {api.token(ADA)}"}):
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == 404  # an unknown path, as for anyone


async def test_a_loopback_metrics_port_serves_without_the_token(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    port = free_port()
    config = Config(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/d.sqlite3",
        jwt_secret="s" * 40,
        metrics_port=port,
    )
    client: TestClient = await aiohttp_client(create_app(config))
    assert (await client.get("/metrics")).status == 404  # the public port still refuses
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as resp,
    ):
        assert resp.status == 200
        samples = parse(await resp.text())
    assert ("duet_rooms_open", ()) in samples


async def test_a_scripted_call_moves_the_series_it_should(api: Api) -> None:
    client = api.client
    chat_id, _ = await live_chat(api)
    before = await scrape(client)

    grant = await ticket(api, ADA, chat_id)
    api.clock.advance(timedelta(seconds=3))  # Ada takes 3 s from the grant to her join
    ada = await present(api, grant["ticket"])
    await ada.expect(m.Joined)
    sam, _ = await join(api, SAM, chat_id, binary=True)
    await ada.expect(m.PeerJoined)

    during = await scrape(client)
    assert value(during, "duet_rooms_open") == 1
    assert value(during, "duet_sockets", protocol="json") == 1
    assert value(during, "duet_sockets", protocol="msgpack") == 1
    assert moved(before, during, "duet_joins_total") == 2
    assert moved(before, during, "duet_join_grant_to_joined_seconds_count") == 2
    assert moved(before, during, "duet_join_grant_to_joined_seconds_sum") == pytest.approx(3.0)
    assert moved(before, during, "duet_join_grant_to_joined_seconds_bucket", le="2.0") == 1
    assert moved(before, during, "duet_db_transaction_seconds_count", kind="read") >= 2

    await ada.send(m.Offer(sdp="v=0\r\n"))
    await sam.expect(m.RelayedOffer)
    await sam.send(m.Answer(sdp="v=0\r\n"))
    await ada.expect(m.RelayedAnswer)
    for side, other in ((ada, sam), (sam, ada), (ada, sam)):
        await side.send(
            m.Candidate(candidate="candidate:1 1 udp 1 127.0.0.1 9 typ host", sdpMid="0")
        )
        await other.expect(m.RelayedCandidate)
    await ada.send(m.MediaState(mic=False, camera=True, screen=False))
    await sam.expect(m.PeerMediaState)
    await sam.send(m.ChatSend(client_msg_id="c1", text="hello"))
    await sam.expect(m.ChatAck)
    await sam.send(m.ChatSend(client_msg_id="c1", text="hello"))  # a retry: stored once
    await sam.expect(m.ChatAck)
    await ada.expect(m.ChatMessage)

    reused = await present(api, grant["ticket"])  # Ada's ticket again: refused, 4003
    code, _ = await closed_with(reused)
    assert code == CloseCode.TICKET_USED

    after_call = await scrape(client)
    for kind, count in (("offer", 1), ("answer", 1), ("candidate", 3), ("media_state", 1)):
        assert moved(before, after_call, "duet_relayed_messages_total", type=kind) == count
    assert moved(before, after_call, "duet_relayed_messages_total", type="track_info") == 0
    assert moved(before, after_call, "duet_relayed_inline_messages_total") <= 5
    assert moved(before, after_call, "duet_chat_messages_stored_total") == 1
    refusal = {"code": "4003", "reason": "ticket_used"}
    assert moved(before, after_call, "duet_join_refusals_total", **refusal) == 1
    assert moved(before, after_call, "duet_joins_total") == 2
    assert moved(before, after_call, "duet_db_transaction_seconds_count", kind="write") >= 1

    await ada.send(m.Leave())
    await sam.send(m.Leave())
    await ada.closed()
    await sam.closed()
    node = client.app[NODE]
    await eventually(lambda: not node.local, "both sockets forgotten")
    after = await scrape(client)
    assert value(after, "duet_rooms_open") == 0
    assert value(after, "duet_sockets", protocol="json") == 0
    assert value(after, "duet_sockets", protocol="msgpack") == 0


async def test_gc_pauses_call_quality_and_verdicts_are_recorded(api: Api) -> None:
    before = await scrape(api.client)
    gc.collect()
    api.client.app[NODE].call_quality(
        CallQuality(rtt_s=0.12, loss_ratio=0.03, jitter_s=0.02, path="turn")
    )
    api.client.app[NODE].call_quality(CallQuality(rtt_s=0.5, path="direct"))
    report = verdict(
        Measurement(state="closed", connected_for_s=9.0, offered_video=True, offered_audio=False),
        final=True,
    )
    api.client.app[METRICS].verdict(report)
    after = await scrape(api.client)
    assert moved(before, after, "duet_gc_pause_seconds_count", generation="2") >= 1
    assert moved(before, after, "duet_gc_pause_seconds_sum", generation="2") > 0
    assert moved(before, after, "duet_call_quality_rtt_seconds_count", path="turn") == 1
    assert moved(before, after, "duet_call_quality_rtt_seconds_sum", path="turn") == pytest.approx(
        0.12
    )
    assert (
        moved(before, after, "duet_call_quality_packet_loss_ratio_bucket", path="turn", le="0.05")
        == 1
    )
    assert moved(before, after, "duet_call_quality_jitter_seconds_count", path="turn") == 1
    assert (
        moved(before, after, "duet_call_quality_rtt_seconds_bucket", path="direct", le="0.4") == 0
    )
    assert moved(before, after, "duet_call_quality_rtt_seconds_count", path="direct") == 1
    grades = {"camera": "no_frames", "microphone": "no_audio", "connection": "unknown"}
    for aspect, grade in grades.items():
        assert report[aspect] == grade
        assert moved(before, after, "duet_precall_verdicts_total", aspect=aspect, grade=grade) == 1


async def test_the_loop_probe_sees_a_blocked_loop() -> None:
    """Blocking the loop is the stimulus here (what the probe exists to see), not a wait."""
    loop = asyncio.get_running_loop()
    seen: list[float] = []
    probe = _LoopProbe(loop, 0.01, seen.append)
    try:
        time.sleep(0.06)  # noqa: ASYNC251  # the stimulus: the loop is stuck for 60 ms
        await eventually(lambda: bool(seen), "probed")
        assert seen[0] >= 0.04
    finally:
        probe.stop()


async def test_every_socket_the_metrics_count_is_one_of_the_node(api: Api) -> None:
    """A refused join is no socket and no room; a client that goes before joining is no
    refusal (no close code of ours)."""
    before = await scrape(api.client)
    gone = await SignalClient.open(api.client)
    await gone.close()
    bad = await present(api, "not-a-ticket")
    code, _ = await closed_with(bad)
    assert code == CloseCode.TICKET_INVALID
    after = await scrape(api.client)
    assert (
        moved(before, after, "duet_join_refusals_total", code="4001", reason="ticket_invalid") == 1
    )
    refusals = sum(v for (name, _), v in after.items() if name == "duet_join_refusals_total")
    assert (
        refusals - sum(v for (name, _), v in before.items() if name == "duet_join_refusals_total")
        == 1
    )
    assert value(after, "duet_rooms_open") == 0


async def test_stats_messages_and_event_streams_move_the_metrics(api: Api) -> None:
    """Real `stats` from a scripted call reach the call quality metrics with the server's
    verdict; an open event stream is counted while it is open."""
    chat_id, _ = await live_chat(api)
    ada, _ = await join(api, ADA, chat_id)
    sam, _ = await join(api, SAM, chat_id)
    before = await scrape(api.client)
    await sam.send(m.Stats(rtt_ms=700, loss=0.1, pair="relay", transport="tls"))
    assert (await sam.expect(m.Quality)).verdict == "poor"
    await ada.send(m.Stats(rtt_ms=20, loss=0.0, jitter_ms=3, pair="host", transport="udp"))
    assert (await ada.expect(m.Quality)).verdict == "good"
    stream = await api.client.get(
        "/api/v1/me/events", headers={"Authorization": f"Bearer {api.token(ADA)}"}
    )
    assert stream.status == 200
    await stream.content.readline()  # the `hello` event: the stream is open
    after = await scrape(api.client)
    assert (
        moved(before, after, "duet_call_quality_verdicts_total", verdict="poor", path="turn") == 1
    )
    assert (
        moved(before, after, "duet_call_quality_verdicts_total", verdict="good", path="direct") == 1
    )
    assert moved(before, after, "duet_call_quality_rtt_seconds_sum", path="turn") == pytest.approx(
        0.7
    )
    assert moved(before, after, "duet_event_streams") == 1
    stream.close()
    await ada.close()
    await sam.close()
