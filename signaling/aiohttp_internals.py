"""The ONE module that touches aiohttp's private WebSocket internals, and why each touch pays.

aiohttp 3.14.5 is pinned exactly in pyproject.toml. Every private name used is listed below,
checked by `check_internals()` (called when the signaling node starts) and by
tests/unit/test_aiohttp_internals.py, so an aiohttp upgrade fails loudly at start-up instead of
silently losing messages or memory.

What it buys (docs/performance.md):

- **Relay as parsed** (`InlineQueue`, `InlineWebSocketResponse._post_start`): aiohttp hands each
  parsed message to a queue that the handler's `await ws.receive()` drains on a later loop
  iteration: a Future, a wake-up and three coroutines per message, and ~10 objects per socket
  that live until its next message. The queue here first offers each message to `take` (set once
  the socket has joined), which relays offers, answers and candidates at once; anything else is
  queued exactly as before. Order per socket holds: a message is only offered while no data frame
  is queued or on its way to the handler, and the handler refuses while it is busy.
- **Direct writes** (`write_frame_now`): `ws.send_frame` writes and then awaits, a task switch
  per relayed message; the write alone is synchronous.
- **Ending a socket whose client stopped reading** (`end_without_waiting`): `ws.close()` waits
  for the client to read everything queued before its close frame, for ever if it never reads.
- **Freeing a socket at once** (`InlineWebSocketResponse.release`, `_reset_heartbeat`): aiohttp
  re-arms the heartbeat on data after the close, and its protocol keeps a bound method of the
  response after the connection is lost; both kept every closed socket alive (a cycle that
  `duet serve`'s `gc.freeze()` made permanent).
- **`error {too_big}` before aiohttp's 1009** (`InlineQueue.set_exception`).

Private names used (aiohttp 3.14.5):

``WebSocketResponse._post_start(request, protocol, writer)``
    Copied below with `InlineQueue` for `WebSocketDataQueue` (the copy must match aiohttp's body
    but for that name: checked by the test).
``WebSocketResponse._reader``, ``._writer``, ``._req``, ``._closed``, ``._closing``,
``._set_closed()``, ``._close_code``, ``._reset_heartbeat()``, ``._on_data_received``, ``._loop``,
``._heartbeat``, ``._max_msg_size``, ``._compress``, ``._decode_text``, ``._ws_protocol``
    The response's reader queue, writer and state, as `_post_start` and `close()` use them.
``aiohttp._websocket.reader.WebSocketDataQueue`` (``feed_data(msg, size)``,
``set_exception(exc, cause)``) and ``WebSocketReader(queue, max_msg_size, compress=,
decode_text=)``
    The queue subclassed here and the parser that feeds it.
``WebSocketWriter._write_websocket_frame(message, opcode, rsv)``, ``._closing``,
``.transport``, ``.protocol``; ``BaseProtocol.writing_paused``
    The synchronous frame write and the backpressure flag.
``web_protocol.RequestHandler._data_received_cb``
    The heartbeat's data callback, dropped when the socket is done.
``aiohttp._websocket.helpers.PACK_CLOSE_CODE``, ``aiohttp._websocket.models.WS_CLOSED_MESSAGE``
    The close frame's code packing and the "closed" message `receive()` returns.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any, Final, cast

import aiohttp
from aiohttp import WebSocketError, WSCloseCode, WSMsgType, web
from aiohttp._websocket.helpers import PACK_CLOSE_CODE
from aiohttp._websocket.models import WS_CLOSED_MESSAGE, WSMessageTextBytes
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader
from aiohttp._websocket.writer import WebSocketWriter
from aiohttp.base_protocol import BaseProtocol
from aiohttp.helpers import DEFAULT_CHUNK_SIZE
from aiohttp.http_websocket import WSMessage
from aiohttp.web_protocol import RequestHandler

__all__ = [
    "PINNED_AIOHTTP",
    "AiohttpInternalsChanged",
    "InlineQueue",
    "InlineWebSocketResponse",
    "Take",
    "check_internals",
    "end_without_waiting",
    "write_frame_now",
]

log = logging.getLogger("duet.signaling.aiohttp_internals")

PINNED_AIOHTTP: Final = "3.14.5"
# A client closed for being too slow is cut off if it has not read its close frame by then.
GIVE_UP_AFTER_S: Final = 10.0

Take = Callable[[WSMessage], bool]
_DATA: Final = (WSMsgType.TEXT, WSMsgType.BINARY)

# (owner, attribute) that must exist on the class (methods) ...
CLASS_ATTRIBUTES: Final[tuple[tuple[type, str], ...]] = (
    (web.WebSocketResponse, "_post_start"),
    (web.WebSocketResponse, "_set_closed"),
    (web.WebSocketResponse, "_reset_heartbeat"),
    (web.WebSocketResponse, "_on_data_received"),
    (WebSocketDataQueue, "feed_data"),
    (WebSocketDataQueue, "set_exception"),
    (WebSocketWriter, "_write_websocket_frame"),
    (BaseProtocol, "writing_paused"),
)
# ... and on an instance (set in __init__).
WEBSOCKET_RESPONSE_FIELDS: Final = (
    "_reader",
    "_writer",
    "_req",
    "_closed",
    "_closing",
    "_close_code",
    "_loop",
    "_heartbeat",
    "_max_msg_size",
    "_compress",
    "_decode_text",
    "_ws_protocol",
)
REQUEST_HANDLER_FIELDS: Final = ("_data_received_cb",)
# (function, parameter names after self): a changed signature means changed semantics.
SIGNATURES: Final[tuple[tuple[Callable[..., Any], tuple[str, ...]], ...]] = (
    (web.WebSocketResponse._post_start, ("request", "protocol", "writer")),
    (WebSocketDataQueue.feed_data, ("data", "size")),
    (WebSocketDataQueue.set_exception, ("exc", "exc_cause")),
    (WebSocketWriter._write_websocket_frame, ("message", "opcode", "rsv")),
)


class AiohttpInternalsChanged(RuntimeError):
    """aiohttp no longer has what this module relies on: pin it back, or port the module."""


def check_internals() -> None:
    """Fail at start-up (not in someone's call) if aiohttp is not the version this was built on."""
    problems: list[str] = []
    if aiohttp.__version__ != PINNED_AIOHTTP:
        problems.append(f"aiohttp {aiohttp.__version__} installed, {PINNED_AIOHTTP} expected")
    for owner, name in CLASS_ATTRIBUTES:
        if not hasattr(owner, name):
            problems.append(f"{owner.__qualname__}.{name} is gone")
    response = web.WebSocketResponse()
    for name in WEBSOCKET_RESPONSE_FIELDS:
        if not hasattr(response, name):
            problems.append(f"WebSocketResponse().{name} is gone")
    slots = {s for cls in RequestHandler.__mro__ for s in getattr(cls, "__slots__", ())}
    for name in REQUEST_HANDLER_FIELDS:
        if name not in slots:
            problems.append(f"RequestHandler.{name} is gone")
    for function, expected in SIGNATURES:
        params = tuple(inspect.signature(function).parameters)[1:]
        if params != expected:
            problems.append(f"{function.__qualname__}{params} is not {expected}")
    if problems:
        raise AiohttpInternalsChanged("; ".join(problems))


class InlineQueue(WebSocketDataQueue):
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

    def feed_data(self, data: WSMessage | WSMessageTextBytes, size: int) -> None:
        take = self.take
        if take is not None and not self.undelivered:
            try:
                if take(cast(WSMessage, data)):  # decode_text is on: text arrives as str
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

    def release(self) -> None:
        """Drop what ties aiohttp's protocol back to this response once the handler is done.

        The protocol keeps the heartbeat's data callback (a bound method of this response, which
        holds the request, which holds the protocol) after the connection is lost, and a close
        that failed on a dropped connection keeps its exception, whose traceback's frames hold
        this response: two reference cycles per socket, freed only by a full collection and
        never once `duet serve` had frozen them (web/gc_policy.py). Without them reference
        counting frees a socket's objects the moment it ends (tests/integration/soak).
        """
        self.set_take(None)
        self.on_too_big(None)
        error = self.exception()
        while error is not None:
            error.__traceback__ = None
            error = error.__context__ or error.__cause__
        request = self._req
        if request is not None and request.protocol is not None:
            request.protocol._data_received_cb = None

    async def receive(self, timeout: float | None = None) -> WSMessage:  # noqa: ASYNC109 (aiohttp's signature)
        msg = await super().receive(timeout)
        reader = self._reader
        if msg.type in _DATA and isinstance(reader, InlineQueue):
            reader.undelivered -= 1
        return msg

    def _reset_heartbeat(self) -> None:
        # aiohttp re-arms the heartbeat when data arrives after the close (the client's close
        # reply): the timer then held the closed socket for another heartbeat + pong period.
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


def write_frame_now(ws: web.WebSocketResponse, data: bytes, opcode: WSMsgType) -> bool | None:
    """Write one uncompressed frame synchronously if the socket can take it now.

    True: written. None: the socket is closing or closed, so the frame is dropped (what
    `send_frame` would do by raising). False: the transport is paused (the client is not
    reading); the caller queues the frame for its writer task instead. Sockets are created with
    compress=False, so no deflate state is skipped.
    """
    writer = ws._writer
    if writer is None:
        return False
    if ws.closed or writer._closing or writer.transport.is_closing():
        return None
    if writer.protocol.writing_paused:
        return False
    writer._write_websocket_frame(data, opcode, 0)
    return True


def end_without_waiting(ws: web.WebSocketResponse, code: int, reason: str) -> None:
    """Queue a close frame without waiting for the client to read, and end the socket for the
    server: its handler's receive returns CLOSED, and aiohttp writes no second close frame. The
    transport is cut after GIVE_UP_AFTER_S if the client still has not read it."""
    writer = ws._writer
    if writer is not None and not writer._closing and not writer.transport.is_closing():
        writer._write_websocket_frame(PACK_CLOSE_CODE(code) + reason.encode(), WSMsgType.CLOSE, 0)
        writer._closing = True
        asyncio.get_running_loop().call_later(GIVE_UP_AFTER_S, writer.transport.abort)
    if not ws.closed:
        ws._set_closed()
        ws._close_code = code
        if ws._reader is not None:
            ws._reader.feed_data(WS_CLOSED_MESSAGE, 0)
