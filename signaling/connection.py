"""One WebSocket seat-holder: frames go straight to the socket, or to a bounded outbox.

Senders never await the socket: `send` encodes and either writes the frame at once (the outbox is
empty and the transport is taking data) or appends it to a bounded outbox that a writer task,
started only then, drains with backpressure. So one slow or stuck client can never stall its
peer's handler or a broadcast, and a client that lets its outbox fill up is closed (1011) rather
than buffered without bound. The direct write saves a task switch per relayed message (a Future
and a `call_soon`), and an idle connection holds no writer task (docs/performance.md, finding 3).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import msgpack
import orjson
from aiohttp import WSMsgType, web
from aiohttp._websocket.helpers import PACK_CLOSE_CODE
from aiohttp._websocket.models import WS_CLOSED_MESSAGE
from aiohttp._websocket.writer import WebSocketWriter
from aiohttp.base_protocol import BaseProtocol

from rooms.broker import SeatRecord
from scheduling.clock import TimerHandle
from signaling.close_codes import CloseCode
from signaling.codec import encode, encode_json_bytes
from signaling.messages import ServerMessage

log = logging.getLogger("duet.signaling.connection")

OUTBOX_LIMIT = 512
# A client closed for being too slow is cut off if it has not read its close frame by then.
GIVE_UP_AFTER_S = 10.0


@dataclass(slots=True)
class _Close:
    code: int
    reason: str


# What `write_frame_now` needs from aiohttp's private writer; checked once, at import, so an
# aiohttp upgrade that drops any of it turns the fast path off instead of failing per message
# (and tests/test_signaling_fast_paths.py fails loudly).
FAST_WRITE = (
    hasattr(WebSocketWriter, "_write_websocket_frame")
    and hasattr(BaseProtocol, "writing_paused")
    and hasattr(web.WebSocketResponse, "_writer")
)


def write_frame_now(ws: web.WebSocketResponse, data: bytes, opcode: WSMsgType) -> bool | None:
    """Write one uncompressed frame synchronously if the socket can take it now.

    True: written. None: the socket is closing or closed, so the frame is dropped (what
    `send_frame` would do by raising). False: the transport is paused (the client is not reading)
    or the fast path is unavailable; the caller queues the frame for the writer task instead.

    This is the only place that reaches into aiohttp's private WebSocket writer (aiohttp 3.14:
    `WebSocketResponse._writer`, `WebSocketWriter._write_websocket_frame`, `._closing`,
    `.transport`, `.protocol`); `ws.send_frame` does the same write and then awaits, which would
    cost the caller a task switch. Connections are created with compress=False, so no deflate
    state is skipped.
    """
    writer = ws._writer if FAST_WRITE else None
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
    server: its handler's receive returns CLOSED, and aiohttp writes no second close frame.

    Reaches into aiohttp 3.14's `WebSocketResponse` (`_writer`, `_reader`, `_set_closed`,
    `_close_code`) and `WebSocketWriter` (`_write_websocket_frame`, `_closing`, `transport`):
    `ws.close()` would wait for the client to read everything queued before its close frame.
    """
    writer = ws._writer
    if writer is not None and not writer._closing and not writer.transport.is_closing():
        writer._write_websocket_frame(PACK_CLOSE_CODE(code) + reason.encode(), WSMsgType.CLOSE, 0)
        writer._closing = True
        transport = writer.transport
        asyncio.get_running_loop().call_later(GIVE_UP_AFTER_S, transport.abort)
    if not ws.closed:
        ws._set_closed()
        ws._close_code = code
        if ws._reader is not None:
            ws._reader.feed_data(WS_CLOSED_MESSAGE, 0)


