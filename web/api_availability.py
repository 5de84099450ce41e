"""The employee's availability API, and what participants browse: offers and free slots."""

from __future__ import annotations

import hashlib
import logging
from functools import partial
from typing import Any

from aiohttp import web
from msgspec import UNSET

from rooms.broker import BrokerUnavailable
from scheduling.db import after_commit, point_read, read_tx, write_tx
from scheduling.model import DayChoice, Profile, Role
from scheduling.quota import slots_figure
from scheduling.roles import quota_company
from scheduling.slots import slot_grid
from scheduling.store_availability import (
    free_slot_rows,
    get_availability,
    list_offers,
    next_free_slot_start,
    publish,
    save_draft,
)
from scheduling.store_events import (
    company_names,
    ensure_user,
    join_terms,
    list_users,
    published_count,
    require_event,
)
from web import request_bodies as rb
from web import resources as r
from web.auth import Principal, principal
from web.json_io import Body, json_body, json_response, read_query
from web.keys import CLOCK, ENGINE, OFFERS, SLOTS
from web.offers_cache import Built
from web.offers_filter import check_day, facets, select
from web.problems import Problem
from web.views import availability_view, free_slot_view, offer_view, user_view

routes = web.RouteTableDef()
log = logging.getLogger("duet.web.offers")

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
    await after_commit(partial(free_slots_changed, request.app, event.id, who.user_id))
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
    await after_commit(partial(free_slots_changed, request.app, event.id, who.user_id))
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


async def free_slots_changed(app: web.Application, event_id: str, employee_id: str) -> None:
    """After a committed change to an employee's free slots (publish, edit, a slot taken or
    freed): every node builds the event's offers and that employee's slots again. With the
    broker unreachable only this node's copies go; the others' expire within MAX_AGE_S (they
    cannot validate theirs meanwhile either)."""
    for cache, key in ((app[OFFERS], event_id), (app[SLOTS], slots_key(event_id, employee_id))):
        try:
            await cache.invalidate(key)
        except BrokerUnavailable:
            log.warning("could not announce a change of event %s's free slots", event_id)


def slots_key(event_id: str, employee_id: str) -> str:
    """One employee's slots in the cache: the event id's length first, so no two (event,
    employee) pairs share a key whatever their ids hold."""
    return f"{len(event_id)}:{event_id}:{employee_id}"


@routes.get("/api/v1/events/{event_id}/offers")
async def get_offers(request: web.Request) -> web.Response:
    """Employees offering 1-1 chats, with their profiles: what participants browse.

    The whole list is the same for everyone signed in: cached per event (web/offers_cache.py),
    with an ETag, and 304 for a client that has the current list. A search, filters and a page
    (rb.OffersQuery) run over the cached list in memory, with an ETag of their own."""
    principal(request)
    engine, clock = request.app[ENGINE], request.app[CLOCK]
    event_id = request.match_info["event_id"]
    query = read_query(request, rb.OffersQuery) if request.query_string else None

    async def build() -> Built:
        now = clock.now()
        async with read_tx(engine) as conn:
            event = await require_event(conn, event_id)
            offers = await list_offers(conn, event.id, now)
            names = await company_names(conn)
            next_start = await next_free_slot_start(conn, event.id, now)
        views = [offer_view(o, names) for o in offers]
        everything = r.OfferList(views, len(views), 0, facets(views, [d.day for d in event.days]))
        return Built(json_body(everything), next_start, everything)

    try:
        entry = await request.app[OFFERS].get(event_id, build)
        body, everything, etag = entry.body, entry.items, entry.etag
    except BrokerUnavailable:
        built = await build()  # cannot validate a copy: answer from the database
        body, everything, etag = built.body, built.items, None
    if query is not None:
        assert everything.facets is not None  # build() always sets them
        check_day(query, everything.facets.days)
        if etag is not None:  # the list's version and the query: a tag of its own
            etag = f'{etag[:-1]}-{_digest(request.query_string)}"'
        if _not_modified(request, etag):
            return _not_modified_response(etag)
        body = json_body(select(everything.offers, query, everything.facets))
    return _cached_response(request, body, etag)


def _cached_response(request: web.Request, body: bytes, etag: str | None) -> web.Response:
    """A cached answer with its ETag (`private, no-cache`: revalidate every time), or 304 when
    the client holds it; without a tag (the broker is down) a plain answer."""
    if etag is None:
        return web.Response(body=body, content_type="application/json")
    if _not_modified(request, etag):
        return _not_modified_response(etag)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    return web.Response(body=body, content_type="application/json", headers=headers)


def _not_modified(request: web.Request, etag: str | None) -> bool:
    return etag is not None and etag in _etags(request.headers.get("If-None-Match", ""))


def _not_modified_response(etag: str | None) -> web.Response:
    assert etag is not None
    return web.Response(status=304, headers={"ETag": etag, "Cache-Control": "private, no-cache"})


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=6).hexdigest()


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compare equal, RFC 9110 13.1.2)."""
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


@routes.get("/api/v1/events/{event_id}/employees/{employee_id}/slots")
async def get_free_slots(request: web.Request) -> web.Response:
    """One employee's free slots: what a participant picks from.

    Cached per (event, employee) like the offers (web/offers_cache.py), with an ETag and 304;
    an entry goes when any node announces a change of that employee's free slots, and when its
    earliest slot starts."""
    principal(request)
    engine, clock = request.app[ENGINE], request.app[CLOCK]
    event_id, employee_id = request.match_info["event_id"], request.match_info["employee_id"]

    async def build() -> Built:
        now = clock.now()
        # Lookups by key, in place on SQLite (scheduling/db.py: point_read).
        async with point_read(engine) as conn:
            found = await free_slot_rows(conn, event_id, employee_id, now)
            if not found:  # a slot's event exists (foreign key): only now ask for a 404
                await join_terms(conn, event_id)
        body = json_body(r.SlotList([free_slot_view(*row) for row in found]))
        return Built(body, found[0][2] if found else None)  # their earliest start

    try:
        entry = await request.app[SLOTS].get(slots_key(event_id, employee_id), build)
        body, etag = entry.body, entry.etag
    except BrokerUnavailable:
        body, etag = (await build()).body, None  # cannot validate a copy: from the database
    return _cached_response(request, body, etag)


@routes.get("/api/v1/events/{event_id}/participants")
async def get_participants(request: web.Request) -> web.Response:
    """Participants an employee may invite (where the event allows employee requests)."""
    principal(request, Role.EMPLOYEE, Role.ORGANIZER)
    async with read_tx(request.app[ENGINE]) as conn:
        event = await require_event(conn, request.match_info["event_id"])
        people = await list_users(conn, Role.PARTICIPANT)
    return json_response(r.ParticipantList(event.id, [user_view(u) for u in people]))
