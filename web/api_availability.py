"""The employee's availability API, and what participants browse: offers and free slots."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from scheduling.db import read_tx, write_tx
from scheduling.model import DayChoice, Profile, Role
from scheduling.quota import slots_figure
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
from web.auth import Principal, principal
from web.json_io import field, iso, json_response, parse_date, parse_instant, read_json
from web.keys import CLOCK, ENGINE
from web.problems import Problem
from web.views import availability_json, offer_json, slot_json, user_json

routes = web.RouteTableDef()


def _company(who: Principal) -> str:
    assert who.company_id is not None  # verify_token guarantees it for employees
    return who.company_id


def _choices(raw: list[Any]) -> list[DayChoice]:
    choices = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise Problem(422, "invalid", f"days[{i}] must be an object.", field="days")
        selected = item.get("slots", [])
        if selected == "all":
            starts: list[Any] | str = "all"
        elif isinstance(selected, list):
            starts = [parse_instant(s, f"days[{i}].slots") for s in selected]
        else:
            raise Problem(
                422, "invalid", f'days[{i}].slots is a list of start times or "all".', field="slots"
            )
        choices.append(
            DayChoice(
                parse_date(item.get("date"), f"days[{i}].date"),
                field(item, "duration_min", int),
                starts,
            )  # type: ignore[arg-type]
        )
    return choices


def _profile(raw: dict[str, Any] | None) -> Profile | None:
    if raw is None:
        return None
    return Profile(
        background=field(raw, "background", str, required=False, default=""),
        experience_level=field(raw, "experience_level", str, required=False, default=""),
        languages=tuple(field(raw, "languages", list, required=False, default=[])),
        topics=tuple(field(raw, "topics", list, required=False, default=[])),
        custom_question=field(raw, "custom_question", str, required=False, default=""),
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
    return json_response(availability_json(record) | {"company_slots": figure})


@routes.put("/api/v1/events/{event_id}/availability")
async def put_my_availability(request: web.Request) -> web.Response:
    """Save a draft edit: durations per day, slots (or "all"), and the optional profile."""
    who = principal(request, Role.EMPLOYEE)
    data = await read_json(request)
    choices = _choices(field(data, "days", list, required=False, default=[]))
    profile = _profile(field(data, "profile", dict, required=False))
    now = request.app[CLOCK].now()
    async with write_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        await ensure_user(conn, who.as_user())
        record = await save_draft(conn, event, who.user_id, _company(who), choices, profile, now)
        figure = await _figure(conn, event.id, _company(who), event.quotas.get(_company(who)))
    return json_response(availability_json(record) | {"company_slots": figure})


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
    return json_response(availability_json(record) | {"company_slots": figure})


@routes.get("/api/v1/events/{event_id}/grid")
async def get_grid(request: web.Request) -> web.Response:
    """The slots a day offers at one duration, for the employee's slot picker."""
    principal(request)
    day = parse_date(request.query.get("date"), "date")
    try:
        duration = int(request.query.get("duration_min", ""))
    except ValueError as exc:
        raise Problem(
            422, "invalid", "duration_min must be a whole number of minutes.", field="duration_min"
        ) from exc
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
    try:
        grid = slot_grid(event.day(day), event.tz, duration)
    except ValueError as exc:
        raise Problem(422, "invalid", str(exc), field="duration_min") from exc
    return json_response(
        {
            "date": day.isoformat(),
            "duration_min": duration,
            "slots": [{"starts_at": iso(s.starts_at), "ends_at": iso(s.ends_at)} for s in grid],
        }
    )


@routes.get("/api/v1/events/{event_id}/quota")
async def get_quota(request: web.Request) -> web.Response:
    """The "N of M slots available" figure of the caller's company (or ?company_id= for organizers)."""
    who = principal(request, Role.EMPLOYEE, Role.ORGANIZER)
    company_id = (
        who.company_id if who.role == Role.EMPLOYEE else request.query.get("company_id", "")
    )
    if not company_id:
        raise Problem(422, "invalid", "Name the company with ?company_id=.", field="company_id")
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        figure = await _figure(conn, event.id, company_id, event.quotas.get(company_id))
    return json_response({"company_id": company_id} | figure)


@routes.get("/api/v1/events/{event_id}/offers")
async def get_offers(request: web.Request) -> web.Response:
    """Employees offering 1-1 chats, with their profiles: what participants browse."""
    principal(request)
    now = request.app[CLOCK].now()
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        offers = await list_offers(conn, event.id, now)
        names = await company_names(conn)
    return json_response({"offers": [offer_json(o, names) for o in offers]})


@routes.get("/api/v1/events/{event_id}/employees/{employee_id}/slots")
async def get_free_slots(request: web.Request) -> web.Response:
    principal(request)
    now = request.app[CLOCK].now()
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        found = await free_slots(conn, event.id, request.match_info["employee_id"], now)
    return json_response({"slots": [slot_json(s) for s in found]})


@routes.get("/api/v1/events/{event_id}/participants")
async def get_participants(request: web.Request) -> web.Response:
    """Participants an employee may invite (where the event allows employee requests)."""
    principal(request, Role.EMPLOYEE, Role.ORGANIZER)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        people = await list_users(conn, Role.PARTICIPANT)
    return json_response({"event_id": event.id, "participants": [user_json(u) for u in people]})
