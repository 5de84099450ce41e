"""The employee's availability API, and what participants browse: offers and free slots."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from msgspec import UNSET

from scheduling.db import read_tx, write_tx
from scheduling.model import DayChoice, Profile, Role
from scheduling.quota import slots_figure
from scheduling.roles import quota_company
from scheduling.slots import slot_grid
from scheduling.store_availability import (
    free_slots,
    get_availability,
    list_offers,
    publish,
    save_draft,
)
from scheduling.store_events import (
    company_names,
    ensure_user,
    list_users,
    published_count,
    require_event,
)
from web import request_bodies as rb
from web import resources as r
from web.auth import Principal, principal
from web.json_io import Body, json_response, read_query
from web.keys import CLOCK, ENGINE
from web.problems import Problem
from web.views import availability_view, offer_view, slot_view, user_view

routes = web.RouteTableDef()

AVAILABILITY = Body(rb.AvailabilityInput)


def _company(who: Principal) -> str:
    assert who.company_id is not None  # verify_token guarantees it for employees
    return who.company_id


def _choice(day: rb.DayChoice) -> DayChoice:
    return DayChoice(day.date, day.duration_min, day.slots)


def _profile(p: rb.Profile | None) -> Profile | None:
    if p is None:
        return None
    return Profile(
        p.background, p.experience_level, tuple(p.languages), tuple(p.topics), p.custom_question
    )


async def _figure(conn: Any, event_id: str, company_id: str, quota: int | None) -> dict[str, int]:
    used = await published_count(conn, event_id, company_id)
    return slots_figure(quota or 0, used)


@routes.get("/api/v1/events/{event_id}/availability")
async def get_my_availability(request: web.Request) -> web.Response:
    who = principal(request, Role.EMPLOYEE)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        record = await get_availability(conn, event.id, who.user_id, _company(who))
        figure = await _figure(conn, event.id, _company(who), event.quotas.get(_company(who)))
    return json_response(availability_view(record, figure))


@routes.put("/api/v1/events/{event_id}/availability")
async def put_my_availability(request: web.Request) -> web.Response:
    """Save a draft edit: durations per day, slots (or "all"), and the optional profile."""
    who = principal(request, Role.EMPLOYEE)
    data = await AVAILABILITY.read(request)
    choices = [_choice(d) for d in data.days]
    profile = _profile(data.profile)
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        await ensure_user(conn, who.as_user())
        record = await save_draft(conn, event, who.user_id, _company(who), choices, profile, now)
        figure = await _figure(conn, event.id, _company(who), event.quotas.get(_company(who)))
    return json_response(availability_view(record, figure))


@routes.post("/api/v1/events/{event_id}/availability/confirm")
async def confirm_availability(request: web.Request) -> web.Response:
    """ "Confirm Availability": publish pending slots within the company's quota."""
    who = principal(request, Role.EMPLOYEE)
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        await ensure_user(conn, who.as_user())
        record = await publish(conn, event, who.user_id, _company(who), now)
        figure = await _figure(conn, event.id, _company(who), event.quotas.get(_company(who)))
    return json_response(availability_view(record, figure))


@routes.get("/api/v1/events/{event_id}/grid")
async def get_grid(request: web.Request) -> web.Response:
    """The slots a day offers at one duration, for the employee's slot picker."""
    principal(request)
    query = read_query(request, rb.GridQuery)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
    try:
        grid = slot_grid(event.day(query.date), event.tz, query.duration_min)
    except ValueError as exc:
        raise Problem(422, "invalid", str(exc), field="duration_min") from exc
    return json_response(
        r.Grid(query.date, query.duration_min, [r.Interval(s.starts_at, s.ends_at) for s in grid])
    )


@routes.get("/api/v1/events/{event_id}/quota")
async def get_quota(request: web.Request) -> web.Response:
    """The "N of M slots available" figure of the caller's company (or ?company_id= for organizers)."""
    who = principal(request, Role.EMPLOYEE, Role.ORGANIZER)
    named = read_query(request, rb.QuotaQuery).company_id
    company_id = quota_company(who.role, who.company_id, None if named is UNSET else named)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        figure = await _figure(conn, event.id, company_id, event.quotas.get(company_id))
    return json_response(r.CompanySlots(company_id=company_id, **figure))


@routes.get("/api/v1/events/{event_id}/offers")
async def get_offers(request: web.Request) -> web.Response:
    """Employees offering 1-1 chats, with their profiles: what participants browse."""
    principal(request)
    now = request.app[CLOCK].now()
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        offers = await list_offers(conn, event.id, now)
        names = await company_names(conn)
    return json_response(r.OfferList([offer_view(o, names) for o in offers]))


@routes.get("/api/v1/events/{event_id}/employees/{employee_id}/slots")
async def get_free_slots(request: web.Request) -> web.Response:
    principal(request)
    now = request.app[CLOCK].now()
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        found = await free_slots(conn, event.id, request.match_info["employee_id"], now)
    return json_response(r.SlotList([slot_view(s) for s in found]))


@routes.get("/api/v1/events/{event_id}/participants")
async def get_participants(request: web.Request) -> web.Response:
    """Participants an employee may invite (where the event allows employee requests)."""
    principal(request, Role.EMPLOYEE, Role.ORGANIZER)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        people = await list_users(conn, Role.PARTICIPANT)
    return json_response(r.ParticipantList(event.id, [user_view(u) for u in people]))
