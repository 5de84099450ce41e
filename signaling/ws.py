"""The WebSocket endpoint `/api/v1/ws`: origin check, subprotocol, first-message join, dispatch.

Every bad frame gets an `error` message or a documented close code (docs/protocol.md sections 8-10);
nothing a client sends can raise out of this handler or leave its peer hanging.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import orjson
from aiohttp import WebSocketError, WSMessage, WSMsgType, web

from rooms.broker import BrokerUnavailable
from signaling import log_context
from signaling import messages as m
from signaling.aiohttp_internals import InlineWebSocketResponse
from signaling.close_codes import FATAL_PROTOCOL_ERRORS, CloseCode
from signaling.codec import ErrorCode, ProtocolError, decode
from signaling.connection import Connection
from signaling.node import JoinRefused, SignalingNode
from signaling.ratelimit import REFUSED_SENTENCES, ConnectionLimits, Verdict

log = logging.getLogger("duet.signaling.ws")

JOIN_TIMEOUT_S = 10.0


# (status, code, sentence) -> the refusal of a handshake; web/app.py passes problem+json's.
Refuse = Callable[[int, str, str], web.StreamResponse]


def _plain_refusal(status: int, code: str, detail: str) -> web.StreamResponse:
    body = {"title": "WebSocket refused", "status": status, "detail": detail, "code": code}
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/problem+json"
    )


@dataclass(frozen=True, slots=True)
class WsSettings:
    allowed_origins: tuple[str, ...]
    heartbeat_s: float = 20.0
    max_msg_size: int = m.MAX_FRAME_BYTES
    refuse: Refuse = _plain_refusal


NODE = web.AppKey("signaling_node", SignalingNode)
WS_SETTINGS = web.AppKey("ws_settings", WsSettings)


def origin_allowed(request: web.Request, allowed: tuple[str, ...]) -> bool:
    """Cross-site WebSocket hijacking defence: only our own origin or configured ones."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser: browsers always send Origin on WebSocket upgrades
    if origin in allowed:
        return True
    return origin == f"{request.scheme}://{request.host}"


