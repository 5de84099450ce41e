"""Chat requests: create, list per tab, move through the state machine, export to a calendar."""

from __future__ import annotations

from functools import partial

from aiohttp import web

from scheduling.db import after_commit, read_tx, write_tx
from scheduling.model import Role, Side
from scheduling.states import Action, Tab
from scheduling.store_chats import Actor, act, create_request, history, list_chats, require_chat
from scheduling.store_events import EventRecord, ensure_user, get_user, require_event
from web.auth import principal
from web.ics import chat_calendar
from web.json_io import field, iso, json_response, read_json
from web.keys import CHAT_CHANGED, CLOCK, ENGINE
from web.problems import Problem
from web.views import chat_json, history_json, user_json

routes = web.RouteTableDef()

CHAT_ID = "{chat_id:[0-9a-f]{32}}"
_ACTIONS = {
    a.value: a
    for a in (
        Action.APPROVE,
        Action.DECLINE,
        Action.WITHDRAW,
        Action.BOOK,
        Action.RESCHEDULE,
        Action.CANCEL,
    )
}


@routes.post("/api/v1/events/{event_id}/chats")
async def post_chat(request: web.Request) -> web.Response:
    """A participant requests a chat with an employee, or an employee invites a participant."""
    who = principal(request, Role.PARTICIPANT, Role.EMPLOYEE)
    data = await read_json(request)
    now = request.app[CLOCK].now()
    if who.role == Role.PARTICIPANT:
        employee_id, participant_id, initiator = (
            field(data, "employee_id", str),
            who.user_id,
            Side.PARTICIPANT,
        )
    else:
        employee_id, participant_id, initiator = (
            who.user_id,
            field(data, "participant_id", str),
            Side.EMPLOYEE,
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
            message=field(data, "message", str, required=False, default=""),
            answer=field(data, "answer", str, required=False, default=""),
            now=now,
        )
    return json_response(chat_json(chat, event, who, now), status=201)


@routes.get("/api/v1/chats")
async def get_chats(request: web.Request) -> web.Response:
    """The caller's chats, optionally one tab (requested, in_scheduling, confirmed, completed, history)."""
    who = principal(request)
    tab_name = request.query.get("tab")
    try:
        tab = Tab(tab_name) if tab_name else None
    except ValueError as exc:
        raise Problem(
            422, "invalid", f"tab must be one of {', '.join(t.value for t in Tab)}.", field="tab"
        ) from exc
    now = request.app[CLOCK].now()
    events: dict[str, EventRecord] = {}
    async with read_tx(request.app[ENGINE]) as conn:
        found = await list_chats(conn, who.user_id, who.role, request.query.get("event_id"), tab)
        for chat in found:
            if chat.event_id not in events:
                events[chat.event_id] = await require_event(conn, chat.event_id)
    return json_response(
        {"now": iso(now), "chats": [chat_json(c, events[c.event_id], who, now) for c in found]}
    )


@routes.get(f"/api/v1/chats/{CHAT_ID}")
async def get_chat(request: web.Request) -> web.Response:
    who = principal(request)
    now = request.app[CLOCK].now()
    async with read_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        event = await require_event(conn, chat.event_id)
    return json_response(chat_json(chat, event, who, now))


@routes.post(f"/api/v1/chats/{CHAT_ID}/{{action:[a-z_]+}}")
async def post_action(request: web.Request) -> web.Response:
    """approve, decline {message}, withdraw, book {slot_id}, reschedule {slot_id}, cancel {reason}."""
    who = principal(request, Role.EMPLOYEE, Role.PARTICIPANT)
    action = _ACTIONS.get(request.match_info["action"])
    if action is None:
        raise Problem(
            404, "http_404", f"There is no action '{request.match_info['action']}' on a chat."
        )
    data = await read_json(request)
    text = field(data, "message", str, required=False, default="") or field(
        data, "reason", str, required=False, default=""
    )
    slot_id = field(data, "slot_id", int, required=action in (Action.BOOK, Action.RESCHEDULE))
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        side = chat.side_of(who.user_id)
        assert side is not None
        await ensure_user(conn, who.as_user())
        chat = await act(
            conn, chat, action, Actor(who.user_id, side), now, text=text, slot_id=slot_id
        )
        event = await require_event(conn, chat.event_id)
    on_change = request.app.get(CHAT_CHANGED)
    if on_change is not None:
        # Rooms close for a cancel or a move only once it is committed (web/idempotency.py).
        await after_commit(partial(on_change, chat))
    return json_response(chat_json(chat, event, who, now))


@routes.get(f"/api/v1/chats/{CHAT_ID}/history")
async def get_history(request: web.Request) -> web.Response:
    who = principal(request)
    async with read_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        entries = await history(conn, chat.id)
    return json_response({"chat_id": chat.id, "history": [history_json(h) for h in entries]})


@routes.get(f"/api/v1/chats/{CHAT_ID}.ics")
async def get_ics(request: web.Request) -> web.Response:
    who = principal(request)
    now = request.app[CLOCK].now()
    async with read_tx(request.app[ENGINE]) as conn:
        chat = await require_chat(conn, request.match_info["chat_id"], who.user_id, who.role)
        event = await require_event(conn, chat.event_id)
    if chat.starts_at is None:
        raise Problem(
            409,
            "wrong_state",
            "This chat has no time yet, so there is nothing to put in a calendar.",
        )
    body = chat_calendar(chat, event, f"{request.scheme}://{request.host}", now)
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
    data = (
        user_json(stored)
        if stored
        else {
            "id": who.user_id,
            "name": who.name,
            "role": who.role.value,
            "company_id": who.company_id,
            "headline": "",
        }
    )
    return json_response(data | {"now": iso(request.app[CLOCK].now())})


@routes.get("/api/v1/me/schedule")
async def get_schedule(request: web.Request) -> web.Response:
    """My Schedule: confirmed chats in time order, then completed ones."""
    who = principal(request)
    now = request.app[CLOCK].now()
    events: dict[str, EventRecord] = {}
    async with read_tx(request.app[ENGINE]) as conn:
        found = await list_chats(
            conn, who.user_id, who.role, request.query.get("event_id"), Tab.CONFIRMED
        )
        for chat in found:
            if chat.event_id not in events:
                events[chat.event_id] = await require_event(conn, chat.event_id)
    return json_response(
        {"now": iso(now), "chats": [chat_json(c, events[c.event_id], who, now) for c in found]}
    )
