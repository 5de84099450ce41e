"""The organizer's live board and each person's own events as Server-Sent Events, and in-call
Support (docs/live.md).

`GET /api/v1/events/{event_id}/live` answers `text/event-stream`: a `snapshot` event with every
row of today, then a `row` event whenever one changes (news from any node through the broker, or
time moving a row to another group), and a comment line every `KEEPALIVE_S` so proxies keep the
connection. The browser reads it with `fetch` and the usual bearer token (web/static/js/sse.js),
so no token ever travels in a URL. `GET /api/v1/me/events` is the same machinery for one
signed-in person: a `chat` event when one of their chats changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final

import orjson
from aiohttp import web
from multidict import CIMultiDict

from rooms import chatlog
from rooms.live_feed import LiveNews
from rooms.support_store import SUPPORT_SENDER, latest_open, mark_answered, raise_request
from rooms.timeline import from_ms
from scheduling.db import after_commit, read_tx, write_tx
from scheduling.model import ChatState, Role
from scheduling.store_chats import require_chat
from scheduling.store_events import require_event
from scheduling.store_webhooks import record
from scheduling.webhook_payloads import EventType, SideName, SupportPayload
from signaling.ws import NODE
from web import request_bodies as rb
from web.auth import principal
from web.json_io import Body, iso, json_response
from web.keys import CLOCK, ENGINE
from web.live_board import Board
from web.problems import Problem

log = logging.getLogger("duet.web.live")
routes = web.RouteTableDef()

CHAT_ID = "{chat_id:[0-9a-f]{32}}"
KEEPALIVE_S: Final = 20
# News waiting for one slow board; past it the stream ends and the browser reconnects (and
# starts from a fresh snapshot) rather than the server holding news without bound.
BACKLOG: Final = 5000
SUPPORT_INPUT = Body(rb.SupportInput)
SUPPORT_AGAIN_AFTER: Final = timedelta(seconds=60)
SUPPORT_ANSWER = Body(rb.SupportAnswer)
# The app's open board streams, told to end when the app shuts down.
STREAMS: web.AppKey[set[asyncio.Queue[Any]]] = web.AppKey("live_streams")

_TICK: Final = object()  # time moved a row: regroup
_END: Final = object()  # the app is shutting down


def _event(name: str, data: Any) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@routes.get("/api/v1/events/{event_id}/live")
async def live_board(request: web.Request) -> web.StreamResponse:
    """Today's chats of the event in real time (organizer only)."""
    principal(request, Role.ORGANIZER)
    app = request.app
    clock, node = app[CLOCK], app[NODE]
    async with read_tx(app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
    queue: asyncio.Queue[Any] = asyncio.Queue(BACKLOG)

    def heard(news: LiveNews | object) -> None:
        if isinstance(news, LiveNews) and news.kind == "person":
            return  # a person's own stream's news; the board hears the same change as `chat`
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(news)

    stop = node.live.listen(heard)  # before the snapshot: nothing falls between the two
    app[STREAMS].add(queue)
    timer: Any = None
    try:
        board = Board(app[ENGINE], event)
        await board.load(clock.now(), await node.live.latest())
        response = _stream()
        await response.prepare(request)
        await response.write(_event("snapshot", board.snapshot(clock.now())))

        def schedule() -> Any:
            when = board.next_change(clock.now())
            if when is None:
                return None
            return clock.call_at(when, lambda: heard(_TICK))

        timer = schedule()
        while True:
            if queue.full():
                break  # a board too slow to read: it reconnects from a fresh snapshot
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            # Everything that arrived meanwhile, taken together (one read for many chats).
            batch = [item]
            while not queue.empty() and len(batch) < BACKLOG:
                batch.append(queue.get_nowait())
            if _END in batch:
                break
            now = clock.now()
            news = [n for n in batch if isinstance(n, LiveNews)]
            changed = {row.chat.chat_id: row for row in board.tick(now)} if _TICK in batch else {}
            for row in await board.apply(news, now) if news else []:
                changed[row.chat.chat_id] = row
            for row in changed.values():
                await response.write(_event("row", row.json()))
            if timer is not None:
                timer.cancel()
            timer = schedule()
        return response
    except ConnectionResetError:  # the board went away: nothing to answer
        log.debug("a live board stream of event %s closed", event.id)
        return web.Response(status=204)
    finally:
        stop()
        app[STREAMS].discard(queue)
        if timer is not None:
            timer.cancel()


@routes.get("/api/v1/me/events")
async def my_events(request: web.Request) -> web.StreamResponse:
    """The signed-in person's own event stream: a `chat` event whenever one of their chats
    changes (requested, approved, booked, moved, cancelled...), from any node."""
    who = principal(request)
    app = request.app
    clock, node = app[CLOCK], app[NODE]
    queue: asyncio.Queue[Any] = asyncio.Queue(BACKLOG)

    def heard(news: LiveNews) -> None:
        # Not what the person did themselves: the page they did it on shows it already.
        if news.kind == "person" and news.user_id == who.user_id and news.by != who.user_id:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(news)

    stop = node.live.listen(heard)
    app[STREAMS].add(queue)
    try:
        response = _stream()
        await response.prepare(request)
        await response.write(_event("hello", {"now": iso(clock.now())}))
        while not queue.full():
            try:
                item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if item is _END:
                break
            await response.write(
                _event(
                    "chat",
                    {
                        "chat_id": item.chat_id,
                        "state": item.value,
                        "with": item.detail,
                        "at": iso(from_ms(item.at_ms)),
                    },
                )
            )
        return response
    except ConnectionResetError:
        return web.Response(status=204)
    finally:
        stop()
        app[STREAMS].discard(queue)


def _stream() -> web.StreamResponse:
    return web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx and the like: do not buffer the stream
        }
    )


