"""Prometheus metrics of one app: one `Metrics` object with its own registry, and `GET /metrics`.

docs/operations.md lists every series, its labels and a scrape configuration.

Cost (docs/performance.md, "Metrics"): nothing on the relay's hot path but the plain-int
counters the node already kept (`Switchboard.relayed`, `SignalingNode.stats`); a collector reads
them when Prometheus scrapes, as it counts rooms and sockets then. Histograms are observed per
join, per database transaction, per Redis batch, per pre-call check, per probe of the event
loop and per garbage collection, never per relayed message. Garbage-collection pauses go into
plain ints too (no lock inside a `gc.callbacks` callback, which runs wherever a collection
starts).

`/metrics` never goes through the REST middlewares (web/socket_lane.py): it has its own token,
which the JWT check would refuse. On the public port it is served only when `metrics_token` is
set, and then only with `Authorization: Bearer <metrics_token>`; `metrics_port` serves it on
127.0.0.1 without a token for a scraper on the same host.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import hmac
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Final

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from media.precall import PrecallService
from notifications.worker import MailWorker
from rooms.broker_redis import RedisBroker
from scheduling.db import observe_transactions
from signaling.close_codes import CloseCode
from signaling.node import CallQuality, SignalingNode
from signaling.ws import NODE
from web.config import Config
from web.keys import CONFIG, ENGINE, MAIL, PRECALL, WEBHOOKS
from web.webhook_worker import DeliveryWorker

__all__ = ["METRICS", "Metrics", "metrics_endpoint"]

# How often the event loop's lag is probed: a timer that should fire now, and how late it does.
LOOP_PROBE_EVERY_S: Final = 0.5
# Precall verdict aspects counted (media/precall.py `verdict`).
VERDICT_ASPECTS: Final = ("camera", "microphone", "connection")

LAG_BUCKETS: Final = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
DB_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
JOIN_BUCKETS: Final = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0)
LOOP_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
GC_BUCKETS: Final = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
RTT_BUCKETS: Final = (0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 1.0, 2.0)
LOSS_BUCKETS: Final = (0.0, 0.005, 0.01, 0.02, 0.05, 0.08, 0.1, 0.2, 0.5, 1.0)
JITTER_BUCKETS: Final = (0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5)


class PlainHistogram:
    """Cumulative-bucket counts in plain ints: observed without a lock, exported at scrape."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        cumulative, out = 0, []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            cumulative += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(cumulative)))
        return out


