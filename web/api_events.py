"""The organizer's API: events, their days and durations, and companies' 1-1 slot quotas."""

from __future__ import annotations

import uuid
from typing import Any

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
from web.auth import principal
from web.json_io import field, json_response, parse_date, parse_time, read_json
from web.keys import CLOCK, ENGINE
from web.problems import Problem
from web.views import event_json

routes = web.RouteTableDef()


def _days(raw: list[Any]) -> list[EventDay]:
    days = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise Problem(
                422,
                "invalid",
                f"days[{i}] must be an object with date, start, end, durations.",
                field="days",
            )
        durations = item.get("durations")
        if not isinstance(durations, list) or not all(
            isinstance(m, int) and not isinstance(m, bool) for m in durations
        ):
            raise Problem(
                422,
                "invalid",
                f"days[{i}].durations must be a list of minutes, e.g. [15, 30].",
                field="days",
            )
        days.append(
            EventDay(
                parse_date(item.get("date"), f"days[{i}].date"),
                parse_time(item.get("start"), f"days[{i}].start"),
                parse_time(item.get("end"), f"days[{i}].end"),
                tuple(durations),
            )
        )
    return days


def _quotas(raw: list[Any]) -> dict[str, int]:
    quotas: dict[str, int] = {}
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("company_id"), str):
            raise Problem(
                422, "invalid", f"quotas[{i}] must be {{company_id, slot_quota}}.", field="quotas"
            )
        quotas[item["company_id"]] = field(item, "slot_quota", int)
    return quotas


async def _save(request: web.Request, event_id: str, creating: bool) -> web.Response:
    who = principal(request, Role.ORGANIZER)
    data = await read_json(request)
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        if not creating:
            await require_event(conn, event_id)
        await ensure_user(conn, who.as_user())
        event = await save_event(
            conn,
            event_id=event_id,
            name=field(data, "name", str),
            timezone=field(data, "timezone", str),
            days=_days(field(data, "days", list)),
            quotas=_quotas(field(data, "quotas", list, required=False, default=[])),
            employee_requests_allowed=field(
                data, "employee_requests_allowed", bool, required=False, default=True
            ),
            join_policy=JoinPolicy(
                field(data, "join_opens_before_s", int, required=False, default=300),
                field(data, "join_grace_after_s", int, required=False, default=120),
            ),
            support_url=_support_url(field(data, "support_url", str, required=False, default="")),
            media_mode=field(data, "media_mode", str, required=False, default="p2p"),
            created_by=who.user_id,
            now=now,
        )
        names = await company_names(conn)
    return json_response(event_json(event, names), status=201 if creating else 200)


def _support_url(url: str) -> str:
    if url and not url.startswith(("https://", "http://")):
        raise Problem(
            422,
            "invalid",
            "The support link must start with https:// or http://.",
            field="support_url",
        )
    return url


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
    return json_response({"events": [event_json(e, names) for e in events]})


@routes.get("/api/v1/events/{event_id}")
async def get_event(request: web.Request) -> web.Response:
    principal(request)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        names = await company_names(conn)
    return json_response(event_json(event, names))


@routes.put("/api/v1/events/{event_id}/quotas/{company_id}")
async def put_quota(request: web.Request) -> web.Response:
    principal(request, Role.ORGANIZER)
    data = await read_json(request)
    quota = field(data, "slot_quota", int)
    if quota < 0 or quota > 10_000:
        raise Problem(422, "invalid", "A quota is 0 to 10000 slots.", field="slot_quota")
    async with write_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        await set_quota(conn, event.id, request.match_info["company_id"], quota)
        event = await require_event(conn, event.id)
        names = await company_names(conn)
    return json_response(event_json(event, names))
