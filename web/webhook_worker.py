"""The delivery worker: every node sends the webhooks the outbox holds (scheduling/store_webhooks.py).

Each round claims due deliveries with a lease (one node sends a delivery at a time; a killed
node's claim runs out, and a node restarting under the same `node_id` gives its own back at
once), sends them side by side (at most one per chat and endpoint, so a chat's events arrive in
order), and writes each outcome while its lease holds. A failed attempt (no answer within
`webhook_timeout_s`, a refused connection, an answer other than 2xx, a URL the SSRF guard now
refuses) is tried again after an exponential backoff with jitter; 24 h after the delivery was
first due it is marked failed, and an organizer can send it again (the retry endpoint).

Times of the schedule (due, leases, give-up) come from the injected clock; the
`webhook-timestamp` a receiver checks against its own clock comes from the real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import aiohttp
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from scheduling import store_webhooks as store
from scheduling.clock import Clock, TimerHandle
from scheduling.db import read_tx, write_tx
from web.url_guard import GuardedResolver, UrlRefused, check_url
from web.webhook_signing import signed_headers

log = logging.getLogger("duet.webhooks")

BACKOFF_BASE_S: Final = 5.0
BACKOFF_CAP_S: Final = 3600.0
GIVE_UP_AFTER: Final = timedelta(hours=24)
BATCH: Final = 20
POLL_S: Final = 1.0  # how soon events written on other nodes (or by other tasks) are seen


def backoff(attempts: int, rand: Callable[[], float]) -> timedelta:
    """The wait after the `attempts`-th failed attempt: 5 s doubling up to an hour, each
    jittered by ±25 % so the receivers of one outage are not all retried at the same instant."""
    base = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * (0.75 + 0.5 * rand()))


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None
    error: str


class DeliveryWorker:
    """One node's sender; `start` and `close` in the app's cleanup context (web/app.py)."""

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        node_id: str,
        *,
        allow_private: bool = False,
        timeout_s: float = 10.0,
        poll_s: float = POLL_S,
        rand: Callable[[], float] = random.random,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.node_id = node_id
        self.allow_private = allow_private
        self.timeout_s = timeout_s
        # Longer than any attempt can take, so a live node's claim never runs out under it.
        self.lease = timedelta(seconds=3 * timeout_s + 10)
        self.poll_s = poll_s
        self.rand = rand
        self.wall = wall
        # Read by web/metrics.py at scrape time: attempts by outcome, and pending deliveries.
        self.outcomes = {"delivered": 0, "retry": 0, "failed": 0}
        self.pending = 0
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._timer: TimerHandle | None = None
        self._round = asyncio.Lock()

    async def start(self, *, background: bool = True) -> None:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self.allow_private), limit=50)
        self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        async with write_tx(self.engine) as conn:
            released = await store.release_leases(conn, self.node_id)
        if released:
            log.warning(
                "gave back %d webhook deliveries this node held before it stopped", released
            )
        if background:
            self._task = asyncio.create_task(self._run(), name="webhook-worker")

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    def kick(self) -> None:
        """Look for due deliveries now (an event was just written)."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.run_once()
            except Exception:
                log.exception("webhook round failed; trying again shortly")
                sent = 0
            if not sent:
                await self._idle()

    async def _idle(self) -> None:
        """Sleep until kicked, until the earliest retry is due (the clock's timer), or
        `poll_s` (other nodes' events)."""
        with contextlib.suppress(Exception):
            async with read_tx(self.engine) as conn:
                due = await store.next_due(conn)
                self.pending = await store.pending_count(conn)
            if due is not None and due > self.clock.now():
                if self._timer is not None:
                    self._timer.cancel()
                self._timer = self.clock.call_at(due, self._wake.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll_s)
        self._wake.clear()

    async def run_once(self) -> int:
        """One round: claim, send, record. Returns how many deliveries it attempted."""
        async with self._round:
            now = self.clock.now()
            async with write_tx(self.engine) as conn:
                claimed = await store.claim(conn, self.node_id, now, self.lease, BATCH)
            if not claimed:
                return 0
            outcomes = await asyncio.gather(*(self._send(c) for c in claimed))
            now = self.clock.now()
            async with write_tx(self.engine) as conn:
                for delivery, outcome in zip(claimed, outcomes, strict=True):
                    await self._finish(conn, delivery, outcome, now)
                self.pending = await store.pending_count(conn)
            return len(claimed)

    async def drain(self) -> int:
        """Rounds until nothing is due now (tests; the background loop does the same)."""
        total = 0
        while sent := await self.run_once():
            total += sent
        return total

    async def _finish(
        self, conn: AsyncConnection, delivery: store.Claimed, outcome: Outcome, now: datetime
    ) -> None:
        if outcome.ok:
            status, due, kind = store.DELIVERED, None, "delivered"
        else:
            due = now + backoff(delivery.attempts, self.rand)
            if due > delivery.first_due_at + GIVE_UP_AFTER:
                status, due, kind = store.FAILED, None, "failed"
            else:
                status, kind = store.PENDING, "retry"
        held = await store.finish(
            conn,
            delivery,
            status=status,
            now=now,
            http_status=outcome.status,
            error=outcome.error,
            next_attempt_at=due,
        )
        if held:
            self.outcomes[kind] += 1
            if kind != "delivered":
                log.info(
                    "webhook %s to endpoint %s: attempt %d failed (%s)%s",
                    delivery.message_id,
                    delivery.endpoint_id,
                    delivery.attempts,
                    outcome.error,
                    "; giving up" if kind == "failed" else "",
                )
        else:
            log.warning("webhook %s: our claim ran out before it was sent", delivery.message_id)

    async def _send(self, delivery: store.Claimed) -> Outcome:
        assert self._session is not None, "start() first"
        try:
            await check_url(delivery.url, self.allow_private)  # DNS may have changed
            timestamp = int(self.wall().timestamp())
            headers = signed_headers(
                delivery.secret, delivery.message_id, timestamp, delivery.payload
            )
            async with self._session.post(
                delivery.url,
                data=delivery.payload.encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                allow_redirects=False,  # a redirect could lead anywhere the guard refuses
            ) as resp:
                await resp.content.read(4096)
                if 200 <= resp.status < 300:
                    return Outcome(True, resp.status, "")
                return Outcome(False, resp.status, f"answered {resp.status}")
        except UrlRefused as exc:
            return Outcome(False, None, f"refused: {exc}")
        except TimeoutError:
            return Outcome(False, None, f"no answer within {self.timeout_s:g} s")
        except aiohttp.ClientError as exc:
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300])