class _NodeCollector(Collector):
    """What the node, the relay and the broker count in plain ints, read at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        node = metrics.node
        yield _gc_family(metrics.gc_pauses)
        yield from _webhook_families(metrics.webhooks)
        if node is None:
            return
        info = GaugeMetricFamily("duet_node", "This node (value 1).", labels=["node_id"])
        info.add_metric([node.broker.node_id], 1)
        yield info
        sockets = {"json": 0, "msgpack": 0}
        chats = set()
        for (chat_id, _), conn in list(node.local.items()):
            sockets["msgpack" if conn.binary else "json"] += 1
            chats.add(chat_id)
        yield GaugeMetricFamily(
            "duet_rooms_open", "Chats with a joined socket on this node.", value=len(chats)
        )
        by_protocol = GaugeMetricFamily(
            "duet_sockets", "Joined sockets on this node, by subprotocol.", labels=["protocol"]
        )
        for protocol, count in sockets.items():
            by_protocol.add_metric([protocol], count)
        yield by_protocol
        yield CounterMetricFamily(
            "duet_joins", "Sockets admitted to their seat.", value=node.stats["joins"]
        )
        yield GaugeMetricFamily(
            "duet_event_streams",
            "Open Server-Sent Events streams on this node (live boards and people's own).",
            value=node.live.listeners,
        )
        refusals = CounterMetricFamily(
            "duet_join_refusals",
            "Sockets closed before they were admitted, by close code.",
            labels=["code", "reason"],
        )
        for code, count in sorted(node.refusals.items()):
            refusals.add_metric([str(code), _close_name(code)], count)
        yield refusals
        relayed = CounterMetricFamily(
            "duet_relayed_messages",
            "Messages relayed from one person to the other, by type.",
            labels=["type"],
        )
        for kind, count in node.board.relayed.items():
            relayed.add_metric([kind], count)
        yield relayed
        yield CounterMetricFamily(
            "duet_relayed_inline_messages",
            "Relayed messages handled as they were parsed (a part of duet_relayed_messages).",
            value=node.stats["inline"],
        )
        yield CounterMetricFamily(
            "duet_chat_messages_stored",
            "Side-chat messages stored (repeats of a client_msg_id not counted).",
            value=node.chat.stored,
        )
        relay = node.relay
        if relay is not None:
            yield GaugeMetricFamily(
                "duet_relay_rooms_open",
                "Relay-mode calls whose media this node forwards now.",
                value=relay.rooms_open,
            )
            yield CounterMetricFamily(
                "duet_relay_rooms_opened", "Relay-mode rooms opened.", value=relay.opened
            )
        broker = node.broker
        if isinstance(broker, RedisBroker):
            yield CounterMetricFamily(
                "duet_broker_dropped",
                "Notifications to other nodes dropped because the Redis outbox was full.",
                value=broker.dropped,
            )
        mail = metrics.mail
        if mail is not None:
            mails = CounterMetricFamily(
                "duet_mails",
                "Mails this node's worker handled, by outcome (sent; failed, to retry; "
                "dropped: no longer true, too old, or refused for good).",
                labels=["outcome"],
            )
            for outcome, count in mail.outcomes.items():
                mails.add_metric([outcome], count)
            yield mails
        precall = metrics.precall
        if precall is not None:
            yield GaugeMetricFamily(
                "duet_precall_checks_running",
                "Pre-call checks holding a server peer now.",
                value=precall.pool.size,
            )


def _webhook_families(worker: DeliveryWorker | None) -> Iterator[Metric]:
    if worker is None:
        return
    outcomes = CounterMetricFamily(
        "duet_webhook_deliveries",
        "Webhook delivery attempts this node made, by outcome: delivered (2xx), retry (failed, "
        "tried again later), failed (given up after 24 h).",
        labels=["outcome"],
    )
    for outcome, count in worker.outcomes.items():
        outcomes.add_metric([outcome], count)
    yield outcomes
    yield GaugeMetricFamily(
        "duet_webhook_deliveries_pending",
        "Webhook deliveries waiting to be sent or retried, all nodes together (the database's "
        "figure as this node last read it, at most about a second old).",
        value=worker.pending,
    )


def _close_name(code: int) -> str:
    try:
        return CloseCode(code).name.lower()
    except ValueError:
        return "other"


def _gc_family(pauses: dict[int, PlainHistogram]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        "duet_gc_pause_seconds",
        "Garbage-collection pauses (every collection: web/gc_policy.py's and CPython's own).",
        labels=["generation"],
    )
    for generation, histogram in pauses.items():
        family.add_metric([str(generation)], histogram.buckets(), histogram.total)
    return family


class Metrics:
    """The app's metrics; `context` (an aiohttp cleanup context, appended after the node's and
    the pre-call pool's) hooks them into the node, the engine, the broker and the pool, and
    starts the event-loop probe and the GC timing; all undone when the app stops."""

    def __init__(self, loop_probe_every_s: float = LOOP_PROBE_EVERY_S) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.loop_probe_every_s = loop_probe_every_s
        self.node: SignalingNode | None = None
        self.precall: PrecallService | None = None
        self.webhooks: DeliveryWorker | None = None
        self.mail: MailWorker | None = None
        registry = self.registry
        self.grant_to_joined = Histogram(
            "duet_join_grant_to_joined_seconds",
            "From the join endpoint's ticket grant to the socket admitted (the app's clock).",
            buckets=JOIN_BUCKETS,
            registry=registry,
        )
        self.broker_lag = Histogram(
            "duet_broker_lag_seconds",
            "Redis fan-out lag: publish (a batch's oldest payload to its PUBLISH done) and "
            "receive (the publisher's clock to this node's listener, per frame).",
            ["direction"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.db_transaction = Histogram(
            "duet_db_transaction_seconds",
            "Database transactions, from taking a connection to the commit or rollback.",
            ["kind"],
            buckets=DB_BUCKETS,
            registry=registry,
        )
        self.loop_lag = Histogram(
            "duet_event_loop_lag_seconds",
            "How late a timer of the event loop fires (probed every "
            f"{loop_probe_every_s:g} s): time the loop could not serve anyone.",
            buckets=LOOP_BUCKETS,
            registry=registry,
        )
        self.precall_verdicts = Counter(
            "duet_precall_verdicts",
            "Final pre-call verdicts, by aspect (camera, microphone, connection) and grade.",
            ["aspect", "grade"],
            registry=registry,
        )
        self.quality_rtt = Histogram(
            "duet_call_quality_rtt_seconds",
            "Client-reported round-trip time of calls, by media path.",
            ["path"],
            buckets=RTT_BUCKETS,
            registry=registry,
        )
        self.quality_loss = Histogram(
            "duet_call_quality_packet_loss_ratio",
            "Client-reported packet loss (0..1) of calls, by media path.",
            ["path"],
            buckets=LOSS_BUCKETS,
            registry=registry,
        )
        self.quality_jitter = Histogram(
            "duet_call_quality_jitter_seconds",
            "Client-reported jitter of calls, by media path.",
            ["path"],
            buckets=JITTER_BUCKETS,
            registry=registry,
        )
        self.quality_verdicts = Counter(
            "duet_call_quality_verdicts",
            "Client-reported call quality samples, by the server's verdict and media path.",
            ["verdict", "path"],
            registry=registry,
        )
        self.gc_pauses = {generation: PlainHistogram(GC_BUCKETS) for generation in (0, 1, 2)}
        self._gc_started = 0.0
        registry.register(_NodeCollector(self))
        # process_cpu_seconds_total (relay-mode calls' CPU is in it: docs/operations.md),
        # memory, open files; python_gc_* (collections and collected objects per generation).
        ProcessCollector(registry=registry)
        GCCollector(registry=registry)

    # --- what the node, the engine, the broker and the pool tell ---------------------------------

    def admitted(self, grant_to_join_s: float) -> None:
        self.grant_to_joined.observe(grant_to_join_s)

    def call_quality(self, sample: CallQuality) -> None:
        """One client-reported sample (the node's `call_quality`, for the `stats` message)."""
        path = sample.path
        if sample.rtt_s is not None:
            self.quality_rtt.labels(path).observe(sample.rtt_s)
        if sample.loss_ratio is not None:
            self.quality_loss.labels(path).observe(min(1.0, max(0.0, sample.loss_ratio)))
        if sample.jitter_s is not None:
            self.quality_jitter.labels(path).observe(sample.jitter_s)
        self.quality_verdicts.labels(sample.verdict, path).inc()

    def transaction(self, kind: str, seconds: float) -> None:
        self.db_transaction.labels(kind).observe(seconds)

    def broker(self, direction: str, seconds: float) -> None:
        self.broker_lag.labels(direction).observe(seconds)

    def verdict(self, report: dict[str, Any]) -> None:
        for aspect in VERDICT_ASPECTS:
            self.precall_verdicts.labels(aspect, str(report.get(aspect, "unknown"))).inc()

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            histogram = self.gc_pauses.get(info["generation"])
            if histogram is not None:
                histogram.observe(time.perf_counter() - self._gc_started)

    # --- lifecycle -------------------------------------------------------------------------------

    async def context(self, app: web.Application) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        undo: list[Callable[[], None]] = []
        self.node = app.get(NODE)
        if self.node is not None:
            node, previous = self.node, self.node.observer
            node.observer = self
            undo.append(lambda: setattr(node, "observer", previous))
            if isinstance(node.broker, RedisBroker):
                broker = node.broker
                broker.observe_lag = self.broker
                undo.append(lambda: setattr(broker, "observe_lag", None))
        if ENGINE in app:
            undo.append(observe_transactions(app[ENGINE], self.transaction))
        self.webhooks = app.get(WEBHOOKS)
        self.mail = app.get(MAIL)
        self.precall = app.get(PRECALL)
        if self.precall is not None:
            precall = self.precall
            precall.on_verdict = self.verdict
            undo.append(lambda: setattr(precall, "on_verdict", None))
        gc.callbacks.append(self._gc)
        undo.append(lambda: gc.callbacks.remove(self._gc))
        probe = _LoopProbe(loop, self.loop_probe_every_s, self.loop_lag.observe)
        undo.append(probe.stop)
        site = await self._loopback_site(app[CONFIG])
        try:
            yield
        finally:
            if site is not None:
                await site.cleanup()
            for step in reversed(undo):
                step()
            self.node = None
            self.precall = None
            self.webhooks = None
            self.mail = None

    async def _loopback_site(self, config: Config) -> web.AppRunner | None:
        """`metrics_port`: /metrics alone on 127.0.0.1, for a scraper on the same host."""
        if not config.metrics_port:
            return None

        async def scrape(_request: web.Request) -> web.StreamResponse:
            return self.response()

        side = web.Application()
        side.router.add_get("/metrics", scrape)
        runner = web.AppRunner(side, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", config.metrics_port).start()
        return runner

    def response(self) -> web.Response:
        return web.Response(
            body=generate_latest(self.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"},
        )


class _LoopProbe:
    """A timer every `every_s`; how late it fires is time the loop spent on something else."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, every_s: float, observe: Callable[[float], None]
    ) -> None:
        self._loop = loop
        self._every_s = every_s
        self._observe = observe
        self._due = loop.time() + every_s
        self._handle = loop.call_at(self._due, self._fire)

    def _fire(self) -> None:
        now = self._loop.time()
        self._observe(max(0.0, now - self._due))
        self._due = now + self._every_s
        self._handle = self._loop.call_at(self._due, self._fire)

    def stop(self) -> None:
        self._handle.cancel()


METRICS = web.AppKey("metrics", Metrics)


async def metrics_endpoint(request: web.Request) -> web.StreamResponse:
    """`GET /metrics` on the public port: only with `Authorization: Bearer <metrics_token>`."""
    token = request.app[CONFIG].metrics_token
    offered = request.headers.get("Authorization", "")
    if not token or not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return web.Response(
            status=401,
            text="Metrics need Authorization: Bearer <metrics_token>.\n",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
        )
    return request.app[METRICS].response()