def _offered(request: web.Request) -> list[str]:
    header = request.headers.get("Sec-WebSocket-Protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


async def ws_handler(request: web.Request) -> web.StreamResponse:
    settings = request.app[WS_SETTINGS]
    node = request.app[NODE]
    if not origin_allowed(request, settings.allowed_origins):
        return settings.refuse(
            403, "origin_refused", "This page's origin may not open a Duet connection."
        )
    if not any(p in m.SUBPROTOCOLS for p in _offered(request)):
        return settings.refuse(
            400,
            "subprotocol_required",
            f"Offer one of the subprotocols {', '.join(m.SUBPROTOCOLS)}.",
        )
    ws = InlineWebSocketResponse(
        protocols=m.SUBPROTOCOLS,
        heartbeat=settings.heartbeat_s,
        # aiohttp refuses a payload of max_msg_size bytes or more, while the limit is
        # inclusive (docs/protocol.md 2); the codec enforces it too (too_big -> 1009).
        max_msg_size=settings.max_msg_size + 1,
        compress=False,  # permessage-deflate costs ~120 KiB per connection
    )
    await ws.prepare(request)
    conn = Connection(ws, ws.ws_protocol == m.SUBPROTOCOL_MSGPACK, node.new_conn_id())
    # This socket's task only: reset at the end, never seen by another socket's lines.
    context = log_context.bind(node_id=node.broker.node_id, conn_id=conn.conn_id)
    ws.on_too_big(partial(_too_big, conn, settings.max_msg_size))
    try:
        if not await _join(node, conn, settings.max_msg_size):
            if conn.close_code is not None:  # not a client that just went away
                node.refused(conn.close_code)
                log.debug("join refused with %d", conn.close_code)
        else:
            log_context.bind(chat_id=conn.chat_id, user_id=conn.user_id)
            log.debug("joined (%s)", "msgpack" if conn.binary else "json")
            limits = ConnectionLimits()
            ws.set_take(partial(_take_inline, node, conn, limits, settings.max_msg_size))
            await _serve(node, conn, limits, settings.max_msg_size)
    finally:
        ws.set_take(None)  # it refers to the connection, which refers to `ws`: no cycle left
        await node.disconnected(conn)
        if not conn.closing and not ws.closed:
            conn.close(CloseCode.NORMAL)
        await conn.stop()
        ws.release()
        if conn.joined:
            log.debug("socket closed (%s)", conn.close_code or "by the client")
        log_context.unbind(context)
    return ws


def _note_too_big(conn: Connection, frame: WSMessage) -> None:
    """aiohttp refused an oversized frame and already sent close 1009 itself.

    Its own `close_code` ends up 1006 (the reader is broken by then), so the frame's error is
    the reliable sign; recording it lets the node tell the peer instead of holding the seat.
    """
    if (
        frame.type == WSMsgType.ERROR
        and isinstance(frame.data, WebSocketError)
        and frame.data.code == CloseCode.MESSAGE_TOO_BIG
    ):
        conn.close(CloseCode.MESSAGE_TOO_BIG)  # the writer's ws.close() is then a no-op


def _too_big(conn: Connection, limit: int) -> None:
    """docs/protocol.md 8: `error {too_big}`, then (aiohttp's) close 1009."""
    conn.send(
        m.Error(
            code=ErrorCode.TOO_BIG.value,
            message=f"A message was larger than {limit // 1024} KiB; the connection will close.",
        )
    )


@dataclass(frozen=True, slots=True)
class Refused:
    """A frame that is not a valid message: `error` (if any), then close with `close` (if any)."""

    error: m.Error | None
    close: CloseCode | None


def read_frame(conn: Connection, frame: WSMessage, limit: int) -> m.ClientMessage | Refused:
    """What a data frame is: a valid message, or why not. The one classification of both the
    inline path (`_take_inline`) and the handler's (`_serve`, `_join`)."""
    if frame.type != (WSMsgType.BINARY if conn.binary else WSMsgType.TEXT):
        return Refused(None, CloseCode.UNSUPPORTED_DATA)
    try:
        return decode(frame.data, limit)
    except ProtocolError as exc:
        error = m.Error(code=exc.code, message=exc.message, ref_type=exc.ref_type)
        return Refused(error, FATAL_PROTOCOL_ERRORS.get(exc.code))


async def _join(node: SignalingNode, conn: Connection, limit: int) -> bool:
    try:
        first = await conn.ws.receive(timeout=JOIN_TIMEOUT_S)
    except TimeoutError:
        conn.close(CloseCode.JOIN_REQUIRED)
        return False
    if first.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        _note_too_big(conn, first)
        return False
    msg = read_frame(conn, first, limit)
    if isinstance(msg, Refused):
        conn.close(msg.close or CloseCode.JOIN_REQUIRED, msg.error)
        return False
    if not isinstance(msg, m.Join):
        conn.close(
            CloseCode.JOIN_REQUIRED,
            m.Error(
                code=ErrorCode.JOIN_REQUIRED.value,
                message="Send join with your ticket first.",
                ref_type=msg.type,
            ),
        )
        return False
    try:
        await node.join(conn, msg)
    except JoinRefused as refused:
        conn.close(refused.code)
        return False
    except BrokerUnavailable:
        # Not the client's fault and not final: 1013 tells it to come back (with a new ticket).
        conn.close(
            CloseCode.TRY_AGAIN_LATER,
            m.Error(
                code=ErrorCode.UNAVAILABLE.value,
                message="The chat service is briefly unavailable; reconnecting in a moment.",
                ref_type="join",
            ),
        )
        return False
    return True


def _rate_limited(conn: Connection, msg_type: str) -> None:
    conn.close(
        CloseCode.POLICY_VIOLATION,
        m.Error(
            code=ErrorCode.RATE_LIMITED.value,
            message="You are sending messages too quickly; the connection will close.",
            ref_type=msg_type,
        ),
    )


def _take_inline(
    node: SignalingNode, conn: Connection, limits: ConnectionLimits, limit: int, frame: WSMessage
) -> bool:
    """The hot path (signaling/aiohttp_internals.py): relay an offer, answer or candidate as
    soon as it is parsed. False leaves the frame to `_serve`, which reads it again: anything
    else is rare enough not to need the shortcut."""
    if conn.busy or conn.closing:
        return False
    msg = read_frame(conn, frame, limit)
    if isinstance(msg, Refused) or not node.relayable(conn, msg):
        return False
    if limits.check(msg.type) != Verdict.ALLOW:  # offers, answers, candidates: never refused
        _rate_limited(conn, msg.type)
        return True
    try:
        node.forward(conn, msg)  # type: ignore[arg-type]  # relayable: an offer, answer or candidate
    except Exception:  # a bug; handled here so the frame is neither queued again nor counted twice
        log.exception("relaying %s for %s failed", msg.type, conn.user_id)
        return True
    node.stats["inline"] += 1
    return True


async def _serve(
    node: SignalingNode, conn: Connection, limits: ConnectionLimits, limit: int
) -> None:
    async for frame in conn.ws:
        conn.busy = True  # later frames queue behind this one instead of overtaking it inline
        try:
            if conn.closing:
                break
            if frame.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                _note_too_big(conn, frame)
                break
            msg = read_frame(conn, frame, limit)
            if isinstance(msg, Refused):
                if msg.close is not None:
                    conn.close(msg.close, msg.error)
                    break
                if not limits.bad_frame():
                    conn.close(
                        CloseCode.POLICY_VIOLATION,
                        m.Error(
                            code=ErrorCode.RATE_LIMITED.value,
                            message="Too many malformed messages.",
                            ref_type=None if msg.error is None else msg.error.ref_type,
                        ),
                    )
                    break
                if msg.error is not None:
                    conn.send(msg.error)
                continue
            verdict = limits.check(msg.type)
            if verdict == Verdict.REFUSE:
                conn.send(
                    m.Error(
                        code=ErrorCode.RATE_LIMITED.value,
                        message=REFUSED_SENTENCES[msg.type],
                        ref_type=msg.type,
                    )
                )
                continue
            if verdict == Verdict.CLOSE:
                _rate_limited(conn, msg.type)
                break
            if node.relayable(conn, msg):
                node.forward(conn, msg)  # type: ignore[arg-type]  # relayable: see node.relayable
            else:
                await node.handle(conn, msg)
            if conn.closing:
                break
        finally:
            conn.busy = False
