"""ICE server description shared by the REST API (browser) and aiortc peers (server side).

aiortc falls back to a public Google STUN server when ``iceServers`` is left unset, which would
leak every call's addresses to a third party; everything here therefore always passes an
explicit list, empty when Duet has no servers configured.

aiortc (aioice) uses only the first TURN URL it is given, where a browser tries them all: with
``turn:…?transport=udp`` first, an aiortc peer behind a firewall that drops UDP gets no relay
candidate at all, however many TCP or TLS URLs follow. So every aiortc peer of Duet's (pre-call
check, relay) and of the tests asks ``reachable_turn_first`` before it builds its connection.
It tries each TURN URL with a real Allocate, all at once, and puts first the best one that
worked: UDP, then TCP, then TLS (cheapest transport first; the configured order only breaks
ties). It waits at most ``grace_s`` after the first success for a better transport (the "Happy
Eyeballs" rule of RFC 8305), so a transport that a firewall drops costs a fraction of a second,
not aioice's retransmission timeout. It is decided per peer because each peer's network is its
own; browsers need none of it and get the list as configured. When no URL works the list is
returned unchanged and a warning names each URL's error (an untrusted ``turns:`` certificate,
which aioice otherwise fails on silently, shows up there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from aioice.turn import TurnClientTcpProtocol, TurnClientUdpProtocol
from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy
from aiortc.rtcicetransport import parse_stun_turn_uri

__all__ = ["IceServer", "TurnUrl", "reachable_turn_first", "rtc_configuration", "turn_urls"]

log = logging.getLogger("duet.media.ice")

# Cheapest transport first: UDP carries media without head-of-line blocking, TLS costs the most.
TRANSPORT_RANK: Final = {"udp": 0, "tcp": 1, "tls": 2}
GRACE_S: Final = 0.5  # after a success, how long a better transport may still answer
WITHIN_S: Final = 4.0  # longest wait for any answer (aioice itself gives TURN 5 s)
_PROBE_LIFETIME_S: Final = 600  # requested lifetime; the probe deletes its allocation at once


@dataclass(frozen=True, slots=True)
class IceServer:
    """One STUN/TURN server with its (possibly short-lived) credentials.

    Frozen so a minted credential cannot be altered after it was signed.
    """

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def __post_init__(self) -> None:
        # Accept any sequence but store a tuple, so the value stays hashable and immutable.
        object.__setattr__(self, "urls", tuple(self.urls))
        if not self.urls:
            raise ValueError("an ICE server needs at least one URL")

    def to_json(self) -> dict[str, Any]:
        """The browser's ``RTCIceServer`` dictionary, ready for ``new RTCPeerConnection``."""
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out

    def to_aiortc(self) -> RTCIceServer:
        """The same server for aiortc, which uses only the first TURN URL (see the module doc)."""
        return RTCIceServer(
            urls=list(self.urls), username=self.username, credential=self.credential
        )


@dataclass(frozen=True, slots=True)
class TurnUrl:
    """A TURN URL as aiortc reads it: where to connect and over what."""

    url: str
    host: str
    port: int
    transport: str  # "udp" | "tcp" | "tls"

    @property
    def rank(self) -> int:
        return TRANSPORT_RANK[self.transport]


def turn_urls(server: IceServer) -> list[TurnUrl]:
    """The TURN URLs of ``server`` that aiortc can use, in configured order.

    Parsed with aiortc's own parser and filtered by its own rules (``turn:`` over UDP or TCP,
    ``turns:`` over TCP), so the choice below is among URLs aiortc would actually take.
    """
    found = []
    for url in server.urls:
        try:
            parsed = parse_stun_turn_uri(url)
        except ValueError:
            continue
        scheme, transport = parsed["scheme"], parsed.get("transport")
        if scheme == "turn" and transport in ("udp", "tcp"):
            found.append(TurnUrl(url, parsed["host"], parsed["port"], transport))
        elif scheme == "turns" and transport == "tcp":
            found.append(TurnUrl(url, parsed["host"], parsed["port"], "tls"))
    return found


