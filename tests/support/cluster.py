"""Three `duet serve` nodes, Redis, one database and HAProxy (from `deploy/haproxy.cfg`), all on
loopback, and clients that behave like the browser's when a node goes away.

What the browser does and the test clients copy (web/static/js/call/signaling_socket.js): every
socket gets a fresh ticket from `POST /chats/{id}/join` at the load balancer and opens the
`ws_url` the grant names; a socket that ends without a final close code is reconnected after
the browser's backoff (0.5 s, 1 s, 2 s, ... its jitter left out) with `resume`; a chat message
keeps its `client_msg_id` and is sent again after a reconnect until its `chat_ack` arrives.

Every process is started by us and stopped by its PID (`Cluster.stop`), even when a test fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import msgpack
import redis.asyncio as redis

from rooms.broker import SeatRecord
from signaling import messages as m
from tests.support.apiclient import Person
from tests.support.duet_nodes import DuetNode, launch_node, migrate_database, poll, wait_ready
from tests.support.haproxy import HAProxy, start_haproxy
from tests.support.live_rest import RestApi
from tests.support.media_client import Dialer, MediaClient
from tests.support.peers import FrameCounter
from tests.support.services import RunningService

__all__ = [
    "ChatLedger",
    "Cluster",
    "FrameTimes",
    "Outage",
    "Reconnector",
    "browser_backoff",
]

NODE_IDS = ("node-1", "node-2", "node-3")
# HAProxy's checks (deploy/haproxy.cfg: rise 2, downinter 1s) take a restarted node back within
# ~1.5 s; a loaded 2-core machine gets the rest.
BACKEND_WITHIN = 15.0
STOP_WITHIN = 15.0  # SIGTERM to exit: the node's own bound is 10 s (web/cli.py)

# signaling_socket.js: codes after which the browser gives up, and ticket codes it retries once
# at once; every other close (1006 included) is retried with backoff.
FINAL_CLOSES = frozenset({1003, 1008, 1009, 4005, 4006, 4007, 4008, 4009, 4010, 4012})
TICKET_CLOSES = frozenset({4001, 4002, 4003})


def browser_backoff(attempt: int) -> float:
    """signaling_socket.js `backoffDelay` with its random factor at its middle (1.0)."""
    return min(10.0, 0.5 * 2**attempt)


class DialFailed(ConnectionError):
    """The join endpoint answered with an error the browser retries (5xx, or no answer)."""


@dataclass
class Cluster:
    """The nodes, Redis, the database and HAProxy of one test."""

    workdir: Path
    secret: str
    database_url: str
    redis: RunningService
    session: aiohttp.ClientSession
    nodes: dict[str, DuetNode] = field(default_factory=dict)
    proxy: HAProxy | None = None

    async def start(self, node_ids: Iterable[str] = NODE_IDS) -> None:
        """Migrations first, then the nodes (together), then HAProxy: docs/deploy.md's order."""
        await migrate_database(self.database_url, self.workdir)
        for node_id in node_ids:
            self.nodes[node_id] = self._launch(node_id)
        await asyncio.gather(*(wait_ready(self.session, node) for node in self.nodes.values()))
        self.proxy = start_haproxy(
            self.workdir, [(node_id, node.port) for node_id, node in self.nodes.items()]
        )
        await self.wait_backends(dict.fromkeys(self.nodes, "UP"))

    def _launch(self, node_id: str, port: int | None = None) -> DuetNode:
        return launch_node(
            node_id,
            self.workdir,
            self.secret,
            self.database_url,
            redis_port=self.redis.port,
            port=port,
        )

    def stop(self) -> None:
        """Every process we started, by PID: HAProxy first, then the nodes."""
        if self.proxy is not None:
            self.proxy.stop()
        for node in self.nodes.values():
            node.stop()

    @property
    def haproxy(self) -> HAProxy:
        assert self.proxy is not None, "Cluster.start() first"
        return self.proxy

    def api(self) -> RestApi:
        """The REST API as clients reach it: through HAProxy's TLS listener only."""
        return RestApi(self.session, self.haproxy.url, self.secret, self.haproxy.ssl_context())

    def dialer(self, person: Person, chat_id: str) -> Dialer:
        """A fresh ticket through HAProxy, then the socket at the `ws_url` the grant names."""
        api = self.api()
        expected = f"wss://127.0.0.1:{self.haproxy.https_port}/api/v1/ws"

        async def dial() -> tuple[aiohttp.ClientWebSocketResponse, str]:
            status, grant = await api.request(person, "POST", f"/api/v1/chats/{chat_id}/join")
            if status >= 500:
                raise DialFailed(f"join endpoint answered {status}: {grant!r:.300}")
            assert status == 200, f"join refused: {status} {grant!r:.300}"
            # X-Forwarded-Proto from HAProxy makes it wss, Host keeps HAProxy's address.
            assert grant["ws_url"] == expected, grant["ws_url"]
            ws = await api.session.ws_connect(
                grant["ws_url"], protocols=(m.SUBPROTOCOL_JSON,), ssl=api.ssl
            )
            return ws, grant["ticket"]

        return dial

    # --- nodes dying and coming back --------------------------------------------------------

    async def kill(self, node_id: str) -> float:
        """SIGKILL by PID (no goodbye to anyone); the monotonic time it was sent."""
        node = self.nodes[node_id]
        killed_at = time.monotonic()
        os.kill(node.process.pid, signal.SIGKILL)
        await asyncio.to_thread(node.process.wait, STOP_WITHIN)
        return killed_at

    async def restart(self, node_id: str) -> None:
        """A rolling upgrade's step: SIGTERM, wait for the exit, start again on the same port,
        wait until it is ready and HAProxy sends it traffic again."""
        node = self.nodes[node_id]
        os.kill(node.process.pid, signal.SIGTERM)
        code = await asyncio.to_thread(node.process.wait, STOP_WITHIN)
        assert code == 0, f"{node_id} exited with {code} on SIGTERM:\n{node.output()}"
        self.nodes[node_id] = self._launch(node_id, port=node.port)
        await wait_ready(self.session, self.nodes[node_id])
        await self.wait_backends({node_id: "UP"})

    async def wait_backends(self, expected: dict[str, str], within: float = BACKEND_WITHIN) -> None:
        """Until HAProxy's checks report these states (e.g. {"node-2": "UP"})."""

        async def reached() -> bool:
            states = await self.haproxy.server_states()
            return all(states.get(name) == state for name, state in expected.items())

        await poll(reached, within, f"HAProxy backends {expected}", every=0.1)

    async def seats(self, chat_id: str, people: Iterable[Person]) -> dict[str, SeatRecord]:
        """The seat directory in Redis: who of ``people`` sits on which node right now."""
        client = redis.Redis(host=self.redis.host, port=self.redis.port)
        try:
            found = {}
            for person in people:
                data = await client.hget(f"duet:seat:{chat_id}:{person.id}", "data")
                if data is not None:
                    found[person.id] = SeatRecord.from_dict(msgpack.unpackb(data))
            return found
        finally:
            await client.aclose()

    def logs(self) -> str:
        parts = [f"--- {node_id} log ---\n{node.output()}" for node_id, node in self.nodes.items()]
        if self.proxy is not None:
            tail = "\n".join(self.proxy.output().splitlines()[-60:])
            parts.append(f"--- haproxy ---\n{tail}")
        return "\n".join(parts)


