"""Messages handled as they are parsed, without waking the socket's task: the relay's hot path.

aiohttp hands each parsed WebSocket message to a queue (`WebSocketDataQueue.feed_data`) and the
handler's `await ws.receive()` picks it up on a later loop iteration: a Future, a wake-up and
three coroutines per message, and ~10 objects per socket that live until its next message, which
is what the young garbage collections spent their time walking (docs/performance.md).

`InlineWebSocketResponse` installs an `InlineQueue`, whose `feed_data` first offers each message
to `take` (set once the socket has joined). `take` handles a message at once and returns True (the
signaling code relays offers, answers and candidates this way), or returns False and the message
is queued for `ws.receive()` exactly as before: chat, control frames, anything invalid. Order per
socket is kept because a message is only offered while no data frame is queued or on its way to
the handler; the handler also refuses while it is still busy with an earlier message.

This is the only module that reaches into aiohttp's WebSocket reading internals (aiohttp 3.14:
`WebSocketResponse._post_start`, `WebSocketDataQueue`, `WebSocketReader`); the copy of
`_post_start` below differs from aiohttp's in one name, and tests/test_signaling_fast_paths.py
fails if aiohttp's changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import WebSocketError, WSCloseCode, WSMsgType, web
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
from aiohttp.helpers import DEFAULT_CHUNK_SIZE
from aiohttp.http_websocket import WSMessage

log = logging.getLogger("duet.signaling.inline")

Take = Callable[[WSMessage], bool]


_DATA = (WSMsgType.TEXT, WSMsgType.BINARY)


class InlineQueue(WebSocketDataQueue):  # type: ignore[misc]
    """aiohttp's queue, with a first refusal for every message (see the module docstring)."""

    __slots__ = ("take", "too_big", "undelivered")  # no __dict__: one per socket

    def __init__(self, protocol: Any, limit: int, *, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(protocol, limit, loop=loop)
        self.take: Take | None = None
        # Called when the parser refuses a frame over the size limit, before aiohttp closes
        # the socket with 1009: the one chance to send the protocol's `error {too_big}` first.
        self.too_big: Callable[[], None] | None = None
        # Data frames queued and not yet returned by `receive()`: in the buffer, or popped and
        # on their way to the handler (aiohttp resumes a stalled parser in between, which is
        # when a frame offered inline could otherwise overtake the one just popped).
        self.undelivered = 0

    def feed_data(self, data: WSMessage, size: int) -> None:
        take = self.take
        if take is not None and not self.undelivered:
            try:
                if take(data):
                    return
            except Exception:
                # A bug, not bad input (that is `take`'s to refuse): an exception here would
                # end the socket inside aiohttp's parser. The frame takes the ordinary way.
                log.exception("inline handling failed; the message is queued instead")
        if data.type in _DATA:
            self.undelivered += 1
        WebSocketDataQueue.feed_data(self, data, size)

    def set_exception(self, exc: BaseException, *args: Any) -> None:
        too_big = self.too_big
        if (
            too_big is not None
            and isinstance(exc, WebSocketError)
            and exc.code == WSCloseCode.MESSAGE_TOO_BIG
        ):
            self.too_big = None
            try:
                too_big()
            except Exception:
                log.exception("could not tell the client its message was too big")
        WebSocketDataQueue.set_exception(self, exc, *args)


class InlineWebSocketResponse(web.WebSocketResponse):
    def on_too_big(self, callback: Callable[[], None] | None) -> None:
        """Call `callback` when a frame over `max_msg_size` arrives, before the 1009 close."""
        reader = self._reader
        if isinstance(reader, InlineQueue):
            reader.too_big = callback

    def set_take(self, take: Take | None) -> None:
        """Offer every later message to `take` first; None stops it."""
        reader = self._reader
        if isinstance(reader, InlineQueue):
            reader.take = take

    async def receive(self, timeout: float | None = None) -> WSMessage:  # type: ignore[override]  # noqa: ASYNC109 (aiohttp's signature)
        msg = await super().receive(timeout)
        reader = self._reader
        if msg.type in _DATA and isinstance(reader, InlineQueue):
            reader.undelivered -= 1
        return msg

    def release(self) -> None:
        """Drop what ties aiohttp's protocol back to this response once the handler is done.

        The protocol keeps the heartbeat's data callback (a bound method of this response,
        which holds the request, which holds the protocol) after the connection is lost, so
        every closed socket was a reference cycle: freed only by a full collection, and never
        once `duet serve` had frozen it (web/gc_policy.py). Without the cycle reference
        counting frees a socket's objects the moment it ends.
        """
        self.set_take(None)
        self.on_too_big(None)
        # A close that failed on a dropped connection keeps its exception, whose traceback's
        # frames hold this response: another cycle per abruptly dropped socket.
        error = self.exception()
        while error is not None:
            error.__traceback__ = None
            error = error.__context__ or error.__cause__
        request = self._req
        if request is not None and request.protocol is not None:
            request.protocol._data_received_cb = None

    def _reset_heartbeat(self) -> None:
        # aiohttp 3.14.5 re-arms the heartbeat when data arrives after the close (the client's
        # close reply): the timer then held the closed socket, its request, protocol and
        # transport for another heartbeat + pong period, and `duet serve`'s periodic
        # `gc.freeze()` kept them (a cycle through the protocol's data callback) for good.
        if self._closed or self._closing:
            return
        super()._reset_heartbeat()

    def _post_start(self, request: Any, protocol: str | None, writer: Any) -> None:
        # aiohttp 3.14.5's WebSocketResponse._post_start with InlineQueue for WebSocketDataQueue.
        self._ws_protocol = protocol
        self._writer = writer

        self._reset_heartbeat()

        loop = self._loop
        assert loop is not None
        self._reader = InlineQueue(request._protocol, DEFAULT_CHUNK_SIZE, loop=loop)
        # Owns the parser so a stalled reader parked on the queue by weakref
        # stays alive while this response can still be drained.
        self._parser = WebSocketReader(
            self._reader,
            self._max_msg_size,
            compress=bool(self._compress),
            decode_text=self._decode_text,
        )
        cb = None if self._heartbeat is None else self._on_data_received
        request.protocol.set_parser(self._parser, data_received_cb=cb)
        # disable HTTP keepalive for WebSocket
        request.protocol.keep_alive(False)
