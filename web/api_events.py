"""The organizer's API: events, their days and durations, and companies' 1-1 slot quotas."""

from __future__ import annotations

import uuid
from datetime import time

from aiohttp import web

from scheduling.db import read_tx, write_tx
from scheduling.model import EventDay, JoinPolicy, Role
from scheduling.store_events import (
    company_names,
    ensure_user,
    list_events,
    require_event,
    save_event,
    set_quota,
)
from web import request_bodies as rb
from web import resources as r
from web.auth import principal
from web.json_io import Body, json_response
from web.keys import CLOCK, ENGINE
from web.views import event_view

routes = web.RouteTableDef()

EVENT = Body(rb.EventInput)
SLOT_QUOTA = Body(rb.SlotQuota)


def _day(day: rb.EventDay) -> EventDay:
    """HH:MM is all the struct lets through, so the conversion cannot fail."""
    start_h, start_m = map(int, day.start.split(":"))
    end_h, end_m = map(int, day.end.split(":"))
    return EventDay(day.date, time(start_h, start_m), time(end_h, end_m), tuple(day.durations))


async def _save(request: web.Request, event_id: str, creating: bool) -> web.Response:
    who = principal(request, Role.ORGANIZER)
    data = await EVENT.read(request)
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        if not creating:
            await require_event(conn, event_id)
        await ensure_user(conn, who.as_user())
        event = await save_event(
            conn,
            event_id=event_id,
            name=data.name,
            timezone=data.timezone.value,
            days=[_day(d) for d in data.days],
            quotas={q.company_id: q.slot_quota for q in data.quotas},
            employee_requests_allowed=data.employee_requests_allowed,
            join_policy=JoinPolicy(data.join_opens_before_s, data.join_grace_after_s),
            support_url=data.support_url,
            media_mode=data.media_mode,
            min_gap_min=data.min_gap_min,
            created_by=who.user_id,
            now=now,
        )
        names = await company_names(conn)
    return json_response(event_view(event, names), status=201 if creating else 200)


@routes.post("/api/v1/events")
async def create_event(request: web.Request) -> web.Response:
    return await _save(request, uuid.uuid4().hex, creating=True)


@routes.put("/api/v1/events/{event_id}")
async def update_event(request: web.Request) -> web.Response:
    return await _save(request, request.match_info["event_id"], creating=False)


@routes.get("/api/v1/events")
async def get_events(request: web.Request) -> web.Response:
    principal(request)
    async with read_tx(request.app[ENGINE]) as conn:
        events = await list_events(conn)
        names = await company_names(conn)
    return json_response(r.EventList([event_view(e, names) for e in events]))


@routes.get("/api/v1/events/{event_id}")
async def get_event(request: web.Request) -> web.Response:
    principal(request)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        names = await company_names(conn)
    return json_response(event_view(event, names))


@routes.put("/api/v1/events/{event_id}/quotas/{company_id}")
async def put_quota(request: web.Request) -> web.Response:
    principal(request, Role.ORGANIZER)
    data = await SLOT_QUOTA.read(request)
    async with write_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        await set_quota(conn, event.id, request.match_info["company_id"], data.slot_quota)
        event = await require_event(conn, event.id)
        names = await company_names(conn)
    return json_response(event_view(event, names))
