"""Chat requests: create, list per tab, move through the state machine, export to a calendar."""

from __future__ import annotations

from functools import partial
from typing import Any

from aiohttp import web
from msgspec import UNSET
from sqlalchemy.ext.asyncio import AsyncConnection

from notifications.ics import chat_calendar
from scheduling.db import after_commit, read_tx, write_tx
from scheduling.model import Role
from scheduling.roles import chat_parties
from scheduling.states import Action, Tab
from scheduling.store_chats import (
    Actor,
    ChatRecord,
    act,
    create_request,
    history,
    list_chats,
    require_chat,
)
from scheduling.store_events import EventRecord, ensure_user, get_user, join_terms, require_event
from scheduling.store_mail import emails_of
from scheduling.store_resumes import resume_holders
from scheduling.store_users import get_time_zone
from web import request_bodies as rb
from web import resources as r
from web.auth import Principal, principal
from web.json_io import Body, json_response, read_query
from web.keys import CHAT_CHANGED, CLOCK, ENGINE
from web.problems import Problem
from web.views import chat_view, history_view

routes = web.RouteTableDef()

CHAT_ID = "{chat_id:[0-9a-f]{32}}"
CHAT_REQUEST = Body(rb.ChatRequest)
# The actions people take through the API, each with its body; the route matches only these,
# so any other name under a chat is another route's (or 404/405 with Allow).
_ACTIONS: dict[str, tuple[Action, Body[Any]]] = {
    Action.APPROVE.value: (Action.APPROVE, Body(rb.NoBody)),
    Action.DECLINE.value: (Action.DECLINE, Body(rb.Decline)),
    Action.WITHDRAW.value: (Action.WITHDRAW, Body(rb.NoBody)),
    Action.BOOK.value: (Action.BOOK, Body(rb.SlotChoice)),
    Action.RESCHEDULE.value: (Action.RESCHEDULE, Body(rb.SlotChoice)),
    Action.CANCEL.value: (Action.CANCEL, Body(rb.Cancel)),
}


@routes.post("/api/v1/events/{event_id}/chats")
async def post_chat(request: web.Request) -> web.Response:
    """A participant requests a chat with an employee, or an employee invites a participant."""
    who = principal(request, Role.PARTICIPANT, Role.EMPLOYEE)
    data = await CHAT_REQUEST.read(request)
    now = request.app[CLOCK].now()
    employee_id, participant_id, initiator = chat_parties(
        who.role,
        who.user_id,
        None if data.employee_id is UNSET else data.employee_id,
        None if data.participant_id is UNSET else data.participant_id,
    )
    async with write_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        await ensure_user(conn, who.as_user())
        chat = await create_request(
            conn,
            event,
            employee_id=employee_id,
            participant_id=participant_id,
            initiator=initiator,
            message=data.message,
            answer=data.answer,
            now=now,
        )
    on_change = request.app.get(CHAT_CHANGED)
    if on_change is not None:  # the other person's open pages show the new request
        await after_commit(partial(on_change, chat))
    return json_response(chat_view(chat, event, who, now), status=201)


@routes.get("/api/v1/chats")
async def get_chats(request: web.Request) -> web.Response:
    """The caller's chats, optionally one tab (requested, in_scheduling, confirmed, completed, history)."""
    who = principal(request)
    query = read_query(request, rb.ChatsQuery)
    event_id = None if query.event_id is UNSET else query.event_id
    tab = None if query.tab is UNSET else query.tab
    now = request.app[CLOCK].now()
    events: dict[str, EventRecord] = {}
    async with read_tx(request.app[ENGINE]) as conn:
        found = await list_chats(conn, who.user_id, who.role, event_id, tab)
        for chat in found:
            if chat.event_id not in events:
                events[chat.event_id] = await require_event(conn, chat.event_id)
        shared = await _resumes(conn, who, found)
    return json_response(
        r.ChatList(now, [chat_view(c, events[c.event_id], who, now, shared) for c in found])
    )