@dataclass(eq=False, slots=True)
class Connection:
    ws: web.WebSocketResponse
    binary: bool
    conn_id: str  # unique across nodes and restarts: SignalingNode.new_conn_id
    chat_id: str = ""
    user_id: str = ""
    peer_id: str = ""
    # What this connection knows of its peer's seat; kept current by presence messages, so relaying
    # an offer or a candidate needs no lookup in the shared store.
    peer_node: str = ""
    peer_conn: str = ""
    peer_connected: bool = False
    peer_can_restart_ice: bool = True
    can_restart_ice: bool = True
    joined: bool = False
    left: bool = False
    closing: bool = False
    # `_serve` is handling a frame: later ones wait in the queue (signaling/inline_reader.py).
    busy: bool = False
    # The code this server closed (or is closing) the socket with; None for a drop or a leave.
    close_code: int | None = None
    # When this socket's room closes (its time warnings and close are the node's ClosingTimers).
    closes_at: datetime | None = None
    # This socket's seat as last written to the broker (rewritten after a Redis restart).
    seat: SeatRecord | None = None
    # While the join is being admitted: what arrived for this seat before `joined` went out.
    # `joined` must be the first message (docs/protocol.md 5); these follow it.
    early: list[tuple[int | None, ServerMessage | bytes]] | None = None
    # Chat delivery in `seq` order (SignalingNode._chat_in_order): the highest `seq` written,
    # chat messages waiting for a lower one, and the timer that reads the log if it never comes.
    chat_seq: int = 0
    chat_held: dict[int, ServerMessage | bytes] | None = None
    chat_gap_timer: TimerHandle | None = None
    # Encoded frames (and a final close) waiting for the writer; empty almost always.
    _outbox: deque[bytes | _Close] = field(default_factory=deque)
    _writer: asyncio.Task[None] | None = None

    def send(self, msg: ServerMessage) -> None:
        if self.closing:
            return
        self._push(encode(msg, binary=True) if self.binary else encode_json_bytes(msg))  # type: ignore[arg-type]

    def send_json(self, payload: bytes) -> None:
        """Send a server message already encoded as JSON (by another node, say)."""
        if self.closing:
            return
        self._push(msgpack.packb(orjson.loads(payload)) if self.binary else payload)

    def _push(self, data: bytes) -> None:
        if not self._outbox and self._writer is None:
            try:
                written = write_frame_now(
                    self.ws, data, WSMsgType.BINARY if self.binary else WSMsgType.TEXT
                )
            except (ConnectionResetError, RuntimeError) as exc:
                log.debug("direct write to %s failed: %s", self.conn_id, exc)
                return
            if written is not False:
                return
        if len(self._outbox) >= OUTBOX_LIMIT:
            log.warning("outbox full for %s in chat %s; closing", self.user_id, self.chat_id)
            self._give_up()
            return
        self._enqueue(data)

    def _enqueue(self, item: bytes | _Close) -> None:
        self._outbox.append(item)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{self.conn_id}")

    def close(self, code: CloseCode, final: ServerMessage | None = None) -> None:
        """Send `final` (if any), then the close frame; later sends are dropped."""
        if self.closing:
            return
        if final is not None:
            self.send(final)
        self.closing = True
        self.close_code = int(code)
        if len(self._outbox) >= OUTBOX_LIMIT:
            self._give_up()
        else:
            self._enqueue(_Close(int(code), code.reason))

    def _give_up(self) -> None:
        """The client stopped reading: drop what it has not been sent, and end the socket now.

        A close that waits for the client to read everything first never ends for a client
        that does not read, so its peer was never told. Instead the close frame goes behind
        what the client's TCP buffers already hold (it reads it if it ever reads again), the
        handler ends at once (the node treats 4013 as a drop: grace, then absent), and the
        connection is cut after GIVE_UP_AFTER_S if the client still has not read it.
        """
        code = CloseCode.TOO_SLOW
        self.closing = True
        self.close_code = int(code)
        self._outbox.clear()
        if self._writer is not None:
            self._writer.cancel()
        end_without_waiting(self.ws, code, code.reason)

    async def _write(self) -> None:
        """Drain the outbox with backpressure (`send_frame` waits while the client is not
        reading); exits when it is empty, so the next frame may go out directly again."""
        ws, outbox = self.ws, self._outbox
        opcode = WSMsgType.BINARY if self.binary else WSMsgType.TEXT
        try:
            while outbox:
                item = outbox.popleft()
                if isinstance(item, _Close):
                    await ws.close(code=item.code, message=item.reason.encode())
                    return
                await ws.send_frame(item, opcode)
        except (ConnectionResetError, RuntimeError) as exc:
            log.debug("writer for %s stopped: %s", self.conn_id, exc)
            outbox.clear()
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    async def stop(self) -> None:
        """Wait for queued frames to go out (bounded), then stop the writer."""
        writer = self._writer
        if writer is not None and not writer.done():
            if not self.closing:
                writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(writer, 5)