async def end_streams(app: web.Application) -> None:
    """on_shutdown: every open board stream ends (the browser reconnects to another node)."""
    streams: set[asyncio.Queue[Any]] = app[STREAMS]
    for queue in list(streams):
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(_END)


@routes.post(f"/api/v1/chats/{CHAT_ID}/support")
async def post_support(request: web.Request) -> web.Response:
    """Ask the organizer for help from a call: stored before the answer, then on every board."""
    who = principal(request, Role.EMPLOYEE, Role.PARTICIPANT)
    data = await SUPPORT_INPUT.read(request)
    text = " ".join(data.text.split())
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        if chat.state != ChatState.CONFIRMED:
            raise Problem(
                409,
                "not_live",
                "Support can be asked from a booked chat only; this one is "
                f"{chat.state.value.replace('_', ' ')}.",
            )
        # One open request a minute per person: the button is pressed again in a hurry, and
        # every press would be a row and a line on every board.
        last = await latest_open(conn, chat.id, who.user_id)
        if last is not None and now - last.created_at < SUPPORT_AGAIN_AFTER:
            wait = max(
                1, math.ceil((SUPPORT_AGAIN_AFTER - (now - last.created_at)).total_seconds())
            )
            raise Problem(
                429,
                "support_pending",
                "The organizer already has your request and will answer in the chat; you can "
                f"ask again in {wait} seconds.",
                headers=CIMultiDict({"Retry-After": str(wait)}),
                retry_after_s=wait,
            )
        found = await raise_request(conn, chat.id, who.user_id, text, now)
        side: SideName = "employee" if who.user_id == chat.employee_id else "participant"
        asked = SupportPayload(
            chat_id=chat.id,
            event_id=chat.event_id,
            request_id=found.id,
            user_id=who.user_id,
            side=side,
            message=text,
            at=now,
        )
        await record(conn, EventType.SUPPORT_REQUESTED, chat.id, asked, now=now)
    # Boards hear of it once it is committed (inside web/idempotency.py's transaction).
    await after_commit(partial(request.app[NODE].tell_chat, chat.id, "support"))
    return json_response(_request_json(found.id, chat.id, who.user_id, text, now, None), 201)


@routes.post(f"/api/v1/chats/{CHAT_ID}/support/answer")
async def post_support_answer(request: web.Request) -> web.Response:
    """The organizer's answer: a Support message in the chat's log, shown to both people."""
    who = principal(request, Role.ORGANIZER)
    data = await SUPPORT_ANSWER.read(request)
    app = request.app
    now = app[CLOCK].now()
    async with read_tx(app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
    # Stored before anyone is told (and before the answer): a retry with the same
    # Idempotency-Key is replayed by web/idempotency.py without storing it twice.
    client_msg_id = f"support-{uuid.uuid4().hex}"
    stored = await chatlog.append(
        app[ENGINE], chat.id, SUPPORT_SENDER, client_msg_id, data.text, now
    )
    async with write_tx(app[ENGINE]) as conn:
        await mark_answered(conn, chat.id, who.user_id, now)
    node = app[NODE]

    async def tell() -> None:  # once committed: nobody sees an answer that may roll back
        if not stored.duplicate:
            await node.chat.announce(chat.id, (chat.employee_id, chat.participant_id), stored)
        await node.tell_chat(chat.id, "support")

    await after_commit(tell)
    return json_response(
        {
            "seq": stored.seq,
            "client_msg_id": stored.client_msg_id,
            "sender_id": stored.sender_id,
            "text": stored.text,
            "sent_at": iso(stored.sent_at),
        },
        201,
    )


def _request_json(
    request_id: str,
    chat_id: str,
    user_id: str,
    text: str,
    created_at: datetime,
    answered_at: datetime | None,
) -> dict[str, Any]:
    return {
        "id": request_id,
        "chat_id": chat_id,
        "user_id": user_id,
        "text": text,
        "created_at": iso(created_at),
        "answered_at": None if answered_at is None else iso(answered_at),
    }
