"""aiortc uses only the first TURN URL: Duet's server peers and the test clients pick it well.

Measured (aiortc 1.16 / aioice 0.13): given UDP first, a peer whose network drops UDP gets no
relay candidate, however many TCP or TLS URLs follow. media/ice.py's ``reachable_turn_first``
tries them all and puts the best working one first; these tests hold it to that on loopback,
with a "dead" UDP URL (a port nothing listens on, which answers nothing, as a UDP-dropping
firewall would). tests/media/test_turn_lab.py does the same behind real firewalls.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from media.ice import IceServer, reachable_turn_first, turn_urls
from media.precall import PrecallPeer
from media.relay import Description, Outgoing, RelayRoom
from media.turn import mint_turn_credentials
from tests.support.peers import MediaPeer
from tests.support.services import RunningService, free_port, start_coturn
from tests.support.tls import throwaway_tls

pytestmark = [pytest.mark.coturn, pytest.mark.media]


def test_turn_urls_are_read_as_aiortc_reads_them() -> None:
    server = IceServer(
        (
            "stun:turn.example.com:3478",
            "turns:turn.example.com:443?transport=tcp",
            "turn:turn.example.com?transport=tcp",
            "turn:turn.example.com:3478",
            "turns:turn.example.com",
            "turn:turn.example.com:3478?transport=sctp",  # aiortc cannot use it: skipped
        ),
        "u",
        "p",
    )
    assert [(u.host, u.port, u.transport, u.rank) for u in turn_urls(server)] == [
        ("turn.example.com", 443, "tls", 2),
        ("turn.example.com", 3478, "tcp", 1),
        ("turn.example.com", 3478, "udp", 0),
        ("turn.example.com", 5349, "tls", 2),
    ]


@pytest.fixture
def tls_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 from a throwaway CA that aioice trusts for this test only."""
    ca, chain, key = throwaway_tls(tmp_path / "tls", ["127.0.0.1"])
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # aioice uses Python's default SSL context
    return chain, key


@dataclass(frozen=True)
class TlsCoturn:
    service: RunningService
    tls_port: int


@pytest.fixture
def coturn_tls(
    tmp_path: Path, turn_secret: str, tls_files: tuple[Path, Path]
) -> Iterator[TlsCoturn]:
    """The loopback test copy with TLS on a free port as well."""
    tls_port = free_port()
    service = start_coturn(tmp_path, turn_secret, tls=tls_files, tls_port=tls_port)
    try:
        yield TlsCoturn(service, tls_port)
    finally:
        service.stop()


def _urls(coturn: RunningService, tls_port: int | None = None) -> dict[str, str]:
    host, port = coturn.host, coturn.port
    urls = {
        "udp": f"turn:{host}:{port}?transport=udp",
        "tcp": f"turn:{host}:{port}?transport=tcp",
        "dead-udp": f"turn:{host}:{free_port()}?transport=udp",  # nothing answers there
    }
    if tls_port is not None:
        urls["tls"] = f"turns:{host}:{tls_port}?transport=tcp"
    return urls


def _server(secret: str, urls: list[str]) -> IceServer:
    expires = datetime.now(UTC) + timedelta(minutes=10)  # handed to coturn: real time
    return mint_turn_credentials(secret, "someone", "chat-1", expires, urls)


async def test_the_best_working_url_comes_first_whatever_the_order(
    coturn_tls: TlsCoturn, turn_secret: str
) -> None:
    urls = _urls(coturn_tls.service, coturn_tls.tls_port)
    for order in itertools.permutations(["tls", "tcp", "udp"]):
        server = _server(turn_secret, [urls[kind] for kind in order])
        [chosen] = await reachable_turn_first([server])
        assert chosen.urls[0] == urls["udp"], order
        assert sorted(chosen.urls) == sorted(server.urls)  # nothing dropped
        assert (chosen.username, chosen.credential) == (server.username, server.credential)


