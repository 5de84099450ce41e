"""The live board's news: what changed in a room, told to every node's board streams.

A room's state is spread over nodes (each person's seat lives where their socket is), so each
change is published to all nodes through the broker (`publish_live`, a Redis channel every node
listens to; in one process, a direct call) and also kept in the broker (`put_live`), so a board
opened later starts from a snapshot of every node's rooms. The database stays the record of
what happened (chats, attendance, summaries, Support requests); this is only news, best effort:
a lost piece is corrected by the next change or by reopening the board.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal

import msgpack

from rooms.broker import Broker, BrokerUnavailable

log = logging.getLogger("duet.rooms.live")

NewsKind = Literal["seat", "quality", "support", "chat", "person"]
# How long the broker keeps the latest news of a seat (a fair's day, and then some).
KEEP_S: Final = 36 * 3600


@dataclass(frozen=True, slots=True)
class LiveNews:
    """One change. `seat`: `value` is connected | reconnecting | absent; `quality`: the
    person's latest verdict, `path` how media travels; `support` and `chat`: read the chat
    again (a Support request or answer, or the chat's state changed); `person`: a chat of
    `user_id` changed, `value` its new state, `detail` the other person's name, `by` who
    changed it (the signed-in person's own event stream, docs/live.md)."""

    kind: NewsKind
    chat_id: str
    user_id: str = ""
    value: str = ""
    at_ms: int = 0
    path: str = ""
    detail: str = ""
    by: str = ""

    def pack(self) -> bytes:
        packed: bytes = msgpack.packb(
            (
                self.kind,
                self.chat_id,
                self.user_id,
                self.value,
                self.at_ms,
                self.path,
                self.detail,
                self.by,
            )
        )
        return packed

    @classmethod
    def unpack(cls, payload: bytes) -> LiveNews:
        return cls(*msgpack.unpackb(payload))

    @property
    def key(self) -> str:
        """Where the broker keeps it: the latest news per person and kind."""
        return f"{self.chat_id}:{self.user_id}:{self.kind}"


Listener = Callable[[LiveNews], None]


class LiveFeed:
    """This node's end: `tell` a change to every node, `listen` to every node's changes."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._listeners: set[Listener] = set()

    async def start(self) -> None:
        await self._broker.listen_live(self._received)

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every change from now on; returns the way to stop."""
        self._listeners.add(listener)
        return lambda: self._listeners.discard(listener)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

    async def tell(self, news: LiveNews) -> None:
        try:
            if news.kind in ("seat", "quality"):
                await self._broker.put_live(news.key, news.pack(), KEEP_S)
            await self._broker.publish_live(news.pack())
        except BrokerUnavailable:
            log.warning("live board news of chat %s not sent: broker unavailable", news.chat_id)

    async def latest(self) -> list[LiveNews]:
        """The latest seat and quality news of every person the broker still knows of."""
        news: list[LiveNews] = []
        try:
            records = await self._broker.live_records()
        except BrokerUnavailable:  # the board starts from the database alone; news follows
            log.warning("live records unavailable: the board's snapshot has no seats")
            return news
        for payload in records:
            try:
                news.append(LiveNews.unpack(payload))
            except (ValueError, TypeError):
                log.warning("unreadable live record dropped")
        return news

    async def _received(self, payload: bytes) -> None:
        news = LiveNews.unpack(payload)
        for listener in list(self._listeners):
            try:
                listener(news)
            except Exception:
                log.exception("a live board listener failed")