async def _resumes(conn: AsyncConnection, who: Principal, found: list[ChatRecord]) -> set[str]:
    """The chats' participants with a résumé, when an employee asks (others get no link)."""
    if who.role != Role.EMPLOYEE:
        return set()
    return await resume_holders(conn, (c.participant_id for c in found))


@routes.get(f"/api/v1/chats/{CHAT_ID}")
async def get_chat(request: web.Request) -> web.Response:
    who = principal(request)
    now = request.app[CLOCK].now()
    async with read_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        event = await require_event(conn, chat.event_id)
        shared = await _resumes(conn, who, [chat])
    return json_response(chat_view(chat, event, who, now, shared))


@routes.post(f"/api/v1/chats/{CHAT_ID}/{{action:{'|'.join(_ACTIONS)}}}")
async def post_action(request: web.Request) -> web.Response:
    """approve, decline {message}, withdraw, book {slot_id}, reschedule {slot_id}, cancel {reason}."""
    who = principal(request, Role.EMPLOYEE, Role.PARTICIPANT)
    action, body = _ACTIONS[request.match_info["action"]]
    data = await body.read(request)
    text = getattr(data, "message", "") or getattr(data, "reason", "")
    slot_id: int | None = getattr(data, "slot_id", None)
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        side = chat.side_of(who.user_id)
        assert side is not None
        await ensure_user(conn, who.as_user())
        chat = await act(
            conn, chat, action, Actor(who.user_id, side), now, text=text, slot_id=slot_id
        )
        terms = await join_terms(conn, chat.event_id)  # the view's join window: one row
        shared = await _resumes(conn, who, [chat])
    on_change = request.app.get(CHAT_CHANGED)
    if on_change is not None:
        # Rooms close for a cancel or a move only once it is committed (web/idempotency.py).
        await after_commit(partial(on_change, chat))
    return json_response(chat_view(chat, terms, who, now, shared))


@routes.get(f"/api/v1/chats/{CHAT_ID}/history")
async def get_history(request: web.Request) -> web.Response:
    who = principal(request)
    async with read_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        entries = await history(conn, chat.id)
    return json_response(r.History(chat.id, [history_view(h) for h in entries]))


@routes.get(f"/api/v1/chats/{CHAT_ID}.ics")
async def get_ics(request: web.Request) -> web.Response:
    who = principal(request)
    now = request.app[CLOCK].now()
    async with read_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        event = await require_event(conn, chat.event_id)
        emails = await emails_of(conn, (chat.employee_id, chat.participant_id))
    if chat.starts_at is None:
        raise Problem(
            409,
            "wrong_state",
            "This chat has no time yet, so there is nothing to put in a calendar.",
        )
    # The same addresses as the invitation mails, so a calendar matches the two up.
    body = chat_calendar(chat, event, f"{request.scheme}://{request.host}", now, emails)
    return web.Response(
        body=body,
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="duet-chat-{chat.id}.ics"'},
    )


@routes.get("/api/v1/me")
async def get_me(request: web.Request) -> web.Response:
    who = principal(request)
    async with read_tx(request.app[ENGINE]) as conn:
        stored = await get_user(conn, who.user_id)
        zone = await get_time_zone(conn, who.user_id)
    user = stored or who.as_user()  # known from the token before the first write
    now = request.app[CLOCK].now()
    return json_response(
        r.Me(user.id, user.name, user.role, user.company_id, user.headline, now, zone)
    )


@routes.get("/api/v1/me/schedule")
async def get_schedule(request: web.Request) -> web.Response:
    """My Schedule: confirmed chats in time order, then completed ones."""
    who = principal(request)
    event_id = read_query(request, rb.ScheduleQuery).event_id
    now = request.app[CLOCK].now()
    events: dict[str, EventRecord] = {}
    async with read_tx(request.app[ENGINE]) as conn:
        found = await list_chats(
            conn, who.user_id, who.role, None if event_id is UNSET else event_id, Tab.CONFIRMED
        )
        for chat in found:
            if chat.event_id not in events:
                events[chat.event_id] = await require_event(conn, chat.event_id)
    return json_response(
        r.ChatList(now, [chat_view(c, events[c.event_id], who, now) for c in found])
    )