async def test_a_dead_udp_url_listed_first_costs_a_grace_period_not_a_timeout(
    coturn_tls: TlsCoturn, turn_secret: str
) -> None:
    urls = _urls(coturn_tls.service, coturn_tls.tls_port)
    stun = IceServer(("stun:127.0.0.1:3478",))
    servers = [
        stun,
        _server(turn_secret, [urls["dead-udp"], urls["tls"]]),
        _server(turn_secret, [urls["tcp"]]),
    ]
    loop = asyncio.get_running_loop()
    started = loop.time()
    chosen = await reachable_turn_first(servers, grace_s=0.3)
    took = loop.time() - started
    assert chosen[0].urls == (urls["tcp"],)  # TCP beats TLS; the server entry moved first
    assert chosen[1:] == [stun, servers[1]]
    assert 0.3 <= took < 2.0, took  # waited the grace for UDP, then stopped


@pytest.mark.parametrize("trouble", ["untrusted", "name-mismatch"])
async def test_a_turns_url_the_client_cannot_verify_is_never_chosen(
    coturn_tls: TlsCoturn,
    turn_secret: str,
    trouble: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """And aiortc fails on it silently: no relay candidate, no error (docs/deploy.md)."""
    port = coturn_tls.tls_port
    if trouble == "untrusted":
        monkeypatch.delenv("SSL_CERT_FILE")  # only the system's CAs: the lab CA is unknown
        tls_url = f"turns:127.0.0.1:{port}?transport=tcp"
    else:
        tls_url = f"turns:localhost:{port}?transport=tcp"  # the certificate names 127.0.0.1
    dead_tcp = f"turn:127.0.0.1:{free_port()}?transport=tcp"  # refused at once
    server = _server(turn_secret, [tls_url, dead_tcp])
    with caplog.at_level(logging.WARNING, logger="duet.media.ice"):
        assert await reachable_turn_first([server]) == [server]  # nothing works: order kept
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text, caplog.text

    probe = MediaPeer("probe", [_server(turn_secret, [tls_url])], relay_only=True, audio=False)
    try:
        async with asyncio.timeout(10):
            await probe.create_offer()  # no exception, no state change: just nothing
        assert [c.type for c in probe.local_candidates()] == []
    finally:
        await probe.close()


# --- Duet's own server-side peers --------------------------------------------------------------


def _relay_candidates(sdp: str) -> list[str]:
    return [
        line for line in sdp.splitlines() if line.startswith("a=candidate") and "typ relay" in line
    ]


@pytest.mark.usefixtures("loopback_ice")
async def test_precall_server_peer_relays_through_the_url_that_works(
    coturn: RunningService, turn_secret: str
) -> None:
    urls = _urls(coturn)
    browser = MediaPeer("browser", [])
    check = PrecallPeer([_server(turn_secret, [urls["dead-udp"], urls["tcp"]])])
    try:
        async with asyncio.timeout(10):
            answer = await check.answer(await browser.create_offer())
        # Before media/ice.py chose, aiortc tried the dead UDP URL only: no relay candidate.
        assert _relay_candidates(answer.sdp), answer.sdp
    finally:
        await check.close()
        await browser.close()


@pytest.mark.usefixtures("loopback_ice")
async def test_relay_room_relays_through_the_url_that_works(
    coturn: RunningService, turn_secret: str
) -> None:
    urls = _urls(coturn)
    answers: asyncio.Queue[str] = asyncio.Queue()

    def send(user_id: str, out: Outgoing) -> None:
        if isinstance(out, Description) and out.type == "answer":
            answers.put_nowait(out.sdp)

    room = RelayRoom(
        "chat-1", ("ada", "sam"), [_server(turn_secret, [urls["dead-udp"], urls["tcp"]])], send
    )
    ada = MediaPeer("ada", [])
    try:
        assert room.offer("ada", (await ada.create_offer()).sdp)
        async with asyncio.timeout(10):
            answer = await answers.get()
        assert _relay_candidates(answer), answer
    finally:
        await room.close()
        await ada.close()