async def _allocate_and_release(url: TurnUrl, username: str, password: str) -> None:
    """One Allocate exactly as aioice makes it (same classes, same TLS check), then a delete.

    aioice verifies ``turns:`` with Python's default SSL context and the URL's host as the
    server name, so a certificate the system does not trust fails here as it would there.
    """
    loop = asyncio.get_running_loop()
    protocol: TurnClientTcpProtocol | TurnClientUdpProtocol
    transport: asyncio.BaseTransport
    server = (url.host, url.port)
    if url.transport == "udp":
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: TurnClientUdpProtocol(
                server,
                username=username,
                password=password,
                lifetime=_PROBE_LIFETIME_S,
                channel_refresh_time=_PROBE_LIFETIME_S,
            ),
            remote_addr=server,
        )
    else:
        transport, protocol = await loop.create_connection(
            lambda: TurnClientTcpProtocol(
                server,
                username=username,
                password=password,
                lifetime=_PROBE_LIFETIME_S,
                channel_refresh_time=_PROBE_LIFETIME_S,
            ),
            host=url.host,
            port=url.port,
            ssl=url.transport == "tls",
        )
    try:
        await protocol.connect()
    except BaseException:
        transport.close()
        raise
    await protocol.delete()  # frees the relay port and the user-quota place; closes the socket


def _put_first(servers: Sequence[IceServer], chosen: IceServer, url: str) -> list[IceServer]:
    """``servers`` with ``url`` as the first URL of all (aiortc's pick), nothing else dropped."""
    first = IceServer(
        (url, *(u for u in chosen.urls if u != url)), chosen.username, chosen.credential
    )
    return [first, *(s for s in servers if s is not chosen)]


async def reachable_turn_first(
    servers: Sequence[IceServer], *, grace_s: float = GRACE_S, within_s: float = WITHIN_S
) -> list[IceServer]:
    """``servers`` reordered so that aiortc's only TURN URL is the best one that works from here.

    Every TURN URL gets a real Allocate (then an immediate delete), concurrently. The best
    transport that succeeded wins; after the first success, a better one has ``grace_s`` more
    to answer. With one TURN URL or none there is nothing to choose and nothing is sent.
    """
    options = [(url, server) for server in servers for url in turn_urls(server)]
    if len(options) < 2:
        return list(servers)
    order = sorted(range(len(options)), key=lambda i: (options[i][0].rank, i))
    ranked = [options[i] for i in order]
    loop = asyncio.get_running_loop()
    tasks = {
        asyncio.create_task(
            _allocate_and_release(url, server.username or "", server.credential or ""),
            name=f"turn-probe-{url.url}",
        ): position
        for position, (url, server) in enumerate(ranked)
    }
    pending = set(tasks)
    errors: dict[str, str] = {}
    best: int | None = None
    deadline = loop.time() + within_s
    try:
        while pending:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            done, pending = await asyncio.wait(
                pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                position = tasks[task]
                error = task.exception()
                if error is None:
                    best = position if best is None else min(best, position)
                else:
                    errors[ranked[position][0].url] = repr(error)
            if best is not None:
                if all(tasks[task] > best for task in pending):
                    break  # nothing better is still trying
                deadline = min(deadline, loop.time() + grace_s)
    finally:
        # The losers are still connecting or allocating. A TCP/TLS allocation ends with its
        # connection; a UDP one caught between coturn's answer and ours lives out its lifetime.
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    if best is None:
        timed_out = [url.url for url, _ in ranked if url.url not in errors]
        log.warning(
            "no TURN URL could allocate a relay within %.1fs (errors: %s; no answer: %s); "
            "keeping the configured order",
            within_s,
            errors or "none",
            timed_out or "none",
        )
        return list(servers)
    url, server = ranked[best]
    if errors:
        log.info("TURN %s chosen; these failed: %s", url.url, errors)
    return _put_first(servers, server, url.url)


def rtc_configuration(
    servers: Sequence[IceServer], *, relay_only: bool = False
) -> RTCConfiguration:
    """Build an aiortc configuration that never falls back to a public STUN server.

    ``relay_only`` forces all media through TURN (no host candidates are even gathered), which
    hides the server's own addresses from the remote side. Order ``servers`` with
    ``reachable_turn_first`` first: aiortc takes the first TURN URL only.
    """
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(
        iceServers=[server.to_aiortc() for server in servers], iceTransportPolicy=policy
    )
