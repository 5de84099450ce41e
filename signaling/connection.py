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
import contextvars
import logging
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

import msgpack
import orjson
from aiohttp import WSMsgType, web

from rooms.broker import SeatRecord
from scheduling.clock import TimerHandle
from signaling import log_context
from signaling.aiohttp_internals import end_without_waiting, write_frame_now
from signaling.close_codes import CloseCode
from signaling.codec import encode, encode_json_bytes
from signaling.envelope import PEER_GONE, PeerLink
from signaling.messages import ServerMessage

log = logging.getLogger("duet.signaling.connection")

OUTBOX_LIMIT = 512


@dataclass(slots=True)
class _Close:
    code: int
    reason: str


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
    peer: PeerLink = PEER_GONE
    can_restart_ice: bool = True
    joined: bool = False
    left: bool = False
    closing: bool = False
    # `_serve` is handling a frame: later ones wait in the queue (signaling/aiohttp_internals.py).
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
            # Whoever sends first starts the writer (often the peer's task): its log lines are
            # about this socket, so it gets a context of its own, not the sender's.
            context = contextvars.Context()
            context.run(
                log_context.bind,
                node_id=log_context.current().get("node_id", ""),
                conn_id=self.conn_id,
                chat_id=self.chat_id,
                user_id=self.user_id,
            )
            self._writer = asyncio.create_task(
                self._write(), name=f"ws-writer-{self.conn_id}", context=context
            )

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