# --- clients that come back -------------------------------------------------------------------


@dataclass(frozen=True)
class Outage:
    """One signaling outage of one client: its socket ended, and it joined again."""

    closed_at: float  # monotonic
    close_code: int
    joined_at: float
    attempts: int
    errors: tuple[str, ...]


class Reconnector:
    """Brings a MediaClient back after its socket ends, as the browser does: backoff, a fresh
    ticket each attempt, `resume` with the last `seq` it saw. Final close codes end it."""

    def __init__(self, client: MediaClient, *, within: float = 60.0) -> None:
        self.client = client
        self.within = within
        self.outages: list[Outage] = []
        self.final_code: int | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> Reconnector:
        self._task = asyncio.create_task(self._run(), name=f"reconnect-{self.client.name}")
        return self

    @property
    def connected(self) -> bool:
        return self.client.joined is not None and self.client.close_code is None

    async def _run(self) -> None:
        client = self.client
        while True:
            await client.wait_until(lambda: client.close_code is not None, 3600.0, "a close")
            closed_at, code = time.monotonic(), client.close_code
            assert code is not None
            if code in FINAL_CLOSES:
                self.final_code = code
                self._changed.set()
                return
            errors: list[str] = []
            attempt = 0
            delay = 0.0 if code in TICKET_CLOSES else browser_backoff(0)
            while True:
                # The browser's backoff before a reconnect: real time, as a browser would wait.
                await asyncio.sleep(delay)
                attempt += 1
                try:
                    await client.connect(resume=True, within=10.0)
                    break
                except (aiohttp.ClientError, ConnectionError, TimeoutError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")
                    if time.monotonic() - closed_at > self.within:
                        raise AssertionError(
                            f"{client.name}: no rejoin within {self.within}s: {errors}"
                        ) from exc
                    delay = browser_backoff(attempt)
            self.outages.append(Outage(closed_at, code, time.monotonic(), attempt, tuple(errors)))
            self._changed.set()

    async def wait_outages(self, count: int, within: float) -> Outage:
        """Until ``count`` outages have ended in a rejoin; the last of them."""
        async with asyncio.timeout(within):
            while len(self.outages) < count:
                self.check()
                self._changed.clear()
                await self._changed.wait()
        return self.outages[count - 1]

    def check(self) -> None:
        """Raise what went wrong in the background (a failed reconnect, a final close)."""
        if self._task is not None and self._task.done() and not self._task.cancelled():
            exc = self._task.exception()
            if exc is not None:
                raise exc
        assert self.final_code is None, f"{self.client.name}: final close {self.final_code}"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass(frozen=True)
class Sent:
    sender: str
    text: str
    seq: int


class ChatLedger:
    """Chat sent as the browser sends it, and every message acknowledged so far.

    A message keeps its `client_msg_id` and goes out again on the next socket when its socket
    ended before the `chat_ack`: the server stores it once (same sender, same id), so an
    acknowledged message must then appear exactly once everywhere.
    """

    def __init__(self) -> None:
        self.acked: dict[str, Sent] = {}
        self.written: set[str] = set()  # texts sent at least once (acknowledged or not)
        self._wrote = asyncio.Event()

    async def wait_written(self, text: str, within: float) -> None:
        """Until ``text`` went out once: a message in flight, its ack not yet back."""
        async with asyncio.timeout(within):
            while text not in self.written:
                self._wrote.clear()
                await self._wrote.wait()

    async def send(self, client: MediaClient, sender: Person, text: str, within: float) -> Sent:
        client_msg_id = uuid.uuid4().hex
        async with asyncio.timeout(within):
            while client_msg_id not in client.acks:
                await client.wait_until(
                    lambda: client.joined is not None and client.close_code is None,
                    within,
                    "a joined socket to send on",
                )
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await client.send(m.ChatSend(client_msg_id=client_msg_id, text=text))
                self.written.add(text)
                self._wrote.set()
                await client.wait_until(
                    lambda: client_msg_id in client.acks or client.close_code is not None,
                    within,
                    f"chat_ack for {text!r}",
                )
        sent = Sent(sender.id, text, client.acks[client_msg_id].seq)
        self.acked[client_msg_id] = sent
        return sent

    def missing_or_repeated(self, seen: Iterable[tuple[str, int]]) -> dict[str, str]:
        """For (client_msg_id, seq) pairs one party saw: acknowledged messages not seen exactly
        once with their acknowledged seq, and any seq seen twice."""
        pairs = list(seen)
        by_id = Counter(cid for cid, _ in pairs)
        problems = {
            cid: f"{sent.text!r} seen {by_id[cid]} times"
            for cid, sent in self.acked.items()
            if by_id[cid] != 1
        }
        problems |= {
            cid: f"{self.acked[cid].text!r} seen with seq {seq}, acknowledged {self.acked[cid].seq}"
            for cid, seq in pairs
            if cid in self.acked and seq != self.acked[cid].seq
        }
        repeated = [seq for seq, n in Counter(seq for _, seq in pairs).items() if n > 1]
        if repeated:
            problems["seq"] = f"seqs seen more than once: {sorted(repeated)}"
        return problems


class FrameTimes:
    """When each frame of one remote track was decoded (monotonic), from now on."""

    def __init__(self, counter: FrameCounter) -> None:
        self.counter = counter
        self.times: list[float] = []
        self._task = asyncio.create_task(self._watch(), name="frame-times")

    async def _watch(self) -> None:
        seen = self.counter.count
        while True:
            try:
                await self.counter.wait_for(seen + 1, 3600.0)
            except AssertionError:
                return  # the track ended (its peer connection was replaced)
            now, count = time.monotonic(), self.counter.count
            self.times.extend([now] * (count - seen))
            seen = count

    def between(self, start: float, end: float) -> int:
        return sum(1 for t in self.times if start < t < end)

    def longest_gap(self, start: float, end: float) -> float:
        """The longest stretch without a decoded frame inside [start, end]."""
        inside = [start, *(t for t in self.times if start < t < end), end]
        return max(b - a for a, b in itertools.pairwise(inside))

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
