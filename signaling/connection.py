"""One WebSocket seat-holder: a bounded outbox drained by one writer task.

Senders never await the socket: `send` encodes into a bounded queue and returns, so one slow or
stuck client can never stall its peer's handler or a broadcast. A client that lets its outbox
fill up is closed (1011) rather than buffered without bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from rooms.broker import SeatRecord
from signaling.close_codes import CloseCode
from signaling.codec import encode, encode_json_bytes
from signaling.messages import ServerMessage

log = logging.getLogger("duet.signaling.connection")

OUTBOX_LIMIT = 512


@dataclass(slots=True)
class _Close:
    code: int
    reason: str


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    binary: bool
    conn_id: str = field(default_factory=lambda: uuid.uuid4().hex)
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
    # The code this server closed (or is closing) the socket with; None for a drop or a leave.
    close_code: int | None = None
    timers: list[object] = field(default_factory=list)
    # This socket's seat as last written to the broker (rewritten after a Redis restart).
    seat: SeatRecord | None = None
    _outbox: asyncio.Queue[ServerMessage | _Close] = field(
        default_factory=lambda: asyncio.Queue(OUTBOX_LIMIT)
    )
    _writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{self.conn_id}")

    def send(self, msg: ServerMessage) -> None:
        if self.closing:
            return
        try:
            self._outbox.put_nowait(msg)
        except asyncio.QueueFull:
            log.warning("outbox full for %s in chat %s; closing", self.user_id, self.chat_id)
            self._force_close(CloseCode.INTERNAL_ERROR)

    def close(self, code: CloseCode, final: ServerMessage | None = None) -> None:
        """Send `final` (if any), then the close frame; later sends are dropped."""
        if self.closing:
            return
        if final is not None:
            self.send(final)
        self.closing = True
        self.close_code = int(code)
        try:
            self._outbox.put_nowait(_Close(int(code), code.reason))
        except asyncio.QueueFull:
            self._force_close(code)

    def _force_close(self, code: CloseCode) -> None:
        self.closing = True
        self.close_code = int(code)
        if self._writer is not None:
            self._writer.cancel()
        task = asyncio.ensure_future(self.ws.close(code=int(code), message=code.reason.encode()))
        self.timers.append(task)  # keep a reference until the connection is dropped

    async def _write(self) -> None:
        ws = self.ws
        try:
            while True:
                item = await self._outbox.get()
                if isinstance(item, _Close):
                    await ws.close(code=item.code, message=item.reason.encode())
                    return
                if self.binary:
                    await ws.send_bytes(encode(item, binary=True))  # type: ignore[arg-type]
                else:
                    await ws.send_frame(encode_json_bytes(item), WSMsgType.TEXT)
        except (ConnectionResetError, RuntimeError) as exc:
            log.debug("writer for %s stopped: %s", self.conn_id, exc)

    async def stop(self) -> None:
        """Wait for queued frames to go out (bounded), then stop the writer."""
        for timer in self.timers:
            cancel = getattr(timer, "cancel", None)
            if cancel is not None and not isinstance(timer, asyncio.Task):
                cancel()
        if self._writer is not None and not self._writer.done():
            if not self.closing:
                self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._writer, 5)
