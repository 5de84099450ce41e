"""A person's own settings: the time zone their pages show times in."""

from __future__ import annotations

from aiohttp import web

from scheduling.db import read_tx, write_tx
from scheduling.store_events import ensure_user
from scheduling.store_users import get_time_zone, set_time_zone
from web import request_bodies as rb
from web.auth import principal
from web.json_io import Body, json_response
from web.keys import ENGINE

routes = web.RouteTableDef()

TIME_ZONE = Body(rb.TimeZoneSetting)


@routes.get("/api/v1/me/time-zone")
async def get_my_time_zone(request: web.Request) -> web.Response:
    who = principal(request)
    async with read_tx(request.app[ENGINE]) as conn:
        zone = await get_time_zone(conn, who.user_id)
    return json_response(rb.TimeZoneSetting(zone))  # type: ignore[arg-type]


@routes.put("/api/v1/me/time-zone")
async def put_my_time_zone(request: web.Request) -> web.Response:
    """Choose a zone to read times in, or null to follow the browser's again."""
    who = principal(request)
    data = await TIME_ZONE.read(request)
    zone = None if data.time_zone is None else str(data.time_zone)
    async with write_tx(request.app[ENGINE]) as conn:
        await ensure_user(conn, who.as_user())
        await set_time_zone(conn, who.user_id, zone)
    return json_response(rb.TimeZoneSetting(zone))  # type: ignore[arg-type]
