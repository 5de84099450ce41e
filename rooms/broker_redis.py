"""The Redis broker: seats in Redis hashes with TTLs, one pub/sub channel per node.

Measured here (docs/performance.md): awaiting one
PUBLISH per message collapses near 3.7k msgs/s, so a single task publishes in pipelined batches
from a bounded queue, and each batch sends one frame per destination node: a msgpack array of
the payloads, so redis-py's per-message costs on both sides are paid once per batch. The listener reconnects with backoff after Redis restarts and then asks the
node to write its live seats back, since a restarted Redis remembers nothing.

A frame is `[sent_at, [payload, ...]]`, `sent_at` the publisher's wall clock when it published,
so the receiver can tell how late frames arrive (`observe_lag`, web/metrics.py); nodes of
different versions never share one Redis (docs/operations.md), so the format keeps no older one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Collection, Mapping, Sequence

import msgpack
import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import RedisError

from rooms.broker import BrokerUnavailable, Deliver, JoinLookup, OnReconnect, SeatKey, SeatRecord

log = logging.getLogger("duet.broker.redis")

# How long a closing node waits for its outbox to be published.
CLOSE_FLUSH_S = 2.0
# How long a node trusts the epoch it read (rooms/broker.py `epoch`) before reading it again.
EPOCH_CACHE_S = 1.0
OUTBOX_LIMIT = 50_000
BATCH = 512
# The publisher waits this long after a batch's first payload so the batch can fill: at 5,000
# cross-node msgs/s this cut the two nodes' CPU per message by ~30% for ~1.5 ms more latency.
LINGER_S = 0.002
# ("publish" | "receive", seconds): publish is a batch's oldest payload from `post` to its
# PUBLISH done; receive is a frame from its publisher's clock to this node's listener.
LagObserver = Callable[[str, float], None]
_BACKOFF = ExponentialWithJitterBackoff(base=0.05, cap=1.0)
_DELETE_IF_CONN = """
if redis.call('HGET', KEYS[1], 'conn') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_EXPIRE_IF_CONN = """
if redis.call('HGET', KEYS[1], 'conn') == ARGV[1] then
  return redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class RedisBroker:
    def __init__(self, url: str, node_id: str, prefix: str = "duet") -> None:
        self.node_id = node_id
        self._prefix = prefix
        # A blocking pool: under load the default pool raises MaxConnectionsError and loses work.
        # Commands retry on a fresh connection: after a Redis restart every pooled connection is
        # dead, and without retries each one's next command fails (redis-py's pool default is 0).
        self._pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=32, timeout=5, retry=Retry(_BACKOFF, 3)
        )
        self._redis = redis.Redis(connection_pool=self._pool)
        # The subscriber must NOT retry: redis-py would silently reconnect and resubscribe, and
        # we would never learn that Redis restarted empty and our seats need writing back.
        self._sub_pool = redis.ConnectionPool.from_url(url, retry=Retry(NoBackoff(), 0))
        self._sub = redis.Redis(connection_pool=self._sub_pool)
        # (channel, payload, when it was posted: time.monotonic(), None), or for a live board
        # record (the records' hash, payload, when, (its key, the hash's TTL in seconds))
        self._outbox: asyncio.Queue[tuple[str, bytes, float, tuple[str, int] | None]] = (
            asyncio.Queue(OUTBOX_LIMIT)
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._deliver: Deliver | None = None
        self._deliver_live: Deliver | None = None
        self._on_reconnect: OnReconnect | None = None
        self._delete_script = self._redis.register_script(_DELETE_IF_CONN)
        self._refresh_script = self._redis.register_script(_EXPIRE_IF_CONN)
        self.dropped = 0
        self.observe_lag: LagObserver | None = None
        self._epoch: str | None = None
        self._idle = asyncio.Event()  # the outbox is empty and nothing is being published
        self._idle.set()
        self._epoch_at = 0.0

    def _channel(self, node_id: str) -> str:
        return f"{self._prefix}:node:{node_id}"

    @property
    def _live_channel(self) -> str:
        return f"{self._prefix}:live"

    def _seat_key(self, chat_id: str, user_id: str) -> str:
        return f"{self._prefix}:seat:{chat_id}:{user_id}"

    async def start(self, deliver: Deliver, on_reconnect: OnReconnect | None = None) -> None:
        self._deliver = deliver
        self._on_reconnect = on_reconnect
        subscribed = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._listen(subscribed), name=f"redis-listen-{self.node_id}"),
            asyncio.create_task(self._publish_loop(), name=f"redis-publish-{self.node_id}"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(subscribed.wait(), 10)

    async def close(self) -> None:
        # A stopping node's last news (the peer_reconnecting of every socket it just closed)
        # is still in the outbox: send it before the publisher goes, for at most a moment.
        if self._tasks and not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), CLOSE_FLUSH_S)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._redis.aclose()
        await self._pool.aclose()
        await self._sub.aclose()
        await self._sub_pool.aclose()

    async def _listen(self, subscribed: asyncio.Event) -> None:
        delay = 0.1
        rewrite = False  # after any lost subscription, Redis may have restarted empty
        while True:
            pubsub = self._sub.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel(self.node_id), self._live_channel)
                live = self._live_channel.encode()
                subscribed.set()
                if rewrite:
                    self._epoch = None  # Redis may be a new one: read (or set) its epoch again
                    if self._on_reconnect is not None:
                        await self._on_reconnect()
                rewrite = False
                delay = 0.1
                # `listen()`, not `get_message(timeout=...)` in a loop: no timeout context per
                # message (~10-30 µs each here); a lost connection still raises at once.
                async for message in pubsub.listen():
                    target = self._deliver_live if message["channel"] == live else self._deliver
                    if target is not None:
                        await self._deliver_frame(message["data"], target)
            except (RedisError, OSError, BrokerUnavailable) as exc:
                # BrokerUnavailable: rewriting the seats failed; resubscribe and rewrite again.
                rewrite = True
                log.warning("redis listener lost (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py 8.1 leaves it unannotated

    async def _deliver_frame(self, frame: bytes, deliver: Deliver) -> None:
        """One published frame carries every payload a node had for us in one batch (a msgpack
        array). One bad payload, or frame, must not end the listener: the node would go deaf
        to other nodes."""
        try:
            sent_at, payloads = msgpack.unpackb(frame)
            if not isinstance(sent_at, float) or not isinstance(payloads, list):
                raise TypeError("a frame is [sent_at, [payload, ...]]")
        except Exception:
            log.exception("could not read a frame from redis; dropped it")
            return
        if self.observe_lag is not None:
            self.observe_lag("receive", max(0.0, time.time() - sent_at))
        for payload in payloads:
            try:
                await deliver(payload)
            except Exception:
                log.exception("could not deliver a payload from redis; dropped it")

    async def _publish_loop(self) -> None:
        delay = 0.1
        while True:
            batch = [await self._outbox.get()]
            await asyncio.sleep(LINGER_S)
            while len(batch) < BATCH and not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            # One PUBLISH per destination node per batch, not per message: redis-py's cost per
            # command and per received message was most of a cross-node hop (docs/performance.md).
            # The live board's records ride along, written before the news that announces them.
            frames: dict[str, list[bytes]] = {}
            records: dict[str, dict[str, bytes]] = {}
            ttls: dict[str, int] = {}
            for channel, payload, _, record in batch:
                if record is None:
                    frames.setdefault(channel, []).append(payload)
                else:
                    key, ttl_s = record
                    records.setdefault(channel, {})[key] = payload  # the latest per key
                    ttls[channel] = max(ttls.get(channel, 0), ttl_s)
            while True:
                try:
                    sent_at = time.time()
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for name, mapping in records.items():
                            pipe.hset(name, mapping=mapping)  # type: ignore[arg-type]  # bytes values
                            pipe.expire(name, ttls[name])
                        for channel, payloads in frames.items():
                            pipe.publish(channel, msgpack.packb([sent_at, payloads]))
                        await pipe.execute()
                    delay = 0.1
                    if self.observe_lag is not None:
                        self.observe_lag("publish", time.monotonic() - batch[0][2])
                    if self._outbox.empty():
                        self._idle.set()
                    break
                except (RedisError, OSError) as exc:
                    log.warning("redis publish failed (%s); retrying in %.1fs", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)

    async def send(self, node_id: str, payload: bytes) -> None:
        if node_id == self.node_id and self._deliver is not None:
            await self._deliver(payload)  # same node: no Redis hop
            return
        self.post(node_id, payload)

    def post(self, node_id: str, payload: bytes) -> None:
        self._idle.clear()
        try:
            self._outbox.put_nowait((self._channel(node_id), payload, time.monotonic(), None))
        except asyncio.QueueFull:
            self.dropped += 1  # notification only: the data is in the database
            log.error("redis outbox full; dropped a notification to %s", node_id)

    async def listen_live(self, deliver: Deliver) -> None:
        self._deliver_live = deliver

    async def publish_live(self, payload: bytes) -> None:
        """Through the outbox like node-to-node payloads (batched per channel); every node,
        this one included, hears it on the live channel."""
        self._idle.clear()
        try:
            self._outbox.put_nowait((self._live_channel, payload, time.monotonic(), None))
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("redis outbox full; dropped live board news")

    async def put_live(self, key: str, payload: bytes, ttl_s: int) -> None:
        """Through the outbox as well: the record is written in the publisher's next pipeline,
        before the news `publish_live` sends after it (no round trip of its own per join)."""
        self._idle.clear()
        try:
            self._outbox.put_nowait(
                (f"{self._prefix}:live:records", payload, time.monotonic(), (key, ttl_s))
            )
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("redis outbox full; dropped a live board record")

    async def live_records(self) -> list[bytes]:
        try:
            found = await self._redis.hvals(f"{self._prefix}:live:records")
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc
        return [v.encode() if isinstance(v, str) else v for v in found]

    async def put_seat(self, chat_id: str, user_id: str, seat: SeatRecord, ttl_s: int) -> None:
        key = self._seat_key(chat_id, user_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(
                    key, mapping={"conn": seat.conn_id, "data": msgpack.packb(seat.to_dict())}
                )
                pipe.expire(key, ttl_s)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def get_seat(self, chat_id: str, user_id: str) -> SeatRecord | None:
        try:
            data = await self._redis.hget(self._seat_key(chat_id, user_id), "data")
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc
        return _seat(data)

    async def delete_seat(self, chat_id: str, user_id: str, conn_id: str) -> bool:
        try:
            return bool(
                await self._delete_script(keys=[self._seat_key(chat_id, user_id)], args=[conn_id])
            )
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def refresh_seats(self, seats: Sequence[SeatKey], ttl_s: int) -> None:
        """All the refreshes in one pipeline (no transaction): one round trip, not one per seat."""
        if not seats:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for chat_id, user_id, conn_id in seats:
                    await self._refresh_script(
                        keys=[self._seat_key(chat_id, user_id)], args=[conn_id, ttl_s], client=pipe
                    )
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    def _notes_key(self, chat_id: str) -> str:
        return f"{self._prefix}:notes:{chat_id}"

    async def note_chat(self, chat_id: str, name: str, value: str, ttl_s: int) -> None:
        key = self._notes_key(chat_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, name, value)
                pipe.expire(key, ttl_s)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def chat_notes(self, chat_id: str) -> dict[str, str]:
        try:
            raw = await self._redis.hgetall(self._notes_key(chat_id))
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc
        return _notes(raw)

    def _alive_key(self, node_id: str) -> str:
        return f"{self._prefix}:alive:{node_id}"

    async def mark_alive(self, ttl_s: int) -> None:
        try:
            await self._redis.set(self._alive_key(self.node_id), b"1", ex=ttl_s)
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc

    async def alive(self, node_ids: Collection[str]) -> set[str]:
        ordered = list(node_ids)
        if not ordered:
            return set()
        try:
            found = await self._redis.mget([self._alive_key(n) for n in ordered])
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc
        return {node for node, value in zip(ordered, found, strict=True) if value is not None}

    async def epoch(self) -> str:
        """Redis's epoch: a key the first node to find it missing sets (a restarted Redis has
        none). Cached for EPOCH_CACHE_S, and forgotten when the listener reconnects."""
        now = time.monotonic()
        if self._epoch is not None and now - self._epoch_at < EPOCH_CACHE_S:
            return self._epoch
        key = f"{self._prefix}:epoch"
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(key, secrets.token_urlsafe(9), nx=True)
                pipe.get(key)
                _, value = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._epoch = None
            raise BrokerUnavailable(str(exc)) from exc
        self._epoch, self._epoch_at = _text(value), now
        return self._epoch

    async def open_join(self, nonce: str, ttl_s: int, chat_id: str, user_id: str) -> JoinLookup:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.set(f"{self._prefix}:claim:ticket:{nonce}", b"1", nx=True, ex=ttl_s)
                pipe.get(f"{self._prefix}:epoch")
                pipe.hgetall(self._notes_key(chat_id))
                pipe.hget(self._seat_key(chat_id, user_id), "data")
                claimed, epoch, notes, seat = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._epoch = None  # Redis is away: it may come back empty, with a new epoch
            raise BrokerUnavailable(str(exc)) from exc
        if epoch is None:  # Redis lost its data and no node has set a new epoch yet
            self._epoch = None
            epoch = await self.epoch()
        return JoinLookup(bool(claimed), _text(epoch), _notes(notes), _seat(seat))

    async def take_seat(
        self, chat_id: str, user_id: str, seat: SeatRecord, ttl_s: int, peer_id: str
    ) -> tuple[dict[str, str], SeatRecord | None]:
        key = self._seat_key(chat_id, user_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(
                    key, mapping={"conn": seat.conn_id, "data": msgpack.packb(seat.to_dict())}
                )
                pipe.expire(key, ttl_s)
                pipe.hgetall(self._notes_key(chat_id))
                pipe.hget(self._seat_key(chat_id, peer_id), "data")
                _, _, notes, peer = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BrokerUnavailable(str(exc)) from exc
        return _notes(notes), _seat(peer)


def _text(value: bytes | str) -> str:
    """A Redis reply as text (the client returns bytes; decode_responses would return str)."""
    return value.decode() if isinstance(value, bytes) else value


def _notes(raw: Mapping[bytes | str, bytes | str]) -> dict[str, str]:
    return {_text(k): _text(v) for k, v in raw.items()}


def _seat(data: bytes | str | None) -> SeatRecord | None:
    return None if data is None else SeatRecord.from_dict(msgpack.unpackb(data))
